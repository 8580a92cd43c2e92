// Passkey sign-in as an attacker would try it, over real sockets against a
// real gateway and store, with a software authenticator in the test process
// (test/helpers/soft-authenticator.ts) so every part of an answer can be
// chosen: a replayed assertion, another user's handle, no user verification, a
// counter that goes back, a credential id registered to someone else, and a
// flood of ceremonies that each leave a pending challenge behind (the bounds on
// them alone: test/ui/passkey-start-bounds.test.ts).

import t from 'tap';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { PENDING_PER_BROWSER, STARTS_PER_ADDRESS_PER_MINUTE } from '../../src/ui/passkey-signin.ts';

const USERS = { alice: { password: 'alice-test-pass' }, bob: { password: 'bob-test-pass' }, carol: { password: 'carol-test-pass' } };
const f = await startTestGateway({
  upstream: false,
  users: USERS,
  config: {
    policy: {
      default: 'login',
      rules: [
        { id: 'keys-only', match: { path: '/keys/**' }, require: 'mfa', max_age: '10m', factors: ['webauthn'] },
        { id: 'codes-only', match: { path: '/codes/**' }, require: 'mfa', max_age: '10m', factors: ['totp', 'email'] },
      ],
    },
  },
});
t.teardown(() => f.close());

function postJson(c: Client, path: string, csrf: string, body: unknown) {
  return c.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', origin: f.url, 'x-csrf-token': csrf }, body: JSON.stringify(body) });
}

/** Signs `user` in with the password and registers `auth` as a passkey; the status of the registration. */
async function enroll(user: keyof typeof USERS, auth: SoftAuthenticator): Promise<number> {
  const c = new Client(f.url);
  if ((await c.signIn(user, USERS[user].password)).status !== 303) throw new Error('sign-in failed');
  const page = await (await c.fetch('/.gatehouse/enroll?method=webauthn')).text();
  const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1] ?? '';
  const r = await postJson(c, '/.gatehouse/webauthn/register-options', csrf, { kind: 'passkey' });
  if (r.status !== 200) throw new Error(`register-options: ${r.status}`);
  const { options } = await r.json() as { options: { challenge: string; user: { id: string } } };
  return (await postJson(c, '/.gatehouse/webauthn/register-verify', csrf, { kind: 'passkey', name: 'Key', response: auth.register(options) })).status;
}

/** A fresh browser on the sign-in page: its session, its CSRF token and a pending passkey challenge. */
async function startSignIn(): Promise<{ c: Client; csrf: string; challenge: string }> {
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  const r = await postJson(c, '/.gatehouse/passkey/options', csrf, {});
  if (r.status !== 200) throw new Error(`passkey options: ${r.status}`);
  const { options } = await r.json() as { options: { challenge: string } };
  return { c, csrf, challenge: options.challenge };
}

async function verify(s: { c: Client; csrf: string }, response: unknown): Promise<number> {
  return (await postJson(s.c, '/.gatehouse/passkey/verify', s.csrf, { response, rd: '/' })).status;
}

const lastFailure = () => readAudit(f).filter((e) => e.event === 'signin.failure').at(-1);

const alice = new SoftAuthenticator('localhost', f.url);
const bob = new SoftAuthenticator('localhost', f.url);

t.test('a passkey signs its owner in; a replay, another user\'s handle, no verification or a counter going back do not', async (t) => {
  t.equal(await enroll('alice', alice), 200, 'alice registers a passkey');
  t.equal(await enroll('bob', bob), 200, 'bob registers one');

  const s = await startSignIn();
  const answer = alice.assert(s.challenge);
  t.equal(await verify(s, answer), 200, 'alice signs in with it');
  const attacker = await startSignIn();
  t.equal(await verify(attacker, answer), 401, 'the same assertion, replayed from another browser: refused');
  t.match(lastFailure(), { reason: 'passkey: no pending sign-in (expired or already used)' });

  const handle = await startSignIn();
  t.equal(await verify(handle, alice.assert(handle.challenge, { userHandle: bob.userHandle })), 401, 'alice\'s credential naming bob: refused');
  t.match(lastFailure(), { reason: 'passkey: credential belongs to another user' });

  const noUv = await startSignIn();
  t.equal(await verify(noUv, alice.assert(noUv.challenge, { uv: false })), 401, 'without user verification: refused');
  t.match(lastFailure(), { reason: /passkey: .*user verification/i });

  const back = await startSignIn();
  t.equal(await verify(back, alice.assert(back.challenge, { counter: 1 })), 401, 'a counter that does not move forward (a clone): refused');
  t.match(lastFailure(), { reason: 'passkey: counter regression' });

  const again = await startSignIn();
  t.equal(await verify(again, alice.assert(again.challenge)), 200, 'the real authenticator still signs alice in');
});

t.test('a passkey sign-in meets a step-up that accepts webauthn, for its max_age only, and no rule that lists only other factors', async (t) => {
  const s = await startSignIn();
  const before = new Client(f.url);
  before.cookies = new Map(s.c.cookies);
  t.equal(await verify(s, alice.assert(s.challenge)), 200);
  t.notSame([...s.c.cookies.values()], [...before.cookies.values()], 'a new session cookie');
  const get = async (path: string, c = s.c) => (await c.fetch(path, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } })).status;
  t.equal(await get('/keys/x', before), 401, 'the cookie from before the sign-in signs nobody in (no fixation)');
  // Allowed requests go to the route's upstream, which is closed here: 502 means the gateway let it through.
  t.equal(await get('/keys/x'), 502, 'keys-only: let through');
  t.equal(await get('/codes/x'), 401, 'codes-only (totp, email): still asked');
  f.clock.advance(11 * 60_000);
  t.equal(await get('/keys/x'), 401, 'keys-only after its max_age: asked again');
});

t.test('a cloned authenticator: two assertions with one counter value, sent at once, sign in once', async (t) => {
  const [one, two] = [await startSignIn(), await startSignIn()];
  const counter = alice.counter + 1;
  const statuses = await Promise.all([verify(one, alice.assert(one.challenge, { counter })), verify(two, alice.assert(two.challenge, { counter }))]);
  t.same(statuses.sort(), [200, 401], 'one signs in, the other is refused');
  t.match(lastFailure(), { reason: 'passkey: counter regression' });
});

t.test('a credential id already registered to another user cannot be registered again (WebAuthn §7.1 step 26)', async (t) => {
  // Credential ids are not secret (every allowCredentials list names them); a software authenticator can claim any.
  const squatter = new SoftAuthenticator('localhost', f.url, alice.credentialId);
  t.equal(await enroll('carol', squatter), 400, 'carol registering alice\'s credential id: refused');
  const s = await startSignIn();
  t.equal(await verify(s, alice.assert(s.challenge)), 200, 'alice\'s passkey sign-in is not taken away from her');
  t.equal((await f.gw.services.store.factorsByCredentialId(alice.id)).length, 1, 'one owner in the store');
});

t.test('pending passkey challenges are bounded per browser; an address shared by many browsers (NAT) is not held to that', async (t) => {
  // Each options call leaves a challenge in shared state for minutes, and the sign-in page's anonymous sessions cost nothing to make.
  f.clock.hold();
  t.teardown(() => f.clock.release());
  f.clock.advance(61_000); // the address's count from the tests above has lapsed
  const options = (c: Client, csrf: string) => postJson(c, '/.gatehouse/passkey/options', csrf, {});

  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  const statuses: number[] = [];
  for (let i = 0; i < 100 && statuses.at(-1) !== 429; i++) statuses.push((await options(c, csrf)).status);
  t.equal(statuses.length - 1, PENDING_PER_BROWSER, `one browser: refused after ${PENDING_PER_BROWSER} waiting challenges`);
  t.ok(PENDING_PER_BROWSER >= 20, 'a sign-in page opened many times (autofill asks on every load) is still served');
  const refused = await options(c, csrf);
  t.equal(refused.status, 429);
  t.match(await refused.json(), { ok: false, code: 'throttled', wait_seconds: Number });

  // Other browsers behind the same address go on, up to the address's ceiling (the old cap was 60).
  const asked = statuses.length + 1;
  let served = 0;
  let status = 200;
  for (let b = 0; b < 40 && status === 200; b++) {
    const other = new Client(f.url);
    const token = await other.csrf('/.gatehouse/login');
    for (let i = 0; i < PENDING_PER_BROWSER && status === 200; i++) if ((status = (await options(other, token)).status) === 200) served++;
  }
  t.equal(served + asked, STARTS_PER_ADDRESS_PER_MINUTE, `every start from one address within a minute served up to ${STARTS_PER_ADDRESS_PER_MINUTE}`);
  t.ok(served > 60, `${served} starts by other browsers at that address served`);
  const late = new Client(f.url);
  const lateCsrf = await late.csrf('/.gatehouse/login');
  t.equal((await options(late, lateCsrf)).status, 429, 'past the address ceiling: refused, whatever the browser');
  f.clock.advance(61_000);
  t.equal((await options(late, lateCsrf)).status, 200, 'a minute later: a fresh browser is served again');
  t.equal((await options(c, csrf)).status, 429, 'the browser that filled its pool still waits for its challenges to lapse');
  f.clock.advance(2 * 5 * 60_000);
  t.equal((await options(c, csrf)).status, 200, 'once they have, it is served again');
});
