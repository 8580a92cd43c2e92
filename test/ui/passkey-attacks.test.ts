// Passkey sign-in as an attacker would try it, over real sockets against a
// real gateway and store, with a software authenticator in the test process
// (test/helpers/soft-authenticator.ts) so every part of an answer can be
// chosen: a replayed assertion, another user's handle, no user verification, a
// counter that goes back, a credential id registered to someone else, and a
// few addresses starting ceremonies as fast as they are let, to lock everyone
// else out (the challenges alone, on each shared state:
// test/ui/passkey-start-bounds.test.ts). Addresses come through a trusted proxy
// on loopback.

import t, { type Test } from 'tap';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { STARTS_PER_ADDRESS_PER_MINUTE } from '../../src/ui/passkey-signin.ts';
import type { SharedState } from '../../src/store/shared-state.ts';

const USERS = { alice: { password: 'alice-test-pass' }, bob: { password: 'bob-test-pass' }, carol: { password: 'carol-test-pass' } };
const f = await startTestGateway({
  upstream: false,
  users: USERS,
  config: {
    server: { trusted_proxies: ['127.0.0.1/32'] },
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

function postJson(c: Client, path: string, csrf: string, body: unknown, headers: Record<string, string> = {}) {
  return c.fetch(path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json', origin: f.url, 'x-csrf-token': csrf }, body: JSON.stringify(body) });
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

/** A fresh browser on the sign-in page (at `ip`, else loopback): its session, its CSRF token and a passkey challenge. */
async function startSignIn(ip?: string): Promise<{ c: Client; csrf: string; challenge: string }> {
  const c = new Client(f.url);
  const headers: Record<string, string> = ip ? { 'x-forwarded-for': ip } : {};
  const csrf = /name="csrf" value="([^"]+)"/.exec(await (await c.fetch('/.gatehouse/login', { headers })).text())?.[1] ?? '';
  const r = await postJson(c, '/.gatehouse/passkey/options', csrf, {}, headers);
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
  t.match(lastFailure(), { reason: 'passkey: the sign-in was started by another browser' });

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

/** Records the key of every write to `shared` until the test ends (the same object the gateway's parts hold). */
function writesTo(t: Test, shared: SharedState): string[] {
  const keys: string[] = [];
  const methods = ['set', 'setIfAbsent', 'incr', 'take', 'delete'] as const;
  for (const m of methods) {
    const real = shared[m] as (key: string, ...rest: never[]) => Promise<unknown>;
    (shared as unknown as Record<string, unknown>)[m] = (key: string, ...rest: never[]) => { keys.push(key); return real.call(shared, key, ...rest); };
    t.teardown(() => { (shared as unknown as Record<string, unknown>)[m] = real; });
  }
  return keys;
}

t.test('a handful of addresses starting as fast as they are let hold nothing, and lock nobody else out', async (t) => {
  // The review's finding: 4 to 7 addresses at their ceiling filled a pool of waiting challenges, and then nobody got one.
  f.clock.hold();
  t.teardown(() => f.clock.release());
  f.clock.advance(61_000); // the address's count from the tests above has lapsed
  const writes = writesTo(t, f.gw.services.shared);
  const sources = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5', '198.51.100.6', '198.51.100.7'];
  for (const ip of sources) {
    // One browser per address: a start no longer counts against its browser, only against its address.
    const s = await startSignIn(ip);
    let served = 1;
    let last: Response;
    while ((last = await postJson(s.c, '/.gatehouse/passkey/options', s.csrf, {}, { 'x-forwarded-for': ip })).status === 200) { served++; await last.arrayBuffer(); }
    t.equal(served, STARTS_PER_ADDRESS_PER_MINUTE, `${ip}: ${served} starts, then refused`);
    t.match({ status: last.status, body: await last.json() }, { status: 429, body: { ok: false, code: 'throttled', wait_seconds: Number } });
  }
  const starts = sources.length * STARTS_PER_ADDRESS_PER_MINUTE;
  t.same([...new Set(writes)].sort(), sources.map((ip) => `passkey:start:${ip}`).sort(),
    `${starts} starts wrote one counter per address to shared state, and no challenge`);

  const fresh = await startSignIn('203.0.113.9');
  t.equal(await verify(fresh, alice.assert(fresh.challenge)), 200, 'a fresh address is served, and its passkey signs in');
  t.ok(writes.some((k) => k.startsWith('webauthn:disc-spent:')), 'answering a challenge spends it in shared state (single use)');
  f.clock.advance(61_000);
  t.match(await startSignIn(sources[0]), { challenge: String }, 'a minute later, the first address is served again');
});
