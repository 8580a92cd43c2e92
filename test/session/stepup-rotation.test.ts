// Session id rotates at sign-in and at every step-up (README "Security model").
// Passing the second factor after the password, and passing a step-up a rule
// asks for, each issue a new session id; the cookie from before no longer signs
// anyone in (the old session is revoked, not just superseded), while the new one
// works.

import t, { type Test } from 'tap';
import { unsealData } from 'iron-session';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { enrollTotpOverHttp, passTotp } from '../helpers/totp.ts';

const TEST_SECRET = 'test-session-secret-0123456789-abcdefghijklmnop'; // the helper's config
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const MAX_AGE_MS = 60_000;

const CONFIG = {
  policy: {
    default: 'mfa',
    rules: [{ id: 'admin', match: { path: '/echo/admin/**' }, require: 'mfa', max_age: '1m' }],
  },
  rollout: { grace_until: '2099-12-31' },
};

async function sessionIn(value: string): Promise<{ sid?: string; user?: string; factors?: Array<{ kind: string }> }> {
  return unsealData(value, { password: TEST_SECRET, ttl: 86_400 });
}

/** What a browser holding only `cookie` gets for `path`: a fresh client, so no earlier answer changed what it sends. */
async function withCookie(f: GatewayFixture, cookie: string, path: string, api: boolean): Promise<Response> {
  const c = new Client(f.url);
  c.cookies.set(f.gw.services.sessions.cookieName, cookie);
  return c.fetch(path, api ? { headers: API } : {});
}

/** A gateway where alice has TOTP, and a fresh browser that has just given her password. */
async function aliceAfterPassword(t: Test) {
  const f = await startTestGateway({ config: CONFIG });
  t.teardown(() => f.close());
  const name = f.gw.services.sessions.cookieName;
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  const c = new Client(f.url);
  const signed = await c.signIn('alice', 'alice-test-pass', '/echo');
  return { f, name, device, c, signed };
}

/** A browser holding only `cookie` is treated as signed out: API clients get login_required, navigations the sign-in page. */
/** The cookie after a factor is another one, of alice's session under a new id; its session. */
async function rotated(t: Test, before: string, after: string) {
  t.not(after, before, 'the cookie changed');
  const post = await sessionIn(after);
  t.equal(post.user, 'alice');
  t.not(post.sid, (await sessionIn(before)).sid, 'with a new session id');
  return post;
}

async function signedOut(t: Test, f: GatewayFixture, cookie: string, navPath: string, apiMessage: string): Promise<void> {
  const oldApi = await withCookie(f, cookie, '/echo', true);
  t.equal(oldApi.status, 401, apiMessage);
  t.equal((await oldApi.json() as { error: string }).error, 'login_required', 'it is treated as signed out');
  const oldNav = await withCookie(f, cookie, navPath, false);
  t.equal(oldNav.status, 302);
  t.match(oldNav.headers.get('location'), /^\/\.gatehouse\/login\?/, 'a navigation with it is sent to sign in');
}

t.test('the second factor after the password rotates the session id; the password-only cookie dies', async (t) => {
  const { f, name, device, c, signed } = await aliceAfterPassword(t);
  t.equal(signed.status, 303, 'the password is accepted');
  const pwCookie = c.cookies.get(name)!;
  const pw = await sessionIn(pwCookie);
  t.equal(pw.user, 'alice', 'the password step gives a session of alice');
  t.same(pw.factors ?? [], [], 'with no second factor yet');

  // Control: the password-only cookie is a live session that still owes the second factor.
  const owes = await withCookie(f, pwCookie, '/echo', true);
  t.equal(owes.status, 401);
  t.equal((await owes.json() as { error: string }).error, 'mfa_required', 'before the factor the cookie is signed in, the factor is what is missing');
  const owesNav = await withCookie(f, pwCookie, '/echo', false);
  t.equal(owesNav.status, 302);
  t.match(owesNav.headers.get('location'), /^\/\.gatehouse\/challenge\?/, 'a navigation is sent to the challenge, not to sign-in');

  const passed = await passTotp(c, device, '/echo');
  t.equal(passed.status, 303, 'the TOTP code is accepted');
  t.equal(passed.headers.get('location'), '/echo');
  const mfa = await rotated(t, pwCookie, c.cookies.get(name)!);
  t.match(mfa.factors, [{ kind: 'totp' }], 'carrying the passed factor');

  await signedOut(t, f, pwCookie, '/echo', 'the old cookie does not reach the app');

  const now = await c.fetch('/echo', { headers: API });
  t.equal(now.status, 200, 'the new cookie reaches the app');
  const body = await now.json() as { headers: Record<string, string> };
  t.equal(body.headers['x-gatehouse-user'], 'alice');
  t.match(body.headers['x-gatehouse-auth-methods'], /otp/);
});

t.test('a step-up rotates the session id; the cookie from before it dies', async (t) => {
  const { f, name, device, c } = await aliceAfterPassword(t);
  t.equal((await passTotp(c, device, '/echo')).status, 303, 'signed in with password and TOTP');
  t.equal((await c.fetch('/echo/admin/x', { headers: API })).status, 200, 'the admin path is open while the factor is fresh');

  // The factor goes stale for the rule (max_age 1m); the plain MFA session stays good.
  f.clock.advance(MAX_AGE_MS + 1_000);
  const stale = await c.fetch('/echo/admin/x', { headers: API });
  t.equal(stale.status, 401);
  t.match(await stale.json(), { error: 'mfa_required', challenge: 'step_up', rule: 'admin' }, 'the rule asks for a step-up');
  const nav = await c.fetch('/echo/admin/x');
  t.equal(nav.status, 302);
  const challenge = new URL(nav.headers.get('location')!, f.url);
  t.equal(challenge.pathname, '/.gatehouse/challenge');
  t.equal(challenge.searchParams.get('rule'), 'admin');

  const before = c.cookies.get(name)!;
  // Control: the pre-step-up cookie is a fully signed-in session (outside the rule's paths).
  t.equal((await withCookie(f, before, '/echo', true)).status, 200, 'before the step-up its cookie reaches the app');

  const q = challenge.searchParams;
  const csrf = await c.csrf(`/.gatehouse/challenge?${q}&method=totp`);
  const passed = await c.postForm('/.gatehouse/challenge', { csrf, rd: q.get('rd')!, rule: q.get('rule')!, method: 'totp', code: await device.next() });
  t.equal(passed.status, 303, 'the step-up is passed');
  t.equal(passed.headers.get('location'), '/echo/admin/x');
  const after = c.cookies.get(name)!;
  await rotated(t, before, after);

  await signedOut(t, f, before, '/echo/admin/x', 'the cookie from before the step-up no longer reaches the app');

  t.equal((await c.fetch('/echo/admin/x', { headers: API })).status, 200, 'the new cookie passes the rule');
  t.equal((await withCookie(f, after, '/echo', true)).status, 200, 'and reaches the rest of the app');
});
