// The WebAuthn service against a real SQLite store where two requests meet:
// assertions of one credential verified against one read of its sign counter
// (a clone and the original), and one credential id registered by two users at
// once. A software authenticator (test/helpers/soft-authenticator.ts) makes
// the answers; a wrapper around the store holds calls at chosen points so the
// interleaving that loses is the one that runs, every time.

import t, { type Test } from 'tap';
import { createWebAuthn, type WebAuthnService } from '../../src/factors/webauthn.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';

const ORIGIN = 'http://localhost:8080';

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

/**
 * The real store, with the interleaving chosen: credential lookups wait until
 * `readers` of them have arrived (all read one counter), and a write of the
 * counter `later` waits until the write of `first` has finished.
 */
function racing(store: Store, o: { readers: number; first: number; later: number }): Store {
  let arrived = 0;
  const allRead = gate();
  const firstWritten = gate();
  const counterOf = (patch: { data?: Record<string, unknown> }) => patch.data?.counter;
  const write = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, patchAt: number) => async (...args: A): Promise<R> => {
    const counter = counterOf(args[patchAt] as { data?: Record<string, unknown> });
    if (counter === o.later) await firstWritten.opened;
    try {
      return await fn(...args);
    } finally {
      if (counter === o.first) firstWritten.open();
    }
  };
  return {
    ...store,
    async factorsByCredentialId(id) {
      const found = await store.factorsByCredentialId(id);
      if (++arrived === o.readers) allRead.open();
      await allRead.opened;
      return found;
    },
    updateFactor: write(store.updateFactor.bind(store), 2),
    updateFactorIfCounter: write(store.updateFactorIfCounter.bind(store), 3),
  };
}

async function setUp(t: Test, wrap: (store: Store) => Store = (s) => s) {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const shared = createMemorySharedState();
  t.teardown(async () => { await shared.close(); await store.close(); });
  const svc = createWebAuthn({ store: wrap(store), shared, rpName: 'Gatehouse test', publicUrl: ORIGIN });
  return { store, svc };
}

async function enroll(svc: WebAuthnService, user: string, auth: SoftAuthenticator) {
  const options = await svc.registrationOptions({ id: user, name: user, displayName: user }, 'browser-a', 'passkey');
  return svc.finishRegistration({ id: user }, 'browser-a', auth.register(options), 'Key');
}

async function passkeySignIn(svc: WebAuthnService, auth: SoftAuthenticator, counter: number, bind = 'sid') {
  const options = await svc.discoverableOptions(bind);
  return svc.finishDiscoverable(bind, auth.assert(options.challenge, { counter }));
}

t.test('the sign counter is compare-and-set: a lower counter verified alongside a higher one cannot land after it', async (t) => {
  let race: Store | undefined;
  const { store, svc } = await setUp(t, (s) => new Proxy(s, { get: (target, key) => (race ?? target)[key as keyof Store] }));
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  const reg = await enroll(svc, 'alice', auth);
  if (!reg.ok) throw new Error(reg.reason);
  t.equal((await passkeySignIn(svc, auth, 4)).ok, true, 'signed in once: the stored counter is 4');

  // Both read 4; 6 is written first; 5 comes after and must not pass (nor put the counter back to 5).
  race = racing(store, { readers: 2, first: 6, later: 5 });
  const [five, six] = await Promise.all([passkeySignIn(svc, auth, 5, 'one'), passkeySignIn(svc, auth, 6, 'two')]);
  t.equal(six.ok, true, 'the higher counter signs in');
  t.same(five, { ok: false, reason: 'counter regression' }, 'the lower one, checked again against the counter now stored, is refused');
  t.equal((await store.getFactor('alice', reg.factor.id))?.data.counter, 6, 'the stored counter never goes back');

  // Both read 6; 7 is written first; 8 finds the counter moved, checks again against 7, and is still ahead: both sign in.
  race = racing(store, { readers: 2, first: 7, later: 8 });
  const [seven, eight] = await Promise.all([passkeySignIn(svc, auth, 7, 'one'), passkeySignIn(svc, auth, 8, 'two')]);
  t.equal(seven.ok, true, 'the first write lands');
  t.equal(eight.ok, true, 'a higher counter after a lost write is checked again and still accepted');
  t.equal((await store.getFactor('alice', reg.factor.id))?.data.counter, 8);
  race = undefined;
  t.same(await passkeySignIn(svc, auth, 8), { ok: false, reason: 'counter regression' }, 'one counter value twice: refused');
});

t.test('an authenticator that always sends 0 keeps signing in, also twice at once', async (t) => {
  const { store, svc } = await setUp(t);
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  const reg = await enroll(svc, 'bob', auth);
  if (!reg.ok) throw new Error(reg.reason);
  for (let i = 0; i < 3; i++) t.equal((await passkeySignIn(svc, auth, 0)).ok, true, `sign-in ${i + 1} with counter 0`);
  const both = await Promise.all([passkeySignIn(svc, auth, 0, 'one'), passkeySignIn(svc, auth, 0, 'two')]);
  t.same(both.map((r) => r.ok), [true, true], 'a counter that never counts tells a clone from nothing (WebAuthn §6.1.1)');
  t.equal((await store.getFactor('bob', reg.factor.id))?.data.counter, 0);
  t.same(await passkeySignIn(svc, auth, 0).then(async () => passkeySignIn(svc, auth, 3)).then(async () => passkeySignIn(svc, auth, 0)),
    { ok: false, reason: 'counter regression' }, 'once it has counted, 0 is a regression');
});

t.test('one credential id registered by two users at once: exactly one is stored, the other refused as today', async (t) => {
  // Any lookup of the id made before inserting is held until both registrations made it (a check-then-insert would see no owner twice).
  const { store, svc } = await setUp(t, (s) => racing(s, { readers: 2, first: -1, later: -1 }));
  const first = new SoftAuthenticator('localhost', ORIGIN);
  const copy = new SoftAuthenticator('localhost', ORIGIN, first.credentialId);
  const [carolOptions, malloryOptions] = [
    await svc.registrationOptions({ id: 'carol', name: 'carol', displayName: 'carol' }, 'browser-a', 'passkey'),
    await svc.registrationOptions({ id: 'mallory', name: 'mallory', displayName: 'mallory' }, 'browser-a', 'passkey'),
  ];
  const results = await Promise.all([
    svc.finishRegistration({ id: 'carol' }, 'browser-a', first.register(carolOptions), 'Key'),
    svc.finishRegistration({ id: 'mallory' }, 'browser-a', copy.register(malloryOptions), 'Key'),
  ]);
  t.equal(results.filter((r) => r.ok).length, 1, 'one registration succeeds');
  t.same(results.find((r) => !r.ok), { ok: false, reason: 'credential already registered' }, 'the other gets the same refusal as a late one');
  t.equal((await store.factorsByCredentialId(first.id)).length, 1, 'one owner in the store');
});

t.test('second factor: an assertion answers the challenge of the browser that asked, there only, once', async (t) => {
  const { svc } = await setUp(t);
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  if (!(await enroll(svc, 'frank', auth)).ok) throw new Error('registration failed');
  const victim = await svc.authenticationOptions({ id: 'frank' }, 'victim');
  const attacker = await svc.authenticationOptions({ id: 'frank' }, 'attacker');
  const answer = auth.assert(victim.challenge, { counter: 1 });
  const stolen = await svc.finishAuthentication({ id: 'frank' }, 'attacker', answer);
  t.equal(stolen.ok, false, 'the victim\'s assertion submitted in another session of the user: refused');
  t.match(!stolen.ok && stolen.reason, /challenge/, 'for its challenge, not this session\'s');
  t.same(await svc.finishAuthentication({ id: 'frank' }, 'attacker', auth.assert(attacker.challenge, { counter: 2 })),
    { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'the failed try spent that session\'s own challenge');
  t.equal((await svc.finishAuthentication({ id: 'frank' }, 'victim', answer)).ok, true, 'the browser that asked still passes with it: no other session replaced or spent its challenge');
  t.same(await svc.finishAuthentication({ id: 'frank' }, 'victim', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'once');
});

t.test('passkey sign-in: another browser holding the challenge cannot spend it', async (t) => {
  const { svc } = await setUp(t);
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  if (!(await enroll(svc, 'dave', auth)).ok) throw new Error('registration failed');
  const options = await svc.discoverableOptions('right');
  const answer = auth.assert(options.challenge);
  t.same(await svc.finishDiscoverable('wrong', answer), { ok: false, reason: 'the sign-in was started by another browser' });
  const r = await svc.finishDiscoverable('right', answer);
  t.equal(r.ok && r.user, 'dave', 'the browser that asked still signs in with it');
  t.same(await svc.finishDiscoverable('right', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'then it is spent');
});

t.test('passkey sign-in: the spent mark outlives the challenge on every instance, clocks a little apart', async (t) => {
  // Two instances share one shared state; the one that gave the challenge out runs 30 s ahead
  // of the one that is answered, so the challenge lapses 30 s later on the second one's clock.
  const store = openSqliteStore(':memory:');
  await store.migrate();
  let real = 1_800_000_000_000;
  const shared = createMemorySharedState({ now: () => real });
  t.teardown(async () => { await shared.close(); await store.close(); });
  const key = Buffer.alloc(32, 5);
  const ahead = createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: ORIGIN, challengeKey: key, now: () => real + 30_000 });
  const behind = createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: ORIGIN, challengeKey: key, now: () => real });
  // Counter 0 throughout (a synced passkey): only the spent mark stops a replay.
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  if (!(await enroll(behind, 'erin', auth)).ok) throw new Error('registration failed');
  const options = await ahead.discoverableOptions('sid');
  const answer = auth.assert(options.challenge, { counter: 0 });
  const r = await behind.finishDiscoverable('sid', answer);
  t.equal(r.ok && r.user, 'erin', 'answered at once, on the instance behind');
  real += 5 * 60_000 + 10_000; // past the ceremony's 5 minutes, within the 30 s the challenge still has there
  t.same(await behind.finishDiscoverable('sid', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' },
    'replayed while that instance still takes the challenge: refused, it is spent');
  real += 30_000;
  t.same(await behind.finishDiscoverable('sid', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'and later, lapsed everywhere');
});

t.test('passkey sign-in: a clock that reads fractions of a millisecond still gives out challenges', async (t) => {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const shared = createMemorySharedState({ now: () => 1_800_000_000_000.25 });
  t.teardown(async () => { await shared.close(); await store.close(); });
  const svc = createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: ORIGIN, challengeKey: Buffer.alloc(32, 6), now: () => 1_800_000_000_000.25 });
  const auth = new SoftAuthenticator('localhost', ORIGIN);
  if (!(await enroll(svc, 'fay', auth)).ok) throw new Error('registration failed');
  const options = await svc.discoverableOptions('sid');
  const r = await svc.finishDiscoverable('sid', auth.assert(options.challenge, { counter: 1 }));
  t.equal(r.ok && r.user, 'fay', 'given out and answered');
});
