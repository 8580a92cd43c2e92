// A client that resets its connection right after sending a request: the
// request is still parsed and handled, and the socket's peer address, read
// first in the handler, was gone (every time, on loopback). Rules by network
// then saw no address at all: a request a rule denies to this network reached
// the app. The address is now read as the socket is accepted (http/server.ts).

import { connect } from 'node:net';
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream } from '../helpers/lenient-upstream.ts';
import { sendRaw } from '../helpers/raw-http.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `request`, then resets the connection (RST) without reading the answer. */
function sendAndReset(port: number, request: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(request, () => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

t.test('a request whose client resets at once is judged by the client\'s network all the same', async (t) => {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: {
      routes: [{ path: '/', upstream: up.origin }],
      policy: { default: 'none', rules: [{ id: 'no-export-from-here', match: { path: '/export/**', networks: ['127.0.0.0/8'] }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  const head = (method: string, target: string) => `${method} ${target} HTTP/1.1\r\nHost: localhost:${f.port}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n`;

  t.equal((await sendRaw(f.port, `GET /export/all HTTP/1.1\r\nHost: localhost:${f.port}\r\nConnection: close\r\n\r\n`)).status, 403, 'denied to this network');
  for (let i = 0; i < 30; i++) await sendAndReset(f.port, head('POST', `/export/all?reset=${i}`));
  // Allowed, reset the same way: it reaches the app, so the reset requests above were handled, not dropped.
  for (let i = 0; i < 5; i++) await sendAndReset(f.port, head('POST', `/reports?reset=${i}`));
  const deadline = Date.now() + 5_000;
  while (up.requests.filter((r) => r.target.startsWith('/reports')).length < 5 && Date.now() < deadline) await sleep(20);
  await sleep(200);
  t.equal(up.requests.filter((r) => r.target.startsWith('/reports')).length, 5, 'the allowed requests were handled and forwarded');
  t.notOk(up.bytes().includes('/export'), 'not one denied request reached the upstream');
});
