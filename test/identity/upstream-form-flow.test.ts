// identity.source upstream_form over real HTTP: a real gateway in front of the
// real demo portal, whose own /login form is the only sign-in. The app's
// session cookie (JSESSIONID) must reach the browser only after the gateway's
// second factor; a wrong app password shows the app's own page and counts; an
// app cookie without a gateway session reaches nothing; the app's logout ends
// the gateway session too; a sign-in the risk rules deny releases nothing.

import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startTestGateway, Client, readAudit, type GatewayFixture } from '../helpers/gateway.ts';

function oathtool(secret: string, offsetSteps = 0): string {
  const now = new Date(Date.now() + offsetSteps * 30_000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return execFileSync('oathtool', ['--totp', '-b', '--now', now, secret.replace(/\s+/g, '')]).toString().trim();
}

const UPSTREAM_FORM = {
  identity: {
    source: 'upstream_form',
    upstream_form: { login_path: '/login', logout_path: '/logout', username_field: 'username', success: { status: 302, set_cookie: 'JSESSIONID' } },
  },
  policy: {
    default: 'mfa',
    rules: [
      { id: 'app-login', match: { path: '/login' }, require: 'none' },
      { id: 'app-logout', match: { path: '/logout' }, require: 'none' },
      { id: 'static', match: { path: '/static/**' }, require: 'none' },
      { id: 'open-echo', match: { path: '/echo/open' }, require: 'none' },
    ],
  },
};

async function start(t: Test, extra: Record<string, unknown> = {}): Promise<GatewayFixture> {
  const f = await startTestGateway({ config: { ...UPSTREAM_FORM, ...extra } });
  t.teardown(() => f.close());
  return f;
}

/** The audit log once every pending line is on disk. */
async function audit(f: GatewayFixture): Promise<Record<string, unknown>[]> {
  await f.gw.services.audit.flush();
  return readAudit(f);
}

const setCookieNames = (r: Response) => r.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('=')));
const JSON_API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

/** Enrolls TOTP for the signed-in (not yet second-factored) client; returns the enroll POST's answer and the secret. */
async function enrollTotp(c: Client, rd: string): Promise<{ r: Response; secret: string }> {
  const html = await (await c.fetch(`/.gatehouse/enroll?rd=${encodeURIComponent(rd)}&method=totp`)).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1];
  if (!secret) throw new Error('no TOTP secret on the enrollment page');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
  const r = await c.postForm('/.gatehouse/enroll', { csrf, rd, action: 'totp', code: oathtool(secret) });
  return { r, secret };
}

t.test('the app\'s own login → gateway enrollment → only then the app\'s cookie', async (t) => {
  const f = await start(t);
  const portal = f.portal!;
  const c = new Client(f.url);

  let r = await c.fetch('/billing');
  t.equal(r.status, 302, 'an anonymous visit is sent to sign in');
  t.equal(r.headers.get('location'), '/login', '...on the app\'s own login page, not the gateway\'s');
  r = await c.fetch('/login');
  t.equal(r.status, 200);
  t.match(await r.text(), /Portal sign-in/, 'the app\'s login page passes through');

  r = await c.postForm('/login', { username: 'alice', password: 'alice-app-pass' });
  t.equal(r.status, 303, 'the gateway answers the login POST itself');
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2F(&|$)/, 'to enrollment (alice has no factor yet), then back to the app\'s target');
  t.same(setCookieNames(r), ['gatehouse'], 'only the gateway session cookie: the app\'s JSESSIONID is held back');
  t.notOk(c.cookies.has('JSESSIONID'), 'the browser has no app cookie');
  t.equal(portal.state.sessions.size, 1, 'the app did sign alice in');
  const [appSession] = [...portal.state.sessions.keys()];
  t.ok((await audit(f)).some((e) => e.event === 'signin.success' && e.user === 'alice' && e.method === 'upstream_form'), 'audited as signin.success for alice');

  r = await c.fetch('/billing');
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/, 'before the second factor the app stays out of reach');

  const { r: done, secret } = await enrollTotp(c, '/');
  t.equal(done.status, 303, 'enrollment passed');
  t.ok(setCookieNames(done).includes('JSESSIONID'), 'the enrollment answer releases JSESSIONID');
  t.equal(c.cookies.get('JSESSIONID'), appSession, 'the very session the app created');

  r = await c.fetch('/echo', { headers: JSON_API });
  t.equal(r.status, 200);
  const echo = await r.json() as { headers: Record<string, string> };
  t.match(echo.headers.cookie, `JSESSIONID=${appSession}`, 'the app now sees its own session cookie');
  t.equal(echo.headers['x-gatehouse-user'], 'alice');
    t.equal(echo.headers['x-gatehouse-email'], 'alice@example.com', 'a user the users file knows gets its email and groups');
  t.match(echo.headers['x-gatehouse-auth-methods'], /^pwd otp/);

  // Released exactly once: passing another factor in this session has nothing more to give.
  const recovery = await (await c.fetch(done.headers.get('location')!)).text();
  const code = /<li><code>([a-z0-9-]+)<\/code><\/li>/.exec(recovery)?.[1];
  t.ok(code, 'recovery codes shown after enrollment');
  const csrf1 = await c.csrf('/.gatehouse/challenge?rd=%2F&method=recovery');
  r = await c.postForm('/.gatehouse/challenge', { csrf: csrf1, rd: '/', method: 'recovery', code: code! });
  t.equal(r.status, 303, 'another factor passes');
  t.same(setCookieNames(r), ['gatehouse'], 'but releases no app cookie a second time');

  // A later sign-in: the second factor (not enrollment) releases the new app session.
  const c2 = new Client(f.url);
  r = await c2.postForm('/login', { username: 'alice', password: 'alice-app-pass' });
  t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge\?rd=%2F/, 'an enrolled user is challenged');
  t.notOk(c2.cookies.has('JSESSIONID'));
  const csrf = await c2.csrf('/.gatehouse/challenge?rd=%2F&method=totp');
  r = await c2.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: oathtool(secret, 1) });
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/');
  t.ok(c2.cookies.has('JSESSIONID'), 'the challenge answer releases the app cookie');
  t.not(c2.cookies.get('JSESSIONID'), appSession, 'a session of its own');
  t.ok(portal.state.sessions.has(c2.cookies.get('JSESSIONID')!));
});

t.test('a wrong app password: the app\'s own page, no session, a counted failure, then throttling', async (t) => {
  const f = await start(t);
  const c = new Client(f.url);
  let r = await c.postForm('/login', { username: 'bob', password: 'wrong' });
  t.equal(r.status, 200, 'the app\'s own answer');
  t.match(await r.text(), /Invalid credentials \(app\)/, 'the app\'s own error page');
  t.same(setCookieNames(r), [], 'no gateway session, no app cookie');
  t.equal(await f.gw.services.shared.get('fail:pwd:u:bob'), '1', 'counted toward bob\'s throttle');
  t.ok((await audit(f)).some((e) => e.event === 'signin.failure' && e.user === 'bob'), 'audited as signin.failure');

  for (let i = 2; i <= 6; i++) {
    r = await c.postForm('/login', { username: 'bob', password: `wrong-${i}` });
    t.equal(r.status, 200, `failure ${i} is the app's page`);
    await r.arrayBuffer();
  }
  const before = f.portal!.received.filter((x) => x.url === '/login' && x.method === 'POST').length;
  r = await c.postForm('/login', { username: 'bob', password: 'bob-app-pass' });
  t.equal(r.status, 429, 'after six failures even the right password waits');
  t.ok(Number(r.headers.get('retry-after')) >= 1, 'with Retry-After');
  t.equal(f.portal!.received.filter((x) => x.url === '/login' && x.method === 'POST').length, before, 'the app is not even asked during the wait');
  t.ok((await audit(f)).some((e) => e.event === 'signin.lockout' && e.user === 'bob'));
});

t.test('an app cookie without a gateway session gets nothing', async (t) => {
  const f = await start(t);
  // A JSESSIONID signed in at the app directly (stolen, or left over after the gateway session ended).
  const direct = await request(`http://127.0.0.1:${f.portal!.port}/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=alice-app-pass',
  });
  await direct.body.dump();
  const stolen = String(direct.headers['set-cookie']).split(';')[0];
  t.match(stolen, /^JSESSIONID=.+/);

  const c = new Client(f.url);
  let r = await c.fetch('/echo/open', { headers: { ...JSON_API, cookie: `${stolen}; lang=de` } });
  t.equal(r.status, 200, 'a public page answers');
  const echo = await r.json() as { headers: Record<string, string> };
  t.equal(echo.headers.cookie, undefined, 'but the app sees no cookie at all');
  t.equal(echo.headers['x-gatehouse-user'], undefined, 'and no identity');

  r = await c.fetch('/billing', { headers: { cookie: stolen } });
  t.equal(r.status, 302, 'a protected page is refused');
  t.equal(r.headers.get('location'), '/login');
  r = await c.fetch('/echo', { headers: { ...JSON_API, cookie: stolen } });
  t.equal(r.status, 401, 'API clients get 401');

  // Replaying the stolen cookie against the login form cannot pass for a fresh login either.
  r = await c.postForm('/login', { username: 'alice', password: 'guess' }, { cookie: stolen });
  t.equal(r.status, 200);
  t.same(setCookieNames(r), [], 'no gateway session');
});

t.test('no second factor due (user outside the rollout): the app cookie is released at once', async (t) => {
  const f = await start(t, { rollout: { enforce_for: [] } });
  const c = new Client(f.url);
  const r = await c.postForm('/login', { username: 'carol', password: 'carol-app-pass' });
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/', 'straight to the app\'s own target');
  t.same(setCookieNames(r).sort(), ['JSESSIONID', 'gatehouse'], 'gateway session and app cookie together');
  const echo = await (await c.fetch('/echo', { headers: JSON_API })).json() as { headers: Record<string, string> };
  t.equal(echo.headers['x-gatehouse-user'], 'carol');
  t.match(echo.headers.cookie, /JSESSIONID=/);
});

t.test('"set up later" (a deferral the rollout allows) releases the app cookie too', async (t) => {
  const f = await start(t, { rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' } });
  const c = new Client(f.url);
  let r = await c.postForm('/login', { username: 'bob', password: 'bob-app-pass' });
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/);
  t.notOk(c.cookies.has('JSESSIONID'), 'held while enrollment is due');
  const page = await (await c.fetch(r.headers.get('location')!)).text();
  t.match(page, /Set up later/);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  r = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/', action: 'defer' });
  t.equal(r.status, 303);
  t.ok(setCookieNames(r).includes('JSESSIONID'), 'deferring releases the app cookie');
  const echo = await (await c.fetch('/echo', { headers: JSON_API })).json() as { headers: Record<string, string> };
  t.equal(echo.headers['x-gatehouse-user'], 'bob');
  t.match(echo.headers.cookie, /JSESSIONID=/);
});

t.test('the app\'s logout_path ends the gateway session too', async (t) => {
  const f = await start(t, { rollout: { enforce_for: [] } });
  const c = new Client(f.url);
  await c.postForm('/login', { username: 'alice', password: 'alice-app-pass' });
  const appSession = c.cookies.get('JSESSIONID')!;
  t.ok(f.portal!.state.sessions.has(appSession));
  t.equal((await c.fetch('/echo', { headers: JSON_API })).status, 200, 'signed in');

  const r = await c.fetch('/logout');
  t.equal(r.status, 302, 'the app\'s own logout answer');
  t.same([...new Set(setCookieNames(r))].sort(), ['JSESSIONID', 'gatehouse'], 'clears both cookies');
  t.notOk(f.portal!.state.sessions.has(appSession), 'the app saw its cookie and ended its session');
  t.notOk(c.cookies.has('gatehouse'));
  t.ok((await audit(f)).some((e) => e.event === 'signout' && e.user === 'alice'), 'audited as signout');

  // Even a browser that kept the old gateway cookie is signed out (revoked everywhere).
  const old = new Client(f.url);
  await old.postForm('/login', { username: 'alice', password: 'alice-app-pass' });
  const gatewayCookie = old.cookies.get('gatehouse')!;
  await old.fetch('/logout');
  const replay = await old.fetch('/echo', { headers: { ...JSON_API, cookie: `gatehouse=${gatewayCookie}` } });
  t.equal(replay.status, 401, 'the revoked gateway session is refused');
});

t.test('a status-only success rule: the login POST reaches the app without the browser\'s cookies', async (t) => {
  const f = await start(t, {
    identity: { source: 'upstream_form', upstream_form: { login_path: '/login', username_field: 'username', success: { status: 302 } } },
    rollout: { enforce_for: [] },
  });
  const c = new Client(f.url);
  const r = await c.postForm('/login', { username: 'carol', password: 'carol-app-pass' }, { cookie: 'JSESSIONID=replayed; lang=de' });
  t.equal(r.status, 303, 'judged a success by its status');
  const post = f.portal!.received.filter((x) => x.url === '/login' && x.method === 'POST').at(-1);
  t.equal(post?.headers.cookie, undefined, 'nothing could prove the login fresh, so no cookie was sent along');
  t.equal(post?.headers['content-length'], String('username=carol&password=carol-app-pass'.length), 'the form itself arrived whole');
});

t.test('login POST edge cases: unreadable form, app down', async (t) => {
  const f = await start(t);
  const c = new Client(f.url);
  let r = await c.fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json', origin: f.url }, body: '{"username":"alice"}' });
  t.equal(r.status, 400, 'a form the gateway cannot read is refused, not passed through');
  t.equal(f.portal!.received.filter((x) => x.url === '/login' && x.method === 'POST').length, 0, 'and never reaches the app');
  r = await c.fetch('/login', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b', origin: f.url }, body: '--b\r\ncontent-disposition: form-data; name="username"\r\n\r\nalice\r\n--b--\r\n' });
  t.equal(r.status, 400, 'a multipart sign-in is refused too (the gateway reads urlencoded forms only)');
  t.equal(f.portal!.received.filter((x) => x.url === '/login' && x.method === 'POST').length, 0, 'and never reaches the app');
  r = await c.postForm('/login', { username: 'alice', password: 'x'.repeat(70_000) });
  t.equal(r.status, 413, 'a login form over 64 KiB is refused');
  await r.arrayBuffer();

  const down = await startTestGateway({ upstream: false, config: UPSTREAM_FORM });
  t.teardown(() => down.close());
  r = await new Client(down.url).postForm('/login', { username: 'alice', password: 'alice-app-pass' });
  t.equal(r.status, 502, 'the app down: a clear 502, no session');
  t.same(setCookieNames(r), []);
});

t.test('a sign-in the risk rules deny: refused, neither the gateway\'s cookie nor the app\'s goes out', async (t) => {
  const risky = join(t.testdir(), 'risky.txt');
  writeFileSync(risky, '203.0.113.0/24\n');
  // Any sign-in from the risky network scores 120 (risky_network 100, new_device 20).
  const g = await startTestGateway({ config: { ...UPSTREAM_FORM, server: { trusted_proxies: ['127.0.0.1/32'] }, risk: { signals: { risky_network: 100 }, rules: [{ above: 90, require: 'deny' }], risky_networks: [risky] } } });
  t.teardown(() => g.close());
  const c = new Client(g.url);
  const from = { 'x-forwarded-for': '203.0.113.5' };
  t.equal((await c.fetch('/login', { headers: from })).status, 200, 'the app\'s login page passes through');
  const r = await c.fetch('/login', {
    method: 'POST', headers: { ...from, 'content-type': 'application/x-www-form-urlencoded', origin: g.url },
    body: new URLSearchParams({ username: 'alice', password: 'alice-app-pass' }).toString(),
  });
  t.equal(r.status, 403, 'the sign-in is refused');
  t.same(setCookieNames(r), [], 'no gateway session cookie, no app cookie');
  t.match(await r.text(), /<h1>Sign-in refused<\/h1>/);
  const lines = await audit(g);
  t.notOk(lines.some((e) => e.event === 'signin.success'), 'no session was started');
  t.match(lines.find((e) => e.event === 'signin.failure'), { user: 'alice', reason: 'risk denied', risk: { score: 120, signals: ['new_device', 'risky_network'], outcome: 'deny' } });
  const before = g.portal!.received.length;
  t.equal((await c.fetch('/billing', { headers: from })).status, 302, 'still signed out');
  t.equal(g.portal!.received.length, before, 'nothing reached the app');
});

t.test('a deny the failures raised holds on the retry: the refused right app password does not clear them', async (t) => {
  // new_device 20 alone is under the bar; with recent_failures (three wrong app passwords) it is a deny.
  const g = await startTestGateway({ config: { ...UPSTREAM_FORM, risk: { signals: { recent_failures: 100 }, rules: [{ above: 90, require: 'deny' }] } } });
  t.teardown(() => g.close());
  const c = new Client(g.url);
  for (let i = 1; i <= 3; i++) {
    const wrong = await c.postForm('/login', { username: 'alice', password: `wrong-${i}` });
    t.equal(wrong.status, 200, `wrong app password ${i}: the app's page`);
    await wrong.arrayBuffer();
  }
  for (const attempt of ['the right password', 'the same again at once']) {
    const r = await c.postForm('/login', { username: 'alice', password: 'alice-app-pass' });
    t.equal(r.status, 403, `${attempt}: refused`);
    t.same(setCookieNames(r), [], 'no gateway session cookie, no app cookie');
    await r.arrayBuffer();
  }
  const lines = await audit(g);
  t.notOk(lines.some((e) => e.event === 'signin.success'), 'no session was started');
  t.equal(lines.filter((e) => e.event === 'signin.failure' && e.reason === 'risk denied').length, 2);
  const before = g.portal!.received.length;
  t.equal((await c.fetch('/billing')).status, 302, 'still signed out');
  t.equal(g.portal!.received.length, before, 'nothing reached the app');
});
