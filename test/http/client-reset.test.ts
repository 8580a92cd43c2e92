// A client that resets its connection right after sending a request: the
// request is still parsed and handled, and the socket's peer address, read
// first in the handler, was gone (every time, on loopback). Rules by network
// then saw no address at all: a request a rule denies to this network reached
// the app. The address is now read as the socket is accepted (http/server.ts),
// in one process and in each worker (server.workers).

import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';
import { plainAnswer, startLenientUpstream, type LenientUpstream } from '../helpers/lenient-upstream.ts';
import { sendRaw } from '../helpers/raw-http.ts';
import { startInstance, writeInstanceConfig, writeUsers } from '../scale/instances.ts';

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

const POLICY = { default: 'none', rules: [{ id: 'no-export-from-here', match: { path: '/export/**', networks: ['127.0.0.0/8'] }, require: 'deny' }] };

/**
 * 30 denied requests and 5 allowed ones, each followed by an RST: not one denied byte
 * reaches the app; with `allHandled` the allowed ones do (so the reset requests were
 * handled, not dropped: one process reads the socket as it is accepted).
 */
async function resetRequests(t: Test, port: number, up: LenientUpstream, o: { allHandled: boolean }): Promise<void> {
  const head = (method: string, target: string) => `${method} ${target} HTTP/1.1\r\nHost: localhost:${port}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n`;
  t.equal((await sendRaw(port, `GET /export/all HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`)).status, 403, 'denied to this network');
  for (let i = 0; i < 30; i++) await sendAndReset(port, head('POST', `/export/all?reset=${i}`));
  // Allowed, reset the same way: they reach the app, so the reset requests above were handled, not dropped.
  for (let i = 0; i < 5; i++) await sendAndReset(port, head('POST', `/reports?reset=${i}`));
  const allowed = () => up.requests.filter((r) => r.target.startsWith('/reports')).length;
  await eventually(() => allowed() === 5, o.allHandled ? 5_000 : 1_000);
  await sleep(200);
  if (o.allHandled) t.equal(allowed(), 5, 'the allowed requests were handled and forwarded');
  t.notOk(up.bytes().includes('/export'), 'not one denied request reached the upstream');
}

t.test('a request whose client resets at once is judged by the client\'s network all the same', async (t) => {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  t.teardown(() => up.close());
  const f = await startTestGateway({ upstream: false, config: { routes: [{ path: '/', upstream: up.origin }], policy: POLICY } });
  t.teardown(() => f.close());
  await resetRequests(t, f.port, up, { allHandled: true });
});

t.test('the same with two workers: a reset connection handed to a worker is judged with its address or closed', async (t) => {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reset-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = writeInstanceConfig(dir, 'gw', { port: 0, publicUrl: 'http://localhost:8080', usersPath: await writeUsers(dir), upstream: up.origin, policy: POLICY, workers: 2 });
  const gw = await startInstance('gw', config, 0);
  t.teardown(() => gw.stop());
  // The primary accepts and hands the socket to a worker; the RST often arrives first, and then
  // the worker cannot read the address: that connection is closed unserved.
  await resetRequests(t, gw.port, up, { allHandled: false });
  // The request log leaves in batches (every 20 ms): wait for the first line, then for the rest of its batch.
  const logged = () => gw.logs.filter((l) => l.msg === 'request' && /^\/(export|reports)/.test(String(l.path)));
  await eventually(() => logged().length >= 1);
  await sleep(300);
  const lines = logged();
  t.ok(lines.length >= 1, `the first request (not reset) was logged (${lines.length} lines)`);
  t.same(lines.filter((l) => l.ip !== '127.0.0.1'), [], 'every handled request was judged with the client address');
  t.same(lines.filter((l) => String(l.path).startsWith('/export') && l.decision !== 'deny'), [], 'and every /export one denied');
});
