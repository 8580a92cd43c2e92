// Identity headers are the gateway's: a client can never make the upstream see
// one it wrote, in any spelling, with or without a session. Forwarding headers
// from untrusted peers are replaced; from trusted proxies they are appended and
// the client is the right-most untrusted hop. Raw sockets send the exact bytes.

import t, { type Test } from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { ownedHeaderMatcher } from '../../src/proxy/owned-headers.ts';
import type { RecordedRequest } from '../../examples/demo-portal/server.ts';
import { rawGet } from '../helpers/raw-http.ts';

/** The gateway's own Host and an API client's Accept, then the lines under test. */
const rawRequest = (port: number, target: string, headerLines: string[]) =>
  rawGet(port, target, [`Host: localhost:${port}`, 'Accept: application/json', ...headerLines]);


/** The header sets an attacker tries; each is sent on its own request. */
const SPOOFS: { name: string; lines: string[] }[] = [
  { name: 'canonical', lines: ['X-Gatehouse-User: mallory'] },
  { name: 'lower case', lines: ['x-gatehouse-user: mallory'] },
  { name: 'upper underscore', lines: ['X_GATEHOUSE_USER: mallory'] },
  { name: 'mixed underscore', lines: ['x-gatehouse_user: mallory'] },
  { name: 'assertion', lines: ['X-GATEHOUSE-ASSERTION: mallory'] },
  { name: 'any prefixed name', lines: ['X-Gatehouse-Anything: mallory', 'X-Gatehouse-Groups: mallory', 'X-Gatehouse-Email: mallory'] },
  { name: 'auth time and methods', lines: ['X-Gatehouse-Auth-Time: mallory', 'x_gatehouse_auth_methods: mallory'] },
  { name: 'custom name', lines: ['Remote-User: mallory'] },
  { name: 'custom name underscored', lines: ['REMOTE_USER: mallory', 'remote_email: mallory'] },
  { name: 'duplicates', lines: ['X-Gatehouse-User: mallory', 'X-Gatehouse-User: mallory', 'Remote-User: mallory'] },
  { name: 'Connection names it', lines: ['Connection: X-Gatehouse-User', 'X-Gatehouse-User: mallory'] },
  { name: 'Connection names the custom one', lines: ['Connection: keep-alive, Remote-User, X_Gatehouse_Assertion', 'Remote-User: mallory', 'X-Gatehouse-Assertion: mallory'] },
  { name: 'Connection names the underscore form', lines: ['Connection: x_gatehouse_user', 'X-Gatehouse-User: mallory', 'x_gatehouse_user: mallory'] },
  { name: 'Connection names forwarding headers', lines: ['Connection: X-Forwarded-For, Host', 'X-Gatehouse-User: mallory'] },
  { name: 'empty value', lines: ['X-Gatehouse-User:', 'Remote-User: '] },
  { name: 'padded value', lines: ['X-Gatehouse-User:    mallory   '] },
  // IIS URL Rewrite and several frameworks route by these instead of the request line.
  { name: 'URL rewrite headers', lines: ['X-Original-URL: /mallory', 'X-Rewrite-URL: /mallory', 'x_original_url: /mallory', 'X-REWRITE_URL: /mallory'] },
];

// Lines a strict parser refuses outright (400); if one ever got through, it must not carry an identity.
const MALFORMED: { name: string; lines: string[] }[] = [
  { name: 'space before colon', lines: ['X-Gatehouse-User : mallory'] },
  { name: 'tab before colon', lines: ['X-Gatehouse-User\t: mallory'] },
  { name: 'obs-fold continuation', lines: ['X-Note: a', ' X-Gatehouse-User: mallory'] },
  { name: 'bare LF inside', lines: ['X-Note: a\nX-Gatehouse-User: mallory'] },
];

const HEADERS_CONFIG = {
  prefix: 'X-Gatehouse-',
  names: { user: 'Remote-User', email: 'Remote-Email' },
};

function ownedIn(rec: RecordedRequest, isOwned: (n: string) => boolean): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (isOwned(rec.rawHeaders[i])) out.push([rec.rawHeaders[i], rec.rawHeaders[i + 1]]);
  return out;
}

async function gatewayFor(t: Test, extra: Record<string, unknown> = {}): Promise<GatewayFixture> {
  const f = await startTestGateway({
    config: {
      headers: HEADERS_CONFIG,
      policy: { default: 'none', rules: [{ id: 'private', match: { path: '/echo/private/**' }, require: 'login' }] },
      ...extra,
    },
  });
  t.teardown(() => f.close());
  return f;
}

const isOwned = ownedHeaderMatcher({
  prefix: 'X-Gatehouse-', jwt: true,
  names: { user: 'Remote-User', email: 'Remote-Email', groups: 'X-Gatehouse-Groups', auth_methods: 'X-Gatehouse-Auth-Methods', auth_time: 'X-Gatehouse-Auth-Time', assertion: 'X-Gatehouse-Assertion' },
});

t.test('without a session: no owned header reaches the upstream', async (t) => {
  const f = await gatewayFor(t);
  const portal = f.portal!;
  for (const s of SPOOFS) {
    const before = portal.received.length;
    const r = await rawRequest(f.port, '/echo/open', s.lines);
    t.equal(r.status, 200, `${s.name}: allowed without a session`);
    t.equal(portal.received.length, before + 1, `${s.name}: forwarded`);
    const rec = portal.received.at(-1)!;
    t.same(ownedIn(rec, isOwned), [], `${s.name}: no owned header upstream`);
    t.notOk(rec.rawHeaders.some((v) => v.includes('mallory')), `${s.name}: the spoofed value is nowhere upstream`);
  }
  for (const s of MALFORMED) {
    const before = portal.received.length;
    const r = await rawRequest(f.port, '/echo/open', s.lines);
    if (portal.received.length === before) {
      t.equal(r.status, 400, `${s.name}: refused`);
    } else {
      const rec = portal.received.at(-1)!;
      t.same(ownedIn(rec, isOwned), [], `${s.name}: parsed leniently, but no owned header upstream`);
    }
  }
  // A signed-out request to a login path is challenged, and nothing is forwarded.
  const before = portal.received.length;
  const r = await rawRequest(f.port, '/echo/private/x', ['X-Gatehouse-User: alice', 'Remote-User: alice']);
  t.equal(r.status, 401, 'spoofing the identity does not sign anyone in');
  t.equal(portal.received.length, before);
});

t.test('with a session: the injected identity is alice, never the spoofed value', async (t) => {
  const f = await gatewayFor(t);
  const portal = f.portal!;
  const c = new Client(f.url);
  const signed = await c.signIn('alice', 'alice-test-pass', '/echo/private/x');
  t.equal(signed.status, 303, 'signed in');
  const cookie = `Cookie: JSESSIONID=app-1; ${c.cookieHeader()}`;
  for (const s of SPOOFS) {
    for (const target of ['/echo/private/x', '/echo/open']) {
      const r = await rawRequest(f.port, target, [cookie, ...s.lines]);
      t.equal(r.status, 200, `${s.name} ${target}: allowed`);
      const rec = portal.received.at(-1)!;
      t.equal(rec.url, target);
      t.notOk(rec.rawHeaders.some((v) => v.includes('mallory')), `${s.name} ${target}: no spoofed value upstream`);
      const owned = ownedIn(rec, isOwned);
      const users = owned.filter(([n]) => n.toLowerCase() === 'remote-user').map(([, v]) => v);
      t.same(users, ['alice'], `${s.name} ${target}: exactly one Remote-User, alice`);
      const emails = owned.filter(([n]) => n.toLowerCase() === 'remote-email').map(([, v]) => v);
      t.same(emails, ['alice@example.com'], `${s.name} ${target}: the email is alice's`);
      const names = owned.map(([n]) => n.toLowerCase()).sort();
      t.same(names, ['remote-email', 'remote-user', 'x-gatehouse-assertion', 'x-gatehouse-auth-methods', 'x-gatehouse-auth-time', 'x-gatehouse-groups'],
        `${s.name} ${target}: only the injected set, each once`);
      const cookieName = f.gw.services.sessions.cookieName;
      t.equal(rec.headers.cookie, 'JSESSIONID=app-1', 'only the app cookie is forwarded');
      t.notOk((rec.headers.cookie ?? '').split(';').some((p) => p.trim().startsWith(`${cookieName}=`)), 'the gateway cookie is not forwarded');
      const assertion = owned.find(([n]) => n.toLowerCase() === 'x-gatehouse-assertion')![1];
      const payload = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString()) as { sub: string };
      t.equal(payload.sub, 'alice', `${s.name}: the assertion is about alice`);
    }
  }
});

t.test('untrusted peer: X-Forwarded-*, Forwarded and X-Real-IP are replaced', async (t) => {
  const f = await gatewayFor(t);
  const portal = f.portal!;
  const r = await rawRequest(f.port, '/echo/fwd', [
    'X-Forwarded-For: 6.6.6.6, 7.7.7.7', 'X-Forwarded-For: 8.8.8.8', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil.example',
    'X-Forwarded-Port: 1', 'Forwarded: for=6.6.6.6;proto=https;host=evil.example', 'X-Real-IP: 6.6.6.6', 'X_Forwarded_For: 6.6.6.6',
    'X-Request-Id: forged-id',
  ]);
  t.equal(r.status, 200);
  const rec = portal.received.at(-1)!;
  const values = (name: string) => rec.rawHeaders.filter((_, i) => i % 2 === 1 && rec.rawHeaders[i - 1].toLowerCase() === name);
  t.same(values('x-forwarded-for'), ['127.0.0.1'], 'the real peer, alone');
  t.same(values('x-forwarded-proto'), ['http']);
  t.same(values('x-forwarded-host'), [`localhost:${f.port}`]);
  t.same(values('host'), [`127.0.0.1:${portal.port}`], 'one Host, the upstream\'s own (the client addressed localhost)');
  t.same(values('forwarded'), []);
  t.same(values('x-real-ip'), []);
  t.same(values('x-forwarded-port'), []);
  t.same(values('x_forwarded_for'), []);
  const reqId = values('x-request-id');
  t.equal(reqId.length, 1);
  t.not(reqId[0], 'forged-id', 'an untrusted request id is not believed');
  const line = await logLine(f, reqId[0]);
  t.equal(line.ip, '127.0.0.1', 'the decision log names the real peer');
});

t.test('trusted proxy: X-Forwarded-For is appended, the client is the right-most untrusted hop', async (t) => {
  const f = await gatewayFor(t, { server: { trusted_proxies: ['127.0.0.1/32'] } });
  const portal = f.portal!;
  const r = await rawRequest(f.port, '/echo/fwd', [
    'X-Forwarded-For: 198.51.100.9, 10.0.0.5', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: portal.example.com',
    'X-Request-Id: via-proxy-1', 'X-Gatehouse-User: mallory',
  ]);
  t.equal(r.status, 200);
  const rec = portal.received.at(-1)!;
  t.equal(rec.headers['x-forwarded-for'], '198.51.100.9, 10.0.0.5, 127.0.0.1');
  t.equal(rec.headers['x-forwarded-proto'], 'https');
  t.equal(rec.headers['x-forwarded-host'], 'portal.example.com');
  t.equal(rec.headers['x-request-id'], 'via-proxy-1', 'a trusted proxy may name the request');
  t.same(ownedIn(rec, isOwned), [], 'a trusted proxy cannot inject identity either');
  const line = await logLine(f, 'via-proxy-1');
  t.equal(line.ip, '10.0.0.5', 'right-most hop that is not a trusted proxy');

  // Trusting the inner network too moves the client one hop further left.
  const cfg = f.gw.current().config;
  t.ok(await f.gw.reload({ ...cfg, server: { ...cfg.server, trusted_proxies: ['127.0.0.1/32', '10.0.0.0/8'] } }));
  await rawRequest(f.port, '/echo/fwd', ['X-Forwarded-For: 198.51.100.9, 10.0.0.5', 'X-Request-Id: via-proxy-2']);
  t.equal((await logLine(f, 'via-proxy-2')).ip, '198.51.100.9');
  // Garbage in the chain is skipped, never taken as the client.
  await rawRequest(f.port, '/echo/fwd', ['X-Forwarded-For: not-an-ip, 203.0.113.4, <script>', 'X-Request-Id: via-proxy-3']);
  t.equal((await logLine(f, 'via-proxy-3')).ip, '203.0.113.4');
  t.equal(portal.received.at(-1)!.headers['x-forwarded-for'], '203.0.113.4, 127.0.0.1');
});

async function logLine(f: GatewayFixture, reqId: string): Promise<Record<string, unknown>> {
  // The access line is written when the response closes; pino flushes asynchronously.
  for (let i = 0; i < 100; i++) {
    const line = f.logs.find((l) => l.req_id === reqId && l.msg === 'request');
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no request log line for ${reqId}`);
}
