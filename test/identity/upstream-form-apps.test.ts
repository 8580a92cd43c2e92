// identity.source upstream_form against small apps that parse their login form
// the way PHP (last value wins) and servlets (query first) do, with a user table
// that ignores case and accents (test/helpers/form-apps.ts). A real gateway on
// real sockets; assertions are on what the app received.

import t, { type Test } from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { startFormApp, type FormApp, type FormAppOptions } from '../helpers/form-apps.ts';
import { enrollTotp, passTotp, type TotpDevice } from '../helpers/totp.ts';
import { runCheck } from '../../src/cli/check.ts';

interface Fixture { f: GatewayFixture; app: FormApp }

async function start(t: Test, app: FormAppOptions, uf: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Fixture> {
  const formApp = await startFormApp(app);
  t.teardown(() => formApp.close());
  const single = app.single === true;
  const f = await startTestGateway({
    upstream: false,
    config: {
      routes: [{ path: '/', upstream: formApp.origin }],
      identity: {
        source: 'upstream_form',
        upstream_form: {
          login_path: single ? '/app.php' : '/login',
          ...(single ? { login_match: { params: { action: 'login' }, fields: ['username'] }, logout_path: '/app.php', logout_match: { query: { action: 'logout' } } } : { logout_path: '/logout' }),
          success: { status: 302, set_cookie: 'SID' },
          app_cookies: ['SID'],
          ...uf,
        },
      },
      policy: { default: 'mfa', rules: [] },
      ...extra,
    },
  });
  t.teardown(() => f.close());
  return { f, app: formApp };
}

const loginPosts = (app: FormApp, path = '/login') => app.requests.filter((r) => r.method === 'POST' && r.url.startsWith(path)).length;
const setCookieNames = (r: Response) => r.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('=')));

/** Signs `user` in on the app's form and through the gateway's TOTP enrollment; returns the client and the secret. */
async function signInEnrolled(f: GatewayFixture, user: string, password: string, path = '/login', extra: Record<string, string> = {}): Promise<{ c: Client; device: TotpDevice }> {
  const c = new Client(f.url);
  const r = await c.postForm(path, { ...extra, username: user, password });
  if (!/enroll/.test(r.headers.get('location') ?? '')) throw new Error(`expected enrollment, got ${r.status} ${r.headers.get('location')}`);
  const { r: done, device } = await enrollTotp(c, '/', f.clock);
  if (done.status !== 303) throw new Error('enrollment failed');
  return { c, device };
}

t.test('PHP-style app: a repeated username field is refused before the app sees it', async (t) => {
  const { f, app } = await start(t, { style: 'php' });
  const c = new Client(f.url);
  const r = await c.fetch('/login', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: f.url },
    body: 'username=mallory&username=victim&password=victim-pass',
  });
  t.equal(r.status, 400, 'refused');
  t.equal(loginPosts(app), 0, 'the app never received the ambiguous form');
  t.equal(app.sessions.size, 0, 'nobody signed in at the app');
  t.same(setCookieNames(r), [], 'no gateway session either');

  const ok = await c.postForm('/login', { username: 'victim', password: 'victim-pass' });
  t.equal(ok.status, 303, 'the same form without the repeat signs in');
  t.match(ok.headers.get('location'), /^\/\.gatehouse\/enroll/);
});

t.test('servlet-style app: a username also in the query string is refused', async (t) => {
  const { f, app } = await start(t, { style: 'servlet' });
  const c = new Client(f.url);
  const r = await c.postForm('/login?username=victim', { username: 'mallory', password: 'victim-pass' });
  t.equal(r.status, 400, 'refused');
  t.equal(loginPosts(app), 0, 'the app never received it');
  t.equal(app.sessions.size, 0);
});

t.test('case- and accent-insensitive user table: one gateway user, never a new factor-less one', async (t) => {
  const { f, app } = await start(t, { style: 'php' });
  await signInEnrolled(f, 'victim', 'victim-pass');
  t.equal(app.sessions.size, 1, 'the victim enrolled TOTP once');

  // Someone with only the victim's app password, typing the name in another case.
  const m = new Client(f.url);
  let r = await m.postForm('/login', { username: 'VICTIM', password: 'victim-pass' });
  t.equal(r.status, 303);
  t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge/, 'the victim\'s own second factor is asked, not a new enrollment');
  t.notOk(m.cookies.has('SID'), 'and the app session stays held');

  // With an accent the app folds away.
  const before = loginPosts(app);
  r = await m.postForm('/login', { username: 'vîctim', password: 'victim-pass' });
  t.equal(r.status, 400, 'a non-ASCII username is refused (allow_unicode is off)');
  t.equal(loginPosts(app), before, 'and never reaches the app');
});

t.test('allow_unicode: accents fold to the same gateway user', async (t) => {
  const { f } = await start(t, { style: 'php' }, { allow_unicode: true });
  await signInEnrolled(f, 'victim', 'victim-pass');
  const m = new Client(f.url);
  const r = await m.postForm('/login', { username: 'Vîctim', password: 'victim-pass' });
  t.equal(r.status, 303);
  t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge/, 'challenged for the victim\'s factor');
});

t.test('app confirmation: whoami and user_header must name the form\'s user', async (t) => {
  await t.test('whoami naming another user: refused, no session, counted', async (t) => {
    const { f, app } = await start(t, { style: 'php', aliases: { boss: 'victim' }, users: { victim: 'victim-pass', boss: 'victim-pass' } },
      { whoami: { path: '/whoami', pattern: '<span id="user">([^<]+)</span>' } });
    const c = new Client(f.url);
    const r = await c.postForm('/login', { username: 'boss', password: 'victim-pass' });
    t.equal(r.status, 403, 'the app signed in victim for "boss": refused');
    t.same(setCookieNames(r), [], 'no gateway session, no app cookie');
    t.ok(app.requests.some((q) => q.url === '/whoami' && q.cookie?.includes('SID=')), 'the gateway asked whoami with the new app cookie');
    t.equal(await f.gw.services.shared.get('fail:pwd:u:boss'), '1', 'counted as a failed sign-in');
    const ok = await c.postForm('/login', { username: 'victim', password: 'victim-pass' });
    t.equal(ok.status, 303, 'whoami naming the same user passes');
  });
  await t.test('user_header naming another user: refused', async (t) => {
    const { f } = await start(t, { style: 'servlet', aliases: { boss: 'victim' }, users: { victim: 'victim-pass', boss: 'victim-pass' } },
      { success: { status: 302, set_cookie: 'SID', user_header: 'X-App-User' } });
    const c = new Client(f.url);
    t.equal((await c.postForm('/login', { username: 'boss', password: 'victim-pass' })).status, 403);
    t.equal((await c.postForm('/login', { username: 'Victim', password: 'victim-pass' })).status, 303, 'the header names victim, folded the same way');
  });
});

t.test('single-script app: sign-in recognized by login_match, everything else decided by the policy', async (t) => {
  const { f, app } = await start(t, { style: 'php', single: true });
  const anon = new Client(f.url);

  let r = await anon.fetch('/app.php?action=login');
  t.equal(r.status, 200, 'the login page is implicitly open under policy.default mfa');
  r = await anon.fetch('/app.php?action=home');
  t.equal(r.status, 302, 'other pages of the same script are not');
  t.equal(r.headers.get('location'), '/app.php?action=login', 'they send the browser to the app\'s login page');

  // An anonymous edit: challenged, never forwarded, and not a failed sign-in.
  for (let i = 0; i < 30; i++) {
    r = await anon.postForm('/app.php', { action: 'edit', text: `spam ${i}` });
    t.equal(r.status, 302, `anonymous edit ${i} challenged`);
  }
  t.equal(app.edits.length, 0, 'no edit reached the app');
  t.equal(app.requests.filter((q) => q.method === 'POST').length, 0, 'no POST reached the app at all');
  t.equal(await f.gw.services.shared.get(`fail:pwd:ip:127.0.0.1`), null, 'edits are not failed sign-ins');

  // A wrong password without a username: throttled by address only.
  r = await anon.postForm('/app.php', { action: 'login', username: '', password: 'x' });
  t.equal(r.status, 200, 'the app\'s own answer');
  t.equal(await f.gw.services.shared.get('fail:pwd:ip:127.0.0.1'), '1', 'counted for the address');
  t.equal(await f.gw.services.shared.get('fail:pwd:u:-'), null, 'never under a shared unknown-user key');

  // Signed in at the app, second factor not yet passed: an edit is still not forwarded.
  const c = new Client(f.url);
  r = await c.postForm('/app.php', { action: 'login', username: 'victim', password: 'victim-pass' });
  t.equal(r.status, 303, 'the sign-in is intercepted');
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/);
  r = await c.postForm('/app.php', { action: 'edit', text: 'before the second factor' }, { referer: `${f.url}/app.php?action=home` });
  t.equal(r.status, 302, 'challenged');
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/);
  t.equal(app.edits.length, 0, 'the edit did not reach the app');

  // After enrollment the app session is released and edits pass as that user.
  const { r: done } = await enrollTotp(c, '/app.php?action=home', f.clock);
  t.ok(setCookieNames(done).includes('SID'), 'the app cookie is released with the second factor');
  r = await c.postForm('/app.php', { action: 'edit', text: 'after' });
  t.equal(r.status, 200);
  t.same(app.edits, [{ user: 'victim', body: 'action=edit&text=after' }], 'the edit arrives once, as victim');

  // login_match: an ambiguous action (query and body disagree) is not a sign-in, and credentials
  // outside the sign-in never reach an app that would honour them on any request.
  const posts = app.requests.filter((q) => q.method === 'POST').length;
  r = await c.postForm('/app.php?action=login', { action: 'edit', username: 'victim', password: 'victim-pass' });
  t.equal(r.status, 400, 'an ambiguous sign-in is refused');
  r = await c.postForm('/app.php', { action: 'edit', username: 'mallory', password: 'mallory-pass' });
  t.equal(r.status, 400, 'a username in another action is refused');
  r = await c.fetch('/app.php?action=home&username=mallory&password=mallory-pass');
  t.equal(r.status, 400, 'and in the query of any request to the script');
  t.equal(app.requests.filter((q) => q.method === 'POST').length, posts, 'none reached the app');
  t.equal(app.sessions.size, 1, 'nobody else was signed in at the app');

  // The app's logout (logout_match) ends the gateway session too.
  r = await c.fetch('/app.php?action=logout');
  t.equal(r.status, 302);
  t.notOk(c.cookies.has('gatehouse'), 'the gateway session ended with the app\'s');
});

t.test('the login page is open with policy.default mfa; check warns about a rule that says otherwise', async (t) => {
  const { f } = await start(t, { style: 'php' }, {}, { policy: { default: 'mfa', rules: [{ id: 'all', match: { path: '/**' }, require: 'mfa' }] } });
  const r = await new Client(f.url).fetch('/login');
  t.equal(r.status, 200, 'GET /login answers the app\'s form, not a redirect to itself');
  const out: string[] = [];
  const code = await runCheck(['--config', f.configPath], { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } } as never);
  t.equal(code, 0);
  t.match(out.join(''), /warning: .*rule all.*login_path \/login/, 'check names the rule the login path overrides');
});

t.test('the app cookie stays held until the second factor even when the app redirects to an open page', async (t) => {
  const { f } = await start(t, { style: 'php', successTarget: '/login' });
  const c = new Client(f.url);
  const r = await c.postForm('/login', { username: 'victim', password: 'victim-pass' });
  t.equal(r.status, 303);
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2Flogin/, 'to enrollment, then back to the app\'s (open) target');
  t.same(setCookieNames(r), ['gatehouse'], 'the app cookie is held');
});

t.test('app sessions follow the gateway session', async (t) => {
  const { f, app } = await start(t, { style: 'php', users: { victim: 'victim-pass', mallory: 'mallory-pass', trent: 'trent-pass' } });
  const { c: victim, device: secret } = await signInEnrolled(f, 'victim', 'victim-pass');
  const victimSid = victim.cookies.get('SID')!;
  t.ok(victimSid, 'the victim holds the released app session');
  t.equal((await victim.fetch('/home')).status, 200);
  t.match(app.requests.at(-1)!.cookie, `SID=${victimSid}`, 'the victim\'s own app session reaches the app');

  // Mallory, fully signed in as herself, replays the victim's stolen app cookie.
  const { c: mallory, device: mallorySecret } = await signInEnrolled(f, 'mallory', 'mallory-pass');
  const mallorySid = mallory.cookies.get('SID')!;
  const body = await (await mallory.fetch('/home', { headers: { cookie: `${mallory.cookieHeader().replace(`SID=${mallorySid}`, `SID=${victimSid}`)}` } })).text();
  t.match(body, /Hello guest/, 'the app saw no session');
  t.notMatch(app.requests.at(-1)!.cookie ?? '', victimSid, 'the stolen value was stripped');

  // The gateway's sign-out expires the app cookie in the browser.
  const csrf = await victim.csrf('/.gatehouse/logout');
  const out = await victim.postForm('/.gatehouse/logout', { csrf });
  t.ok(out.headers.getSetCookie().some((sc) => /^SID=;.*Max-Age=0/.test(sc)), 'sign-out expires SID');
  t.notOk(victim.cookies.has('SID'));

  // Another user signing in on the same browser: the previous user's app cookie is expired, not inherited.
  const shared = new Client(f.url);
  let r = await shared.postForm('/login', { username: 'victim', password: 'victim-pass' });
  await passTotp(shared, secret, '/');
  const first = shared.cookies.get('SID')!;
  t.ok(first);
  r = await shared.postForm('/login', { username: 'mallory', password: 'mallory-pass' });
  t.ok(r.headers.getSetCookie().some((sc) => /^SID=;.*Max-Age=0/.test(sc)), 'the previous user\'s app cookie expires at the next sign-in');
  t.notOk(shared.cookies.has('SID'));
  t.equal((await passTotp(shared, mallorySecret, '/')).status, 303, 'mallory passes her own second factor');
  const mine = shared.cookies.get('SID')!;
  r = await shared.fetch('/home', { headers: { cookie: `${shared.cookieHeader().replace(`SID=${mine}`, `SID=${first}`)}` } });
  t.equal(app.requests.at(-1)!.url, '/home', 'the request reached the app');
  t.notMatch(app.requests.at(-1)!.cookie ?? '', first, 'but a kept copy of the previous user\'s app cookie is stripped');
  r = await shared.fetch('/home');
  t.match(await r.text(), /Hello mallory/, 'her own app session works');

  // Revocation: a revoked gateway session's browser gets its app cookie expired on the next visit.
  const revoked = (await signInEnrolled(f, 'trent', 'trent-pass')).c;
  t.ok(revoked.cookies.has('SID'));
  await f.gw.services.sessions.revokeUser('trent');
  r = await revoked.fetch('/login');
  t.ok(r.headers.getSetCookie().some((sc) => /^SID=;.*Max-Age=0/.test(sc)), 'the app cookie expires after revocation');
});
