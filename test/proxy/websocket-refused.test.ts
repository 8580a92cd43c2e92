// A WebSocket handshake the upstream does not accept must never turn the
// connection into a raw tunnel. A lenient legacy upstream that answers the
// upgrade with 404 and keeps the connection open would read the client's next
// bytes as a new request, one the gateway never normalized, judged or stripped
// of forged identity headers. Assertions are on the bytes the upstream received.
// A handshake the gateway refuses itself (a policy deny, a sign-in needed) is
// answered, and its connection closed within server.max_body_bytes and
// server.body_timeout however much the client goes on sending.

import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream, type LenientRequest, type LenientUpstream, type LenientAnswer } from '../helpers/lenient-upstream.ts';
import { acceptFor, handshakeRefusal, validKey } from '../../src/proxy/websocket.ts';

const FORGED = 'GET /admin/secret HTTP/1.1\r\nHost: legacy\r\nX-Gatehouse-User: admin\r\nX-Gatehouse-Groups: admins\r\n\r\n';

async function gatewayBefore(t: Test, answer: (r: LenientRequest) => LenientAnswer, server: Record<string, unknown> = {}): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const up = await startLenientUpstream(answer);
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: {
      server,
      routes: [{ path: '/', upstream: up.origin, websocket: true }],
      policy: { default: 'none', rules: [{ id: 'no-admin', match: { path: '/admin/**' }, require: 'deny' }, { id: 'members', match: { path: '/members/**' }, require: 'login' }] },
    },
  });
  t.teardown(() => f.close());
  return { f, up };
}

function handshake(port: number, key: string, path = '/ws'): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/**
 * Sends the handshake (plus `pipelined` in the same write), then `after` once the
 * first answer arrived; resolves with everything the gateway sent until it closed.
 */
function exchange(port: number, first: string, after?: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    let sentAfter = false;
    s.setTimeout(10_000, () => { s.destroy(); resolve({ text, closed: false }); });
    s.on('data', (c) => {
      text += c.toString('latin1');
      if (after !== undefined && !sentAfter && text.includes('\r\n\r\n')) {
        sentAfter = true;
        s.write(after);
      }
    });
    s.on('error', (err) => (text ? resolve({ text, closed: true }) : reject(err)));
    s.on('close', () => resolve({ text, closed: true }));
    s.write(first);
  });
}

const newKey = () => randomBytes(16).toString('base64');

t.test('pure: handshakeRefusal', async (t) => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  t.equal(acceptFor(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'the RFC 6455 example');
  const good = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': acceptFor(key) };
  const table: [number, Record<string, string>, string | undefined][] = [
    [101, good, undefined],
    [101, { ...good, upgrade: 'WebSocket' }, undefined],
    [404, good, 'status 404'],
    [200, good, 'status 200'],
    [101, { ...good, upgrade: 'h2c' }, 'no Upgrade: websocket'],
    [101, { connection: 'Upgrade', 'sec-websocket-accept': acceptFor(key) }, 'no Upgrade: websocket'],
    [101, { ...good, 'sec-websocket-accept': acceptFor(newKey()) }, 'wrong Sec-WebSocket-Accept'],
    [101, { upgrade: 'websocket' }, 'wrong Sec-WebSocket-Accept'],
  ];
  for (const [status, headers, want] of table) t.equal(handshakeRefusal(status, headers, key), want, `${status} ${JSON.stringify(headers)}`);
  t.ok(validKey(newKey()));
  for (const bad of [undefined, '', 'abc', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ==x']) t.notOk(validKey(bad), `invalid key ${bad}`);
});

t.test('upstream answers the upgrade with 404 keep-alive: relayed, closed, nothing more reaches it', async (t) => {
  const { f, up } = await gatewayBefore(t, () => plainAnswer(404, 'Not Found', 'no websockets here'));
  // The forged request sent once the 404 arrived, and (another connection) pipelined right behind the handshake.
  for (const [label, first, after] of [['after the 404', handshake(f.port, newKey()), FORGED], ['pipelined', handshake(f.port, newKey()) + FORGED, undefined]] as const) {
    const before = up.requests.length;
    const r = await exchange(f.port, first, after);
    t.match(r.text, /^HTTP\/1\.1 404 Not Found\r\n/, `${label}: the client gets the upstream's 404`);
    t.match(r.text, /\r\nconnection: close\r\n/i, `${label}: announced as the last answer`);
    t.match(r.text, /\r\n\r\nno websockets here$/, `${label}: with its body, and nothing after it`);
    t.ok(r.closed, `${label}: the gateway closed the connection`);
    t.equal(up.requests.length, before + 1, `${label}: the upstream got the handshake only`);
  }
  const bytes = up.bytes();
  t.notOk(bytes.includes('/admin'), 'the forged request never reached the upstream');
  t.notOk(/x-gatehouse-user:\s*admin/i.test(bytes), 'nor its forged identity');
  t.equal(up.requests.filter((q) => q.target === '/ws').length, 2);
});

t.test('101 with a wrong Sec-WebSocket-Accept, or without Upgrade: websocket: 502, no tunnel', async (t) => {
  let mode: 'wrong-accept' | 'no-upgrade' = 'wrong-accept';
  const { f, up } = await gatewayBefore(t, (q) => {
    const accept = mode === 'wrong-accept' ? acceptFor(newKey()) : acceptFor(q.header('sec-websocket-key') ?? '');
    const upgrade = mode === 'no-upgrade' ? 'Upgrade: h2c\r\n' : 'Upgrade: websocket\r\n';
    return { raw: `HTTP/1.1 101 Switching Protocols\r\n${upgrade}Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`, then: 'echo' };
  });
  for (const m of ['wrong-accept', 'no-upgrade'] as const) {
    mode = m;
    const r = await exchange(f.port, handshake(f.port, newKey()) + FORGED);
    t.match(r.text, /^HTTP\/1\.1 502 /, `${m}: refused with 502`);
    t.notMatch(r.text, /101/, `${m}: the client never saw the switch`);
    t.ok(r.closed, `${m}: closed`);
  }
  t.notOk(up.bytes().includes('/admin'), 'no client byte after the handshake reached the upstream');
});

t.test('a proper switch still works, and bytes sent early wait for it', async (t) => {
  const { f, up } = await gatewayBefore(t, (q) => ({
    raw: `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(q.header('sec-websocket-key') ?? '')}\r\n\r\n`,
    then: 'echo',
  }));
  const key = newKey();
  // Not WebSocket frames, just bytes: the pipe must carry them both ways once switched.
  const r = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: f.port });
    let text = '';
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`timeout: ${JSON.stringify(text)}`)); });
    s.on('data', (c) => {
      text += c.toString('latin1');
      if (text.endsWith('early-bytes|later-bytes')) { s.destroy(); resolve(text); }
      else if (text.endsWith('early-bytes') && !text.includes('later')) s.write('|later-bytes');
    });
    s.on('error', reject);
    s.write(handshake(f.port, key) + 'early-bytes');
  });
  t.match(r, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.match(r, new RegExp(`\\r\\nsec-websocket-accept: ${acceptFor(key).replace(/[+/]/g, '\\$&')}\\r\\n`, 'i'));
  t.ok(r.endsWith('\r\n\r\nearly-bytes|later-bytes'), 'echoed through the pipe in order');
  const hs = up.requests.find((q) => q.target === '/ws')!;
  t.equal(hs.header('sec-websocket-key'), key, 'the client key went upstream');
});

t.test('a handshake without a valid Sec-WebSocket-Key never reaches the upstream', async (t) => {
  const { f, up } = await gatewayBefore(t, () => plainAnswer(500, 'Unexpected', 'should not be asked'));
  const r = await exchange(f.port, `GET /ws HTTP/1.1\r\nHost: localhost:${f.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  t.match(r.text, /^HTTP\/1\.1 400 /);
  t.equal(up.requests.length, 0);
});

/** Open connections on the gateway's listener (upgraded sockets included, until destroyed). */
function connections(f: GatewayFixture): Promise<number> {
  return new Promise((resolve, reject) => f.gw.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/**
 * Sends a handshake, then junk without end (the client never closes its side)
 * until the gateway drops the connection: `every` ms a piece of `size` bytes.
 * Resolves with what the gateway sent and the ms from the answer to the drop.
 */
function refusedThenJunk(port: number, path: string, every: number, size: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let text = '';
    let answered = 0;
    const junk = Buffer.from(FORGED.repeat(Math.ceil(size / FORGED.length)).slice(0, size), 'latin1');
    const timer = setInterval(() => { if (answered && s.writable) s.write(junk); }, every);
    const giveUp = setTimeout(() => { s.destroy(); reject(new Error(`${path}: still open after 10 s: ${JSON.stringify(text.slice(0, 80))}`)); }, 10_000);
    s.on('data', (c) => {
      text += c.toString('latin1');
      if (!answered && text.includes('\r\n\r\n')) answered = performance.now();
    });
    s.on('error', () => s.destroy());
    s.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ text, ms: performance.now() - answered });
    });
    s.write(handshake(port, newKey(), path) + FORGED);
  });
}

t.test('a handshake the gateway refuses: answered, then closed within the limits, nothing upstream', async (t) => {
  const LIMIT_MS = 300;
  const refusing = (server: Record<string, unknown>) => gatewayBefore(t, () => plainAnswer(500, 'Unexpected', 'should not be asked'), { max_body_bytes: 64 * 1024, ...server });
  // A trickle: only the time limit can end it.
  const slow = await refusing({ body_timeout: `${LIMIT_MS}ms` });
  // A flood, with a time limit no test waits for: only the byte limit can end it.
  const fast = await refusing({ body_timeout: '60s' });
  const bases = [await connections(slow.f), await connections(fast.f)];
  for (const [path, status] of [['/admin/ws', 403], ['/members/ws', 401]] as const) {
    const trickle = await refusedThenJunk(slow.f.port, path, 20, 64);
    t.match(trickle.text, new RegExp(`^HTTP/1\\.1 ${status} [^\\r]*\\r\\nconnection: close\\r\\ncontent-length: 0\\r\\n\\r\\n$`), `${path}: the ${status} answer, whole, and nothing after it`);
    t.ok(trickle.ms >= LIMIT_MS * 0.9, `${path}: a trickling client is cut off by body_timeout (${Math.round(trickle.ms)} ms)`);
    const flood = await refusedThenJunk(fast.f.port, path, 1, 16 * 1024);
    t.match(flood.text, new RegExp(`^HTTP/1\\.1 ${status} `), `${path}: a flooding client gets the answer, then is cut off past max_body_bytes`);
  }
  t.same([await connections(slow.f), await connections(fast.f)], bases, 'no refused connection is left open on the gateway');
  for (const { f, up } of [slow, fast]) {
    t.equal(up.bytes(), '', 'the upstream received nothing at all');
    t.same(f.logs.filter((l) => l.upgrade === 'websocket').map((l) => l.decision).sort(), ['challenge', 'deny'], 'each refusal is logged');
  }
});

t.test('a refused client that closes its side is let go at once', async (t) => {
  const { f, up } = await gatewayBefore(t, () => plainAnswer(500, 'Unexpected', 'should not be asked'), { body_timeout: '60s' });
  const started = performance.now();
  const r = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: f.port });
    let text = '';
    s.setTimeout(5000, () => { s.destroy(); reject(new Error('not closed')); });
    s.on('data', (c) => { text += c.toString('latin1'); });
    s.on('error', reject);
    s.on('close', () => resolve(text));
    s.end(handshake(f.port, newKey(), '/admin/ws'));
  });
  t.match(r, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.ok(performance.now() - started < 5000, 'closed without waiting for body_timeout');
  t.equal(up.bytes(), '');
});
