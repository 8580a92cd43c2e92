// Adversarial review, part 2: the areas around the decision point (identity
// headers, the gateway's cookies, return targets, stash replay, CSRF, throttles).
// Like adversarial-review.test.ts, each case asserts on what a lenient upstream
// (test/helpers/lenient-upstream.ts) received or what the client was answered.
// Tests named `fixed: …` were holes when the review found them (each failed
// then); `held: …` pins what was sound.

import t, { type Test } from 'tap';
import { Client, type GatewayFixture } from '../helpers/gateway.ts';
import { plainAnswer } from '../helpers/lenient-upstream.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { sendRaw } from '../helpers/raw-http.ts';
import { enrollTotpOverHttp, passStashedChallenge } from '../helpers/totp.ts';

const FORM = 'application/x-www-form-urlencoded';
const USERS = { alice: { password: 'alice-test-pass', groups: ['finance'] }, bob: { password: 'bob-test-pass', groups: ['staff'] } };

/** A raw request (no client-side header normalization), Connection: close. */
function raw(f: GatewayFixture, method: string, target: string, lines: string[], body = '') {
  const head = [`${method} ${target} HTTP/1.1`, `Host: localhost:${f.port}`, 'Accept: application/json', ...lines,
    ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), 'Connection: close'];
  return sendRaw(f.port, `${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * The CGI variable a header name becomes where the web server in front of the
 * app maps every non-alphanumeric character to '_' (lighttpd's mod_fastcgi /
 * mod_cgi, http_cgi_encode_varname) or hands the name through and lets PHP's
 * php_register_variable turn '.' and ' ' into '_' (PHP's built-in server,
 * Caddy's php_fastcgi in front of php-fpm): `X.Gatehouse.User` is
 * $_SERVER['HTTP_X_GATEHOUSE_USER'] there, exactly like `X-Gatehouse-User`.
 */

const cgiName = (header: string) => `HTTP_${header.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

// ---------------------------------------------------------------------------
// 1. Identity and other owned headers under spellings the app reads as the same
// ---------------------------------------------------------------------------

t.test('fixed: an identity header spelled with "." (or another token character), which the app reads as X-Gatehouse-User, never reaches it', async (t) => {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    config: { policy: { default: 'login', rules: [{ id: 'public', match: { path: '/public/**' }, require: 'none' }] } },
  });
  // Anonymous request to an open page: the gateway injects no identity at all, so the client's copy is the only one.
  const spoofed = ['X.Gatehouse.User: alice', 'X~Gatehouse~User: alice', "X'Gatehouse'Groups: admins", 'X.Gatehouse.Auth-Methods: pwd hwk'];
  const r = await raw(f, 'GET', '/public/page', spoofed);
  t.equal(r.status, 200, 'the open page is served');
  const got = up.requests.find((q) => q.target === '/public/page');
  t.ok(got, 'the request reached the app');
  const owned = new Set(['X-Gatehouse-User', 'X-Gatehouse-Groups', 'X-Gatehouse-Auth-Methods'].map(cgiName));
  const forged = (got?.headers ?? []).filter(([name]) => owned.has(cgiName(name)));
  t.same(forged, [], 'no header the app reads as an identity header came from the client');
});

t.test('fixed: X-Original-URL and X-HTTP-Method-Override spelled with "." are judged or stripped', async (t) => {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    config: { policy: { default: 'none', rules: [{ id: 'no-delete', match: { path: '/items/*', methods: ['DELETE'] }, require: 'deny' }, { id: 'admin', match: { path: '/admin/**' }, require: 'deny' }] } },
  });
  // Symfony/Laravel read X-HTTP-Method-Override from $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'];
  // Zend/Laminas route by HTTP_X_ORIGINAL_URL / HTTP_X_REWRITE_URL.
  const del = await raw(f, 'POST', '/items/1', [`Content-Type: ${FORM}`, 'X.HTTP.Method.Override: DELETE'], 'a=1');
  const rw = await raw(f, 'GET', '/index.php', ['X.Original.URL: /admin/users', 'X.Rewrite.URL: /admin/users', 'X.Forwarded.For: 127.0.0.1']);
  t.not(del.status, 200, 'a POST claiming DELETE under the dotted spelling is judged as DELETE (or refused)');
  t.equal(rw.status, 200, 'a request carrying a dotted X-Original-URL is served with it stripped (below)');
  const reachedNames = up.requests.flatMap((q) => q.headers.map(([n]) => cgiName(n)));
  for (const name of ['X-HTTP-Method-Override', 'X-Original-URL', 'X-Rewrite-URL'].map(cgiName)) {
    t.notOk(reachedNames.includes(name), `${name} never reached the app from the client`);
  }
  t.equal(up.requests.filter((q) => q.headers.filter(([n]) => cgiName(n) === 'HTTP_X_FORWARDED_FOR').length > 1).length, 0, 'and no second X-Forwarded-For next to the gateway\'s');
});

t.test('held: the "_" and case spellings of every owned header are stripped, on a signed-in request too', async (t) => {
  const { f, up } = await startLenientGateway(t, { users: USERS });
  const c = new Client(f.url);
  t.equal((await c.signIn('bob', 'bob-test-pass')).status, 303);
  await c.fetch('/x', { headers: { x_gatehouse_user: 'alice', 'X_GATEHOUSE-GROUPS': 'admins', 'x-original_url': '/admin' } });
  const q = up.requests.find((r) => r.target === '/x')!;
  const users = q.headers.filter(([n]) => cgiName(n) === 'HTTP_X_GATEHOUSE_USER');
  t.same(users.map(([, v]) => v), ['bob'], 'one X-Gatehouse-User, the gateway\'s');
  t.notOk(q.headers.some(([n]) => cgiName(n) === 'HTTP_X_ORIGINAL_URL'), 'X-Original-URL stripped');
  t.same(q.headers.filter(([n]) => cgiName(n) === 'HTTP_X_GATEHOUSE_GROUPS').map(([, v]) => v), ['staff'], 'groups are bob\'s');
});

// ---------------------------------------------------------------------------
// 2. The gateway's cookies: set by the app, sent to the app
// ---------------------------------------------------------------------------

/**
 * The cookie a browser stores from one Set-Cookie line, name and value as it
 * will send them (RFC 6265bis §5.6: a pair without '=' or starting with '=' has
 * an empty name; a nameless cookie is sent as its bare value, so
 * `=gatehouse=X` comes back as `Cookie: gatehouse=X`).
 */
function browserSends(setCookie: string): string {
  const pair = setCookie.split(';', 1)[0];
  const eq = pair.indexOf('=');
  const name = eq === -1 ? '' : pair.slice(0, eq).trim();
  const value = eq === -1 ? pair.trim() : pair.slice(eq + 1).trim();
  return name === '' ? value : `${name}=${value}`;
}

t.test('fixed: the app cannot set the gateway session cookie with a nameless Set-Cookie (=gatehouse=…)', async (t) => {
  // An app that reflects input into a Set-Cookie, or any app behind the gateway (one route's app can plant a
  // session for every route), fixes the victim's gateway session: with `gatehouse=planted` stored first, the
  // browser sends `gatehouse=planted; gatehouse=<own>` even after the victim signs in, and readCookie takes the first.
  // (Chrome refuses nameless cookies whose value starts with __Host-, so the https default name is safer.)
  let name = 'gatehouse';
  const { f } = await startLenientGateway(t, {
    users: USERS,
    config: { policy: { default: 'none', rules: [] } },
    answer: () => plainAnswer(200, 'OK', 'hi', { 'Set-Cookie': `=${name}=forged-by-app; Path=/` }),
  });
  name = f.gw.services.sessions.cookieName;
  const r = await raw(f, 'GET', '/page', []);
  t.equal(r.status, 200);
  const sets = r.head.split('\r\n').filter((l) => /^set-cookie:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim());
  const reached = sets.map(browserSends).filter((c) => c.startsWith(`${name}=`) || c.startsWith(`${name}_device=`));
  t.same(reached, [], `no Set-Cookie the browser would send back as the gateway's cookie (${JSON.stringify(sets)})`);
});

t.test('held: the gateway cookies never reach the app, however the Cookie header is split or spaced', async (t) => {
  const { f, up } = await startLenientGateway(t, { users: USERS });
  const c = new Client(f.url);
  t.equal((await c.signIn('bob', 'bob-test-pass')).status, 303);
  const name = f.gw.services.sessions.cookieName;
  const seal = c.cookies.get(name)!;
  const r = await raw(f, 'GET', '/x', [`Cookie: app=1; ${name}=${seal}`, `Cookie:  ${name} =${seal} ;${name}_device=abc; ${name}.1=x; other=2`]);
  t.equal(r.status, 200, 'signed in: proxied');
  const q = up.requests.find((x) => x.target === '/x')!;
  t.equal(q.header('x-gatehouse-user'), 'bob');
  t.notOk(q.head.includes(seal.slice(0, 40)), 'the seal never reached the app');
  t.notOk(/gatehouse/i.test(q.headers.filter(([n]) => n.toLowerCase() === 'cookie').map(([, v]) => v).join(';')), 'no gateway cookie name in what the app got');
});

// ---------------------------------------------------------------------------
// 3. Stash replay and the redirect after it
// ---------------------------------------------------------------------------

async function billing(t: Test) {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    config: {
      policy: { default: 'login', rules: [{ id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' }] },
      rollout: { enforce_for: ['everyone'] },
    },
  });
  return { f, up };
}

/** alice enrolled (TOTP) and signed in again, her factor stale: a billing POST needs the step-up. */
async function staleAlice(f: GatewayFixture) {
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  f.clock.advance(10 * 60_000);
  const c = new Client(f.url);
  if ((await c.signIn('alice', 'alice-test-pass')).status !== 303) throw new Error('sign-in failed');
  return { c, device };
}

function payForm(f: GatewayFixture, c: Client, referer: string, body = 'amount=100') {
  return c.fetch('/billing/pay?to=acme', { method: 'POST', headers: { 'content-type': FORM, origin: f.url, referer }, body });
}

t.test('fixed: after a replay, reloading the resume URL never redirects off the origin by the Referer path', async (t) => {
  const { f, up } = await billing(t);
  const { c, device } = await staleAlice(f);
  // The form sat on a page whose URL path starts with '//' (an app that serves any path, e.g. a
  // front controller or SPA: a link to http://gw//evil.example/ renders it; the browser's Referer keeps the '//').
  const r = await payForm(f, c, `${f.url}//evil.example/phish`);
  t.equal(r.status, 302);
  const challenge = new URL(r.headers.get('location')!, f.url);
  t.ok(challenge.searchParams.get('stash'), 'kept');
  const passed = await passStashedChallenge(c, challenge, device);
  t.equal(passed.status, 303);
  const resume = passed.headers.get('location')!;
  t.equal((await c.fetch(resume)).status, 200, 'replayed once');
  t.equal(up.requests.filter((q) => q.method === 'POST').length, 1);
  const again = await c.fetch(resume);
  t.equal(again.status, 302, 'a reload of the resume URL is redirected');
  const to = new URL(again.headers.get('location')!, f.url);
  t.equal(to.origin, new URL(f.url).origin, `the reload stays on the gateway's origin (Location: ${again.headers.get('location')})`);
  t.equal(up.requests.filter((q) => q.method === 'POST').length, 1, 'and replays nothing');
});

t.test('held: a stash is single use and bound to its sign-in: another user, or another session of the same user, replays nothing', async (t) => {
  const { f, up } = await billing(t);
  const { c, device } = await staleAlice(f);
  const r = await payForm(f, c, `${f.url}/billing`);
  const challenge = new URL(r.headers.get('location')!, f.url);
  const stash = challenge.searchParams.get('stash')!;
  t.ok(stash);
  // bob (signed in, no step-up due for him on GET) and a second session of alice's put the marker on the stash's own target.
  const bob = new Client(f.url);
  t.equal((await bob.signIn('bob', 'bob-test-pass')).status, 303);
  const alice2 = new Client(f.url);
  t.equal((await alice2.signIn('alice', 'alice-test-pass')).status, 303);
  for (const [who, client] of [['bob', bob], ['alice, another session', alice2]] as const) {
    const x = await client.fetch(`/billing/pay?to=acme&__gatehouse_resume=${stash}`);
    t.not(x.status, 200, `${who}: not replayed (${x.status})`);
  }
  t.equal(up.requests.filter((q) => q.method === 'POST').length, 0, 'nothing replayed for them');
  // The owner still gets it, once.
  const passed = await passStashedChallenge(c, challenge, device);
  const resume = passed.headers.get('location')!;
  t.equal((await c.fetch(resume)).status, 200);
  t.equal((await c.fetch(resume)).status, 302, 'a second use is a redirect, not a replay');
  t.equal(up.requests.filter((q) => q.method === 'POST').length, 1, 'the POST reached the app exactly once');
});

// ---------------------------------------------------------------------------
// 4. upstream_form: app cookies bound to the gateway session
// ---------------------------------------------------------------------------

/**
 * The name under which PHP puts a cookie into $_COOKIE (php_register_variable_ex:
 * leading spaces dropped, '.' and ' ' become '_'), compared case-blind where the
 * app is (ASP.NET's HttpCookieCollection; a `case_insensitive` route).
 */
const phpCookieName = (name: string) => name.replace(/^ +/, '').replace(/[. ]/g, '_');

t.test('fixed: a stolen app session cookie does not pass the release check under a name the app reads as the same cookie', async (t) => {
  let n = 0;
  const { f, up } = await startLenientGateway(t, {
    users: {},
    routes: [{ path: '/', case_insensitive: true }],
    config: {
      identity: { source: 'upstream_form', upstream_form: { login_path: '/login', username_field: 'username', success: { status: 302, set_cookie: 'app_session' } } },
      policy: { default: 'login', rules: [] },
    },
    answer: (q) => q.method === 'POST' && q.target === '/login'
      ? plainAnswer(302, 'Found', '', { Location: '/home', 'Set-Cookie': `app_session=released-${++n}; Path=/; HttpOnly` })
      : plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`),
  });
  // mallory signs in as herself on the app's own form (no second factor due: default login).
  const c = new Client(f.url);
  const login = await c.postForm('/login', { username: 'mallory', password: 'x' });
  t.equal(login.status, 303, 'the gateway answers the sign-in');
  t.equal(c.cookies.get('app_session'), 'released-1', 'mallory got her own app cookie');
  // She replays the victim's app session id (stolen, or left in a shared browser), which was never released to her.
  for (const [i, cookie] of ['app.session=victim-app-session', 'app session=victim-app-session', 'APP_SESSION=victim-app-session'].entries()) {
    const headers = { cookie: `${f.gw.services.sessions.cookieName}=${c.cookies.get(f.gw.services.sessions.cookieName)}; ${cookie}` };
    const r = await c.fetch(`/home/${i}`, { headers });
    t.equal(r.status, 200, `${cookie}: proxied`);
  }
  const sent = up.requests.filter((q) => q.target.startsWith('/home/')).map((q) => q.header('cookie') ?? '');
  t.equal(sent.length, 3);
  for (const header of sent) {
    const appReads = header.split(';').map((p) => p.trim()).filter((p) => phpCookieName(p.split('=')[0]).toLowerCase() === 'app_session');
    t.same(appReads, [], `the app reads no unreleased app_session from ${JSON.stringify(header)}`);
  }
});

t.test('held: without a gateway session the app gets no cookies; a session gets only the values released to it', async (t) => {
  let n = 0;
  const { f, up } = await startLenientGateway(t, {
    users: {},
    config: {
      identity: { source: 'upstream_form', upstream_form: { login_path: '/login', username_field: 'username', success: { status: 302, set_cookie: 'app_session' } } },
      policy: { default: 'login', rules: [{ id: 'open', match: { path: '/open/**' }, require: 'none' }] },
    },
    answer: (q) => q.method === 'POST' && q.target === '/login'
      ? plainAnswer(302, 'Found', '', { Location: '/home', 'Set-Cookie': `app_session=released-${++n}; Path=/; HttpOnly` })
      : plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`),
  });
  await raw(f, 'GET', '/open/x', ['Cookie: app_session=victim-app-session; lang=de']);
  t.equal(up.requests.find((q) => q.target === '/open/x')?.header('cookie'), undefined, 'anonymous: no Cookie header at all');
  const c = new Client(f.url);
  t.equal((await c.postForm('/login', { username: 'mallory', password: 'x' })).status, 303);
  const gw = `${f.gw.services.sessions.cookieName}=${c.cookies.get(f.gw.services.sessions.cookieName)}`;
  await c.fetch('/home/a', { headers: { cookie: `${gw}; app_session=victim-app-session; app_session=released-1; lang=de` } });
  t.equal(up.requests.find((q) => q.target === '/home/a')?.header('cookie'), 'app_session=released-1; lang=de', 'the unreleased copy is stripped, hers kept');
});

// ---------------------------------------------------------------------------
// 5. Throttles: who counts as "one address"
// ---------------------------------------------------------------------------

/** Wrong-password sign-ins, one per made-up username (no per-user wait builds up), each from `addr(i)` as the trusted proxy says; the statuses. */
async function spray(f: GatewayFixture, count: number, addr: (i: number) => string): Promise<number[]> {
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await c.postForm('/.gatehouse/login', { csrf, username: `nobody${i}`, password: 'guess', rd: '/' }, { 'x-forwarded-for': addr(i) });
    out.push(r.status);
  }
  return out;
}

async function behindProxy(t: Test) {
  const { f } = await startLenientGateway(t, { users: USERS, config: { server: { trusted_proxies: ['127.0.0.1/32'] } } });
  f.clock.hold();
  return f;
}

t.test('held: password spraying from one address is throttled per address, and a client behind an untrusted peer cannot pick its address', async (t) => {
  const f = await behindProxy(t);
  const one = await spray(f, 23, () => '203.0.113.7');
  t.equal(one.slice(0, 20).filter((s) => s === 401).length, 20, 'the first 20 are answered');
  t.ok(one.slice(21).every((s) => s === 429), `then the address waits (${one.join(' ')})`);
  // Without trusted_proxies the gateway believes no X-Forwarded-For: rotating it changes nothing.
  const { f: g } = await startLenientGateway(t, { users: USERS });
  g.clock.hold();
  const spoofed = await spray(g, 23, (i) => `198.51.100.${i + 1}`);
  t.ok(spoofed.slice(21).every((s) => s === 429), `X-Forwarded-For from an untrusted peer does not reset the count (${spoofed.join(' ')})`);
});

t.test('fixed: the per-address password throttle counts one IPv6 /64 as one address', async (t) => {
  const f = await behindProxy(t);
  const statuses = await spray(f, 30, (i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
  t.ok(statuses.slice(22).every((s) => s === 429), `addresses of one /64 share the address budget (${statuses.join(' ')})`);
});

// ---------------------------------------------------------------------------
// 6. CSRF on the gateway's own forms, login CSRF
// ---------------------------------------------------------------------------

t.test('held: every gateway form POST needs the session token and a same-origin post; login CSRF signs nobody in', async (t) => {
  const { f, up } = await startLenientGateway(t, { users: USERS, config: { rollout: { enforce_for: [] } } });
  const name = f.gw.services.sessions.cookieName;
  // Login CSRF: a foreign page posts the attacker's credentials into the victim's browser.
  const victim = new Client(f.url);
  await victim.fetch('/.gatehouse/login');           // the victim has an anonymous session (and its token, unknown to the attacker)
  const forged = await victim.postForm('/.gatehouse/login', { username: 'bob', password: 'bob-test-pass', rd: '/' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
  t.equal(forged.status, 403, 'a cross-site sign-in post is refused');
  const noToken = await victim.postForm('/.gatehouse/login', { username: 'bob', password: 'bob-test-pass', rd: '/' });
  t.equal(noToken.status, 403, 'a post without the token is refused');
  await victim.fetch('/x');
  t.equal(up.requests.find((q) => q.target === '/x')?.header('x-gatehouse-user'), undefined, 'the victim\'s browser is signed in as nobody');

  // Signed in: the security page, enrollment, the challenge and logout each refuse a forged post.
  const bob = new Client(f.url);
  t.equal((await bob.signIn('bob', 'bob-test-pass')).status, 303);
  const token = await bob.csrf('/.gatehouse/account');
  const posts: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['/.gatehouse/account', { action: 'sign-out-everywhere', confirmed: '1' }, {}],
    ['/.gatehouse/account', { action: 'sign-out-everywhere', confirmed: '1', csrf: token }, { origin: 'https://evil.example' }],
    ['/.gatehouse/account', { action: 'sign-out-everywhere', confirmed: '1', csrf: token }, { origin: 'null', 'sec-fetch-site': 'same-site' }],
    ['/.gatehouse/enroll', { action: 'totp', code: '123456', rd: '/' }, {}],
    ['/.gatehouse/challenge', { method: 'totp', code: '123456', rd: '/', csrf: 'x'.repeat(token.length) }, {}],
    ['/.gatehouse/logout', { everywhere: '1', csrf: token }, { 'sec-fetch-site': 'cross-site' }],
  ];
  for (const [path, fields, headers] of posts) {
    const r = await bob.postForm(path, fields, headers);
    t.equal(r.status, 403, `${path} ${JSON.stringify({ ...fields, csrf: fields.csrf ? '…' : undefined })} ${JSON.stringify(headers)}: refused`);
  }
  const still = await bob.fetch('/y');
  t.equal(still.status, 200, 'bob is still signed in');
  t.equal(up.requests.find((q) => q.target === '/y')?.header('x-gatehouse-user'), 'bob');
  t.ok(bob.cookies.get(name), 'and kept his cookie');
});

// ---------------------------------------------------------------------------
// 7. Return targets after a passed second factor
// ---------------------------------------------------------------------------

t.test('held: the challenge sends the browser back only to a same-origin path, whatever rd says', async (t) => {
  const { f } = await billing(t);
  const { c, device } = await staleAlice(f);
  const payloads = ['//evil.example/', '/\\evil.example/', '/%2F%2Fevil.example', '/%5Cevil.example', 'https:evil.example', '/\t/evil.example', '/%0d%0aSet-Cookie:x=1', 'http://localhost@evil.example/', '/.gatehouse/logout'];
  for (const rd of payloads) {
    const csrf = await c.csrf(`/.gatehouse/challenge?rd=${encodeURIComponent(rd)}&method=totp`);
    const r = await c.postForm('/.gatehouse/challenge', { csrf, rd, method: 'totp', code: await device.next() });
    t.equal(r.status, 303, `${JSON.stringify(rd)}: passed`);
    const loc = r.headers.get('location') ?? '';
    t.equal(new URL(loc, f.url).origin, new URL(f.url).origin, `${JSON.stringify(rd)} → ${JSON.stringify(loc)}: same origin`);
    t.ok(loc.startsWith('/') && !/^\/[/\\]/.test(loc) && !/[\r\n]/.test(loc), `${JSON.stringify(loc)}: a plain path`);
  }
});
