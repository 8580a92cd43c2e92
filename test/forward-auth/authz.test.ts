// /.gatehouse/authz on its own (no proxy in front): the pure parts by table,
// then the answers over real sockets, as nginx / Traefik / Caddy would ask.
// Requests come from 127.0.0.1, which the gateway trusts here as a proxy.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parse } from 'yaml';
import { allowHeaders, ownedHeaderIn, readForwardedRequest, returnTargetFor } from '../../src/http/forward-auth.ts';
import { hasDotSegment } from '../../src/policy/normalize.ts';
import { startTestGateway, Client, PROJECT_ROOT, type GatewayFixture } from '../helpers/gateway.ts';

const NAMES = {
  user: 'X-Gatehouse-User', email: 'X-Gatehouse-Email', groups: 'X-Gatehouse-Groups',
  auth_methods: 'X-Gatehouse-Auth-Methods', auth_time: 'X-Gatehouse-Auth-Time', assertion: 'X-Gatehouse-Assertion',
};

t.test('readForwardedRequest: which headers, which answer style', async (t) => {
  const cases: [string, Record<string, string | string[]>, string, unknown][] = [
    ['nginx', { 'x-original-uri': '/a?b=1', 'x-original-method': 'post' }, '', { ok: true, style: 'status401', uri: '/a?b=1', method: 'POST' }],
    ['traefik/caddy', { 'x-forwarded-uri': '/a', 'x-forwarded-method': 'GET' }, '', { ok: true, style: 'redirect', uri: '/a', method: 'GET' }],
    ['mode=302 overrides nginx', { 'x-original-uri': '/a', 'x-original-method': 'GET' }, '?mode=302', { ok: true, style: 'redirect' }],
    ['mode=401 overrides caddy', { 'x-forwarded-uri': '/a', 'x-forwarded-method': 'GET' }, '?mode=401', { ok: true, style: 'status401' }],
    ['bad mode', { 'x-forwarded-uri': '/a', 'x-forwarded-method': 'GET' }, '?mode=200', { ok: false, reason: /mode/ }],
    ['both URI headers', { 'x-original-uri': '/a', 'x-forwarded-uri': '/b', 'x-original-method': 'GET' }, '', { ok: false, reason: /both/ }],
    ['method from the other family does not count', { 'x-original-uri': '/a', 'x-forwarded-method': 'GET' }, '', { ok: false, reason: /X-Original-Method/ }],
    ['no URI', { 'x-original-method': 'GET' }, '', { ok: false, reason: /no \(single\)/ }],
    ['absolute-form URI', { 'x-forwarded-uri': 'http://evil/a', 'x-forwarded-method': 'GET' }, '', { ok: false, reason: /origin-form/ }],
    ['repeated URI header', { 'x-forwarded-uri': ['/a', '/b'], 'x-forwarded-method': 'GET' }, '', { ok: false }],
    ['junk method', { 'x-forwarded-uri': '/a', 'x-forwarded-method': 'GET /x' }, '', { ok: false, reason: /method/ }],
  ];
  for (const [name, headers, query, want] of cases) t.match(readForwardedRequest(headers, query), want, name);
});

t.test('hasDotSegment: raw and percent-encoded dot segments, not dots inside names', async (t) => {
  const yes = ['/a/../b', '/a/./b', '/..', '/a/.', '/%2e%2e/x', '/a/.%2E/b', '/a/%2e/b', '/a/..?x=1'];
  const no = ['/a/b', '/a/...', '/a/.b', '/a/b..', '/a/%2e%2e%2e', '/a?x=/../', '/.well-known/x'];
  for (const p of yes) t.ok(hasDotSegment(p), p);
  for (const p of no) t.notOk(hasDotSegment(p), p);
});

t.test('returnTargetFor: the forwarded target for GET/HEAD, the form page for the rest', async (t) => {
  const origin = 'http://localhost:8000';
  t.equal(returnTargetFor('GET', '/billing?x=1', undefined, origin), '/billing?x=1');
  t.equal(returnTargetFor('HEAD', '/a', `${origin}/b`, origin), '/a');
  t.equal(returnTargetFor('POST', '/billing/pay', `${origin}/billing`, origin), '/billing');
  t.equal(returnTargetFor('POST', '/billing/pay', 'http://evil.example/billing', origin), '/', 'foreign referer ignored');
  t.equal(returnTargetFor('DELETE', '/x', undefined, origin), '/');
  t.equal(returnTargetFor('POST', '/billing/pay', `${origin}//evil.example/phish`, origin), '/', 'a referer path that leaves the origin is no return target');
});

t.test('allowHeaders: every configured name present, empty without identity', async (t) => {
  t.same(allowHeaders(NAMES, []), {
    'cache-control': 'no-store', 'x-gatehouse-user': '', 'x-gatehouse-email': '', 'x-gatehouse-groups': '',
    'x-gatehouse-auth-methods': '', 'x-gatehouse-auth-time': '', 'x-gatehouse-assertion': '',
  });
  t.match(allowHeaders({ ...NAMES, user: 'Remote-User' }, ['Remote-User', 'alice']), { 'remote-user': 'alice', 'x-gatehouse-email': '' });
});

t.test('the Traefik example names the same headers and authz URL as gatehouse', async (t) => {
  const doc = parse(readFileSync(join(PROJECT_ROOT, 'examples/traefik/dynamic.yml'), 'utf8'));
  const fa = doc.http.middlewares.gatehouse.forwardAuth;
  t.match(fa.address, /\/\.gatehouse\/authz$/);
  t.same(fa.authResponseHeaders, Object.values(NAMES));
  t.notOk(fa.authRequestHeaders.map((h: string) => h.toLowerCase()).includes('x-original-uri'));
  t.same(doc.http.routers.app.middlewares, ['gatehouse']);
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

async function authz(f: GatewayFixture, headers: Record<string, string>, query = ''): Promise<Answer> {
  const r = await request(`http://127.0.0.1:${f.port}/.gatehouse/authz${query}`, { headers: { host: 'localhost:8000', ...headers } });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
}
const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const api = { accept: 'application/json' };
const nginx = (uri: string, method = 'GET') => ({ 'x-original-uri': uri, 'x-original-method': method, 'x-forwarded-host': 'localhost:8000', 'x-forwarded-proto': 'http' });
const caddy = (uri: string, method = 'GET') => ({ 'x-forwarded-uri': uri, 'x-forwarded-method': method, 'x-forwarded-host': 'localhost:8000', 'x-forwarded-proto': 'http' });

const POLICY = {
  default: 'login',
  rules: [
    { id: 'public', match: { path: '/public/**' }, require: 'none' },
    { id: 'admin', match: { path: '/admin/**' }, require: 'deny' },
    { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', factors: ['totp'] },
    { id: 'reports', match: { path: '/reports/**' }, require: 'mfa', mode: 'report' },
  ],
};

t.test('answers behind a trusted proxy', async (t) => {
  const f = await startTestGateway({
    config: { server: { public_url: 'http://localhost:8000', trusted_proxies: ['127.0.0.1/32'] }, policy: POLICY, ui: { languages: ['en', 'de'] } },
  });
  t.teardown(() => f.close());

  t.test('anonymous, nginx style: 401 with the absolute challenge URL in Location and body', async (t) => {
    const r = await authz(f, { ...nav, ...nginx('/billing?x=1') });
    t.equal(r.status, 401);
    const want = 'http://localhost:8000/.gatehouse/login?rd=%2Fbilling%3Fx%3D1';
    t.equal(r.headers.location, want);
    t.equal(r.headers['x-gatehouse-redirect'], want, 'navigation: the redirect for the nginx snippet');
    t.match(JSON.parse(r.body), { error: 'login_required', challenge_url: want });
    const a = await authz(f, { ...api, ...nginx('/billing') });
    t.equal(a.status, 401);
    t.equal(a.headers['x-gatehouse-redirect'], undefined, 'API client: no redirect');
    t.equal(a.headers.location, 'http://localhost:8000/.gatehouse/login?rd=%2Fbilling');
  });

  t.test('anonymous, Traefik/Caddy style: 302 for navigations, 401 JSON for API clients', async (t) => {
    const r = await authz(f, { ...nav, ...caddy('/billing') });
    t.equal(r.status, 302);
    t.equal(r.headers.location, 'http://localhost:8000/.gatehouse/login?rd=%2Fbilling');
    const a = await authz(f, { ...api, ...caddy('/billing') });
    t.equal(a.status, 401);
    t.match(JSON.parse(a.body), { error: 'login_required', challenge_url: 'http://localhost:8000/.gatehouse/login?rd=%2Fbilling' });
    t.equal((await authz(f, { ...nav, ...caddy('/billing') }, '?mode=401')).status, 401, 'mode=401 forces the nginx style');
    t.equal((await authz(f, { ...nav, ...nginx('/billing') }, '?mode=302')).status, 302, 'mode=302 forces the redirect style');
  });

  t.test('the forwarded URI is normalized like a proxied request; refusals are 403', async (t) => {
    const cases: [string, number][] = [
      ['/public/x', 200],
      ['/public//y', 200],
      ['/public/../public/y', 403],
      ['/public/./y', 403],
      ['/admin/x', 403],
      ['/public/../admin/x', 403],
      ['/public/%2e%2e/admin', 403],
      ['/%61dmin/', 403],
      ['//admin', 403],
      ['/public/..%2fadmin', 403],
      ['/public%2fx', 403],
      ['/public/a;b', 403],
      ['/public/%252e', 403],
      ['/public/%00', 403],
      ['/public/a\\b', 403],
      ['/%2e%2e/public', 403],
    ];
    for (const [uri, status] of cases) {
      t.equal((await authz(f, { ...api, ...nginx(uri) })).status, status, `nginx ${uri}`);
      t.equal((await authz(f, { ...api, ...caddy(uri) })).status, status, `caddy ${uri}`);
    }
    const deny = f.logs.find((l) => l.msg === 'request' && l.path === '/admin/x');
    t.match(deny, { decision: 'deny', rule: 'admin', status: 403 }, 'decision logged with the forwarded path');
  });

  t.test('malformed asks are 403, never 200 or 5xx', async (t) => {
    t.equal((await authz(f, { ...api })).status, 403, 'no forwarded URI');
    t.equal((await authz(f, { ...api, 'x-original-uri': '/public/x' })).status, 403, 'no method');
    t.equal((await authz(f, { ...api, ...nginx('/public/x'), 'x-forwarded-uri': '/public/x' })).status, 403, 'both URI headers');
    t.equal((await authz(f, { ...api, ...nginx('/public/x') }, '?mode=500')).status, 403, 'bad mode');
  });

  t.test('anonymous allowed: 200 with the identity headers present but empty', async (t) => {
    const r = await authz(f, { ...api, ...caddy('/public/x'), 'x-gatehouse-user': 'mallory' });
    t.equal(r.status, 200);
    t.equal(r.headers['x-gatehouse-user'], '', 'the client\'s claim is not echoed');
    t.equal(r.headers['x-gatehouse-assertion'], '');
  });

  t.test('gatehouse pages are always let through (sign-in must be reachable)', async (t) => {
    t.equal((await authz(f, { ...nav, ...nginx('/.gatehouse/login?rd=%2F') })).status, 200);
  });

  t.test('signed in: 200 with alice\'s identity; deny and step-up still apply', async (t) => {
    const c = new Client(f.url);
    const csrf = await c.csrf('/.gatehouse/login');
    // The form is posted from the public origin (the proxy's), which the CSRF check expects.
    const s = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' }, { origin: 'http://localhost:8000' });
    t.equal(s.status, 303);
    const cookie = c.cookieHeader();
    const r = await authz(f, { ...api, ...nginx('/billing'), cookie, 'x-gatehouse-user': 'mallory' });
    t.equal(r.status, 200);
    t.equal(r.headers['x-gatehouse-user'], 'alice');
    t.equal(r.headers['x-gatehouse-email'], 'alice@example.com');
    t.equal(r.headers['x-gatehouse-groups'], 'admins,finance');
    t.equal(r.headers['x-gatehouse-auth-methods'], 'pwd');
    t.match(r.headers['x-gatehouse-assertion'], /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    t.equal((await authz(f, { ...api, ...nginx('/admin/x'), cookie })).status, 403);
    // POST /billing/** needs TOTP, which alice has not enrolled: enrollment, back to the form's page.
    const post = await authz(f, { ...nav, ...caddy('/billing/pay', 'POST'), cookie, referer: 'http://localhost:8000/billing' });
    t.equal(post.status, 302);
    t.equal(post.headers.location, 'http://localhost:8000/.gatehouse/enroll?rd=%2Fbilling&rule=billing');
    const postNginx = await authz(f, { ...nav, ...nginx('/billing/pay', 'POST'), cookie });
    t.equal(postNginx.status, 401);
    t.match(JSON.parse(postNginx.body), { error: 'mfa_required', challenge: 'enroll', rule: 'billing', factors: ['totp'] });
    t.equal((await authz(f, { ...api, ...nginx('/billing/pay', 'GET'), cookie })).status, 200, 'the rule is for POST only');
    const report = await authz(f, { ...api, ...nginx('/reports/q'), cookie });
    t.equal(report.status, 200, 'a report-only rule lets the request through');
    t.ok(f.logs.some((l) => l.msg === 'request' && l.path === '/reports/q' && l.decision === 'report'), 'and is logged as report');
  });

  t.test('a deny is worded in the request\'s language; JSON stays English', async (t) => {
    const c = new Client(f.url);
    const csrf = await c.csrf('/.gatehouse/login');
    t.equal((await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' }, { origin: 'http://localhost:8000' })).status, 303);
    const cookie = c.cookieHeader();
    const de = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' };
    const denied = await authz(f, { ...nav, ...de, ...caddy('/admin/x'), cookie });
    t.equal(denied.status, 403);
    t.match(denied.body, /<html lang="de"[^]*<h1>Zugriff verweigert<\/h1>/, 'a policy deny: the German page');
    // A backend failure while answering (here: the assertion cannot be signed) fails closed with a 403 that says why.
    const signer = f.gw.services.signer;
    const assertion = signer.assertion;
    signer.assertion = () => { throw new Error('signing key unavailable'); };
    t.teardown(() => { signer.assertion = assertion; });
    const failed = await authz(f, { ...nav, ...de, ...caddy('/x'), cookie });
    t.equal(failed.status, 403, 'fails closed');
    t.match(failed.body, /<html lang="de"[^]*Der Anmeldedienst ist vorübergehend nicht verfügbar\./, 'the reason in German');
    t.notMatch(failed.body, /temporarily unavailable|try again/i, 'no English on the German page');
    const json = await authz(f, { ...api, ...de, ...nginx('/x'), cookie });
    t.equal(json.status, 403);
    t.match(JSON.parse(json.body), { error: 'forbidden', message: 'The sign-in service is temporarily unavailable.' }, 'JSON errors are English');
  });
});

t.test('from a peer outside trusted_proxies the forwarded headers are ignored: 403', async (t) => {
  const f = await startTestGateway({ config: { server: { trusted_proxies: [] }, policy: POLICY } });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass');
  for (const h of [nginx('/public/x'), caddy('/public/x'), nginx('/billing')]) {
    const r = await authz(f, { ...api, ...h, cookie: c.cookieHeader() });
    t.equal(r.status, 403);
    t.equal(r.headers['x-gatehouse-user'], undefined, 'no identity handed out');
  }
  t.ok(f.logs.some((l) => l.msg === 'request' && typeof l.reason === 'string' && /not in server\.trusted_proxies/.test(l.reason)), 'the reason is logged');
});

t.test('ownedHeaderIn: a spelling of an owned header the proxy does not overwrite', async (t) => {
  const isOwned = (c: string) => c === 'x-original-url' || c.startsWith('x-gatehouse-');
  const table: [string[], string | undefined][] = [
    [['Host', 'x', 'Accept', '*/*'], undefined],
    // The configured names, in any case: the proxy overwrites them on the way to the app.
    [['X-Gatehouse-User', 'root', 'x-gatehouse-groups', 'admins'], undefined],
    [['X-Gatehouse-Other', 'x'], 'X-Gatehouse-Other'],
    [['Accept', '*/*', 'X_Gatehouse_User', 'root'], 'X_Gatehouse_User'],
    [['X.Gatehouse.User', 'root'], 'X.Gatehouse.User'],
    [["X'Gatehouse'Groups", 'admins'], "X'Gatehouse'Groups"],
    [['x-original.url', '/admin'], 'x-original.url'],
    [['X-Original-URI', '/a', 'X-Forwarded-Uri', '/b'], undefined],
  ];
  for (const [raw, want] of table) t.equal(ownedHeaderIn(raw, isOwned, NAMES), want, raw.join(' '));
});

// The proxy overwrites (or removes) the identity headers as named on the way to the app; another
// spelling the app reads as the same header, or X-Original-URL, would get through.
t.test('a forwarded request carrying another spelling of an owned header: 403', async (t) => {
  const f = await startTestGateway({ config: { server: { trusted_proxies: ['127.0.0.1/32'] }, policy: POLICY } });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass');
  const ok = await authz(f, { ...api, ...caddy('/public/x'), cookie: c.cookieHeader() });
  t.equal(ok.status, 200, 'without one: allowed');
  for (const [name, value] of [['X_Gatehouse_User', 'root'], ['X.Gatehouse.User', 'root'], ['X~Gatehouse~Groups', 'admins'], ['X-Original-URL', '/admin'], ['X.Original.URL', '/admin']]) {
    const r = await authz(f, { ...api, ...caddy('/public/x'), cookie: c.cookieHeader(), [name]: value });
    t.equal(r.status, 403, `${name}: 403`);
    t.equal(r.headers['x-gatehouse-user'], undefined, `${name}: no identity handed out`);
  }
  t.ok(f.logs.some((l) => l.msg === 'request' && typeof l.reason === 'string' && /X\.Gatehouse\.User, a header the gateway owns/.test(l.reason)), 'the reason names the header');
});
