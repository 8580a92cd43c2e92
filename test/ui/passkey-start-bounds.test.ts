// What bounds passkey sign-in starts (src/ui/passkey-signin.ts): the
// source a per-address ceiling counts, as a table; and, against each real
// shared state (memory, Redis), that a start holds nothing there, so no number
// of starts can keep anyone else from signing in, while an answer is spent
// once across instances, only by the browser that asked, and not at all when
// shared state fails. Two WebAuthn services over one shared state and one
// SQLite store are two instances; a software authenticator answers.

import t, { type Test } from 'tap';
import { addressSource } from '../../src/policy/address-prefix.ts';
import { createWebAuthn, type WebAuthnService } from '../../src/factors/webauthn.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { createRedisSharedState } from '../../src/store/redis-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { REDIS_URL, requireRedis } from '../helpers/services.ts';
import { dropRedisPrefix, randomPrefix } from '../scale/instances.ts';

t.test('the source a per-address ceiling counts', async (t) => {
  const cases: Array<[string, string]> = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:abcd:0:0:1', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [ip, source] of cases) t.equal(addressSource(ip), source, ip);
});

const ORIGIN = 'http://localhost:8080';
const TTL = 10_000;
const KEY = Buffer.alloc(32, 9);

/** A fresh, empty shared state of one kind, closed when `t` ends; memory follows `now`, Redis its own clock. */
type OpenShared = (t: Test, now: () => number) => Promise<SharedState>;

const memory: OpenShared = async (t, now) => {
  const shared = createMemorySharedState({ now });
  t.teardown(() => shared.close());
  return shared;
};

const redis: OpenShared = async (t) => {
  const prefix = randomPrefix();
  const shared = createRedisSharedState(REDIS_URL, prefix);
  t.teardown(async () => { await shared.close(); await dropRedisPrefix(REDIS_URL, prefix); });
  return shared;
};

t.test('memory shared state', async (t) => challengeTests(t, memory));

t.test('Redis shared state', async (t) => {
  if (!(await requireRedis(t))) return; // requireRedis said why, loudly (and fails under CI)
  await challengeTests(t, redis);
});

/**
 * `shared` as the services see it, with every write's key recorded and a
 * switch that makes every call fail (an unreachable shared state).
 */
function watched(shared: SharedState): { shared: SharedState; writes: string[]; down: (on: boolean) => void } {
  const writes: string[] = [];
  let isDown = false;
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, write: boolean) => async (...a: A): Promise<R> => {
    if (isDown) throw new Error('shared state unreachable');
    if (write) writes.push(String(a[0]));
    return fn(...a);
  };
  return {
    writes,
    down: (on) => { isDown = on; },
    shared: {
      ...shared,
      get: wrap(shared.get, false),
      ttl: wrap(shared.ttl, false),
      set: wrap(shared.set, true),
      setIfAbsent: wrap(shared.setIfAbsent, true),
      take: wrap(shared.take, true),
      delete: wrap(shared.delete, true),
      incr: wrap(shared.incr, true),
    },
  };
}

async function challengeTests(t: Test, open: OpenShared): Promise<void> {
  let now = 1_800_000_000_000;
  const real = await open(t, () => now);
  const w = watched(real);
  const store = openSqliteStore(':memory:');
  await store.migrate();
  t.teardown(() => store.close());
  const instance = (challengeKey = KEY) => createWebAuthn({ store, shared: w.shared, rpName: 'Gatehouse test', publicUrl: ORIGIN, now: () => now, challengeTtlMs: TTL, challengeKey });
  const [one, two] = [instance(), instance()];
  const alice = new SoftAuthenticator('localhost', ORIGIN);
  const reg = await one.finishRegistration({ id: 'alice' }, 'browser-a', alice.register(await one.registrationOptions({ id: 'alice', name: 'alice', displayName: 'Alice' }, 'browser-a', 'passkey')), 'Key');
  if (!reg.ok) throw new Error(reg.reason);

  /** Starts a sign-in for browser `bind` on `start` and answers it on `finish`, the sign counter at `counter`. */
  async function signIn(start: WebAuthnService, finish: WebAuthnService, bind: string, counter?: number) {
    const options = await start.discoverableOptions(bind);
    return finish.finishDiscoverable(bind, alice.assert(options.challenge, { counter }));
  }

  await t.test('starts hold nothing in shared state: a flood of them from a few browsers leaves a fresh browser its sign-in', async (t) => {
    const before = w.writes.length;
    // More starts than the pool of waiting challenges once held (20,000) in its 10-minute count, by 7 browsers.
    for (let i = 0; i < 21_000; i++) await one.discoverableOptions(`flooder-${i % 7}`);
    t.same(w.writes.slice(before), [], '21,000 starts wrote nothing');
    w.down(true);
    const offline = await two.discoverableOptions('fresh');
    w.down(false);
    t.match(offline, { challenge: String, userVerification: 'required' }, 'a start does not even need shared state');
    const r = await signIn(one, two, 'fresh');
    t.equal(r.ok && r.user, 'alice', 'a fresh browser signs in, started on one instance and answered on the other');
  });

  await t.test('an answer is spent once, across instances, even when two arrive at once', async (t) => {
    const options = await one.discoverableOptions('sid-a');
    const answer = alice.assert(options.challenge);
    t.equal((await two.finishDiscoverable('sid-a', answer)).ok, true, 'answered on the other instance');
    for (const svc of [one, two]) t.same(await svc.finishDiscoverable('sid-a', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'replayed: refused');
    // A sign counter that never moves (synced passkeys): only single use stands between the two.
    const synced = new SoftAuthenticator('localhost', ORIGIN);
    const reg = await two.finishRegistration({ id: 'bob' }, 'browser-a', synced.register(await one.registrationOptions({ id: 'bob', name: 'bob', displayName: 'Bob' }, 'browser-a', 'passkey')), 'Key');
    if (!reg.ok) throw new Error(reg.reason);
    const zero = await one.discoverableOptions('sid-z');
    const same = synced.assert(zero.challenge, { counter: 0 });
    const both = await Promise.all([one.finishDiscoverable('sid-z', same), two.finishDiscoverable('sid-z', same)]);
    t.equal(both.filter((r) => r.ok).length, 1, 'two answers at once on two instances: one signs in');
    t.match(both.find((r) => !r.ok), { ok: false, reason: 'no pending sign-in (expired or already used)' });
  });

  await t.test('only the browser that asked can spend it; another learns nothing and cancels nothing', async (t) => {
    const options = await one.discoverableOptions('sid-right');
    const answer = alice.assert(options.challenge);
    const before = w.writes.length;
    t.same(await two.finishDiscoverable('sid-wrong', answer), { ok: false, reason: 'the sign-in was started by another browser' });
    t.same(w.writes.slice(before), [], 'nothing spent');
    t.equal((await two.finishDiscoverable('sid-right', answer)).ok, true, 'the browser that asked still signs in');
    const elsewhere = instance(Buffer.alloc(32, 10));
    const theirs = await elsewhere.discoverableOptions('sid-x');
    t.same(await one.finishDiscoverable('sid-x', alice.assert(theirs.challenge)), { ok: false, reason: 'the sign-in was started by another browser' },
      'an instance with another key: its challenges are refused here (every instance needs the same factors.encryption_key)');
  });

  await t.test('a challenge lapses with the ceremony, spending nothing', async (t) => {
    const options = await one.discoverableOptions('sid-slow');
    now += TTL;
    const before = w.writes.length;
    t.same(await two.finishDiscoverable('sid-slow', alice.assert(options.challenge)), { ok: false, reason: 'no pending sign-in (expired or already used)' });
    t.same(w.writes.slice(before), [], 'nothing written');
  });

  await t.test('the mark that spends an answer outlives its challenge', async (t) => {
    const options = await one.discoverableOptions('sid-late');
    now += TTL - 1;
    const answer = alice.assert(options.challenge);
    t.equal((await one.finishDiscoverable('sid-late', answer)).ok, true, 'answered in its last millisecond');
    const mark = w.writes.at(-1)!;
    t.match(mark, /^webauthn:disc-spent:/);
    t.ok(await real.ttl(mark) > 0, 'the mark is there');
    t.same(await two.finishDiscoverable('sid-late', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' });
  });

  await t.test('shared state unreachable: an answer is refused (fails closed), and spent nothing', async (t) => {
    const options = await one.discoverableOptions('sid-down');
    const answer = alice.assert(options.challenge);
    w.down(true);
    await t.rejects(two.finishDiscoverable('sid-down', answer), /shared state unreachable/, 'refused with the error');
    w.down(false);
    t.equal((await one.finishDiscoverable('sid-down', answer)).ok, true, 'once it is back, the same answer signs in, once');
    t.same(await two.finishDiscoverable('sid-down', answer), { ok: false, reason: 'no pending sign-in (expired or already used)' });
  });
}
