// GET, HEAD, OPTIONS and TRACE with a body: 400, connection closed, nothing
// forwarded. A lenient upstream that ignores a GET body reads it as the next
// request on the kept-alive connection, so a body here is a smuggled request.

import t from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream } from '../helpers/lenient-upstream.ts';
import { sendRaw } from '../helpers/raw-http.ts';
import { connect } from 'node:net';

t.test('a body on a bodiless method is refused and never reaches the upstream', async (t) => {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: {
      routes: [{ path: '/', upstream: up.origin }],
      policy: { default: 'none', rules: [{ id: 'no-admin', match: { path: '/admin/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  const host = `Host: localhost:${f.port}\r\nAccept: application/json\r\n`;
  const smuggled = `GET /admin/secret HTTP/1.1\r\nHost: x\r\nX-Gatehouse-User: root\r\n\r\n`;

  for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) {
    // No Connection: close from the client: the gateway must close it itself (sendRaw waits for the close).
    const cl = await sendRaw(f.port, `${method} /x HTTP/1.1\r\n${host}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
    t.equal(cl.status, 400, `${method} with Content-Length: 400`);
    t.match(cl.head, /\r\nconnection: close/i, `${method}: connection closed`);
    const chunked = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const te = await sendRaw(f.port, `${method} /x HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${chunked}`);
    t.equal(te.status, 400, `${method} with Transfer-Encoding: 400`);
  }
  t.equal(up.requests.length, 0, 'no request forwarded');
  t.equal(up.bytes(), '', 'not one byte reached the upstream');

  const empty = await sendRaw(f.port, `GET /x HTTP/1.1\r\n${host}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  t.equal(empty.status, 200, 'Content-Length: 0 is no body');
  t.equal(up.requests.length, 1);
  t.notOk(up.bytes().includes('/admin/secret'), 'the smuggled request never arrived');
  const post = await sendRaw(f.port, `POST /x HTTP/1.1\r\n${host}Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
  t.equal(post.status, 200, 'a POST body is fine');
  t.equal(up.requests.at(-1)?.body, 'hi');
});

t.test('a WebSocket upgrade with a body is refused too', async (t) => {
  const up = await startLenientUpstream(() => plainAnswer(200, 'OK', 'no'));
  t.teardown(() => up.close());
  const f = await startTestGateway({ upstream: false, config: { routes: [{ path: '/', upstream: up.origin, websocket: true }], policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const smuggled = 'GET /admin HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = await sendRaw(f.port, `GET /ws HTTP/1.1\r\nHost: localhost:${f.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
  t.equal(r.status, 400, 'refused');
  t.equal(up.bytes(), '', 'not one byte reached the upstream');
});

// The server hands over a request without Content-Length or Transfer-Encoding already ended
// (Node's optimizeEmptyRequests, src/http/server.ts): nothing may wait for its 'end' or 'close',
// which never come. One kept-alive connection carries such requests of every method, answered by
// the app and by the gateway itself, and stays usable past server.body_timeout.
t.test('requests without body headers go through on one kept-alive connection', async (t) => {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: {
      server: { body_timeout: '200ms' },
      routes: [{ path: '/', upstream: up.origin }],
      policy: { default: 'none', rules: [{ id: 'no-admin', match: { path: '/admin/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  const socket = connect({ host: '127.0.0.1', port: f.port });
  t.teardown(() => socket.destroy());
  let text = '';
  let closed = false;
  socket.setEncoding('latin1').on('data', (d: string) => { text += d; });
  socket.on('close', () => { closed = true; });
  socket.on('error', () => {});
  let answers = 0;
  /** Sends one request head and waits for its whole answer (every answer here has a Content-Length). */
  const exchange = async (method: string, target: string): Promise<string> => {
    const from = text.length;
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: localhost:${f.port}\r\nAccept: application/json\r\n\r\n`);
    for (;;) {
      const answer = text.slice(from);
      const end = answer.indexOf('\r\n\r\n');
      const length = method === 'HEAD' ? 0 : Number(/\r\ncontent-length: (\d+)/i.exec(answer)?.[1] ?? NaN);
      if (end !== -1 && answer.length >= end + 4 + length) { answers++; return answer; }
      if (closed) throw new Error(`connection closed before the answer to ${method} ${target}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  for (const method of ['GET', 'HEAD', 'DELETE', 'POST', 'PUT', 'OPTIONS']) {
    const a = await exchange(method, `/x-${method}`);
    t.match(a, /^HTTP\/1\.1 200 /, `${method} without body headers: the app's answer`);
  }
  t.match(await exchange('GET', '/admin/x'), /^HTTP\/1\.1 403 /, 'a request the gateway answers itself');
  await new Promise((r) => setTimeout(r, 500));   // past body_timeout: no discard timer may cut the connection
  t.match(await exchange('GET', '/after-the-wait'), /^HTTP\/1\.1 200 /, 'the connection is still served after body_timeout');
  t.equal(answers, 8, 'every request answered on the one connection');
  t.notOk(closed, 'the connection stayed open');
  t.same(up.requests.map((q) => `${q.method} ${q.target} [${q.body}]`),
    ['GET /x-GET []', 'HEAD /x-HEAD []', 'DELETE /x-DELETE []', 'POST /x-POST []', 'PUT /x-PUT []', 'OPTIONS /x-OPTIONS []', 'GET /after-the-wait []'],
    'the upstream got each request once, without a body');
});
