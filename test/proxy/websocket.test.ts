// WebSocket upgrades through the real gateway to the demo portal's /ws echo:
// the handshake goes through the policy like any request, then frames flow
// both ways untouched.

import t from 'tap';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { startTestGateway as startGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';

/** The test gateway with its route's `websocket: true` (the default is false; see the last tests). */
async function startTestGateway(opts: Parameters<typeof startGateway>[0] = {}): Promise<GatewayFixture> {
  const f = await startGateway(opts);
  const cfg = f.gw.current().config;
  if (!(await f.gw.reload({ ...cfg, routes: cfg.routes.map((r) => ({ ...r, websocket: true })) }))) throw new Error('reload failed');
  return f;
}

type Outcome = { open: true; ws: WebSocket } | { open: false; status: number };

/** Opens a WebSocket; resolves with the socket, or the status the handshake was refused with. */
function openSocket(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: 15_000 });
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ open: false, status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, binary) => resolve({ data: Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), binary }));
    ws.once('error', reject);
  });
}

async function signedInCookie(f: GatewayFixture): Promise<string> {
  const c = new Client(f.url);
  const r = await c.signIn('alice', 'alice-test-pass');
  if (r.status !== 303) throw new Error(`sign-in failed: ${r.status}`);
  return c.cookieHeader();
}

t.test('echo through the gateway with a session', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const cookie = await signedInCookie(f);
  const wsUrl = `ws://localhost:${f.port}/ws`;
  const o = await openSocket(wsUrl, { cookie, 'X-Gatehouse-User': 'mallory', X_GATEHOUSE_GROUPS: 'root' });
  t.ok(o.open, 'handshake accepted');
  if (!o.open) return;
  const ws = o.ws;
  t.teardown(() => ws.terminate());

  const text = nextMessage(ws);
  ws.send('hello through the gateway');
  const m1 = await text;
  t.equal(m1.data.toString(), 'hello through the gateway');
  t.equal(m1.binary, false);

  // A big binary frame: the pipe is byte-exact both ways.
  const big = Buffer.alloc(1024 * 1024 + 7);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const bin = nextMessage(ws);
  ws.send(big);
  const m2 = await bin;
  t.equal(m2.binary, true);
  t.equal(createHash('sha256').update(m2.data).digest('hex'), createHash('sha256').update(big).digest('hex'), '1 MiB frame echoed intact');

  // Many small messages in order.
  const got: string[] = [];
  const all = new Promise<void>((resolve) => ws.on('message', (d) => { got.push(String(d)); if (got.length === 100) resolve(); }));
  for (let i = 0; i < 100; i++) ws.send(`m${i}`);
  await all;
  t.same(got, Array.from({ length: 100 }, (_, i) => `m${i}`));

  const hs = f.portal!.received.filter((r) => r.url === '/ws').at(-1)!;
  t.ok(hs, 'the portal saw the handshake');
  t.equal(hs.headers['x-gatehouse-user'], 'alice', 'identity injected on the handshake');
  t.equal(hs.headers['x-gatehouse-groups'], 'admins,finance', 'the spoofed groups did not survive');
  t.notOk(JSON.stringify(hs.rawHeaders).includes('mallory'));
  t.equal(hs.headers.cookie, undefined, 'the gateway cookie is not sent upstream (and nothing else was set)');
  t.equal(hs.headers['x-forwarded-for'], '127.0.0.1');

  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(1000, 'done');
  t.equal(await closed, 1000, 'clean close handshake through the pipe');
});

t.test('refused without a session when the policy requires login', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const before = f.portal!.received.length;
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.same(o, { open: false, status: 401 });
  const forged = await openSocket(`ws://localhost:${f.port}/ws`, { cookie: 'gatehouse=forged', 'X-Gatehouse-User': 'alice' });
  t.same(forged, { open: false, status: 401 }, 'a forged cookie and identity header change nothing');
  t.equal(f.portal!.received.length, before, 'the upstream never saw a handshake');
});

t.test('denied by a rule: 403', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [{ id: 'no-ws', match: { path: '/ws' }, require: 'deny' }] } } });
  t.teardown(() => f.close());
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.same(o, { open: false, status: 403 });
});

t.test('a case-insensitive route: a rule on /ws also holds for /WS', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [{ id: 'no-ws', match: { path: '/ws' }, require: 'deny' }] } } });
  t.teardown(() => f.close());
  const cfg = f.gw.current().config;
  t.ok(await f.gw.reload({ ...cfg, routes: [{ ...cfg.routes[0], case_insensitive: true }] }));
  const before = f.portal!.received.length;
  for (const path of ['/ws', '/WS', '/Ws', '/%57S']) {
    const o = await openSocket(`ws://localhost:${f.port}${path}`);
    t.same(o, { open: false, status: 403 }, `${path} denied like /ws`);
  }
  t.equal(f.portal!.received.length, before, 'no variant reached the upstream');
});

t.test('routes[].websocket: false refuses the upgrade', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const open = await openSocket(`ws://localhost:${f.port}/ws`);
  t.ok(open.open, 'allowed while the route allows websockets');
  if (open.open) open.ws.terminate();

  const cfg = f.gw.current().config;
  t.ok(await f.gw.reload({ ...cfg, routes: [{ ...cfg.routes[0], websocket: false }] }));
  const before = f.portal!.received.length;
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.equal(o.open, false, 'handshake refused');
  if (!o.open) t.ok(o.status >= 400 && o.status < 500, `refused with ${o.status}`);
  t.equal(f.portal!.received.length, before, 'never forwarded');
  // Plain requests on that route still work.
  const r = await fetch(`${f.url}/echo`);
  t.equal(r.status, 200);
});

t.test('routes[].websocket defaults to false: the upgrade is refused, never forwarded', async (t) => {
  const f = await startGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  t.equal(f.gw.current().config.routes[0].websocket, false);
  const before = f.portal!.received.length;
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.same(o, { open: false, status: 404 });
  t.equal(f.portal!.received.length, before, 'never forwarded');
});

t.test('upstream down: the handshake gets 502, the gateway lives on', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.same(o, { open: false, status: 502 });
  const h = await fetch(`${f.url}/.gatehouse/healthz`);
  t.equal(h.status, 200);
});

t.test('shutdown: an open WebSocket does not hold close() past shutdown_timeout', async (t) => {
  const f = await startTestGateway({ config: { server: { shutdown_timeout: '1s' }, policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const o = await openSocket(`ws://localhost:${f.port}/ws`);
  t.ok(o.open);
  if (!o.open) return;
  const wsClosed = new Promise<number>((resolve) => o.ws.once('close', (code) => resolve(code)));
  o.ws.on('error', () => {});
  const started = performance.now();
  const outcome = await Promise.race([
    f.gw.close().then(() => 'closed'),
    new Promise<string>((r) => setTimeout(() => r('still draining after 10 s'), 10_000)),
  ]);
  const took = performance.now() - started;
  t.equal(outcome, 'closed', 'close() resolves');
  t.ok(took >= 900, `the socket got the grace period (${Math.round(took)} ms)`);
  t.ok(took < 6000, `then it was cut (${Math.round(took)} ms)`);
  t.ok(await wsClosed, 'the client saw the connection end');
});
