// SessionManager with real parts (iron-session seals, in-memory shared state)
// and a clock under test control: expiry, the idle refresh (touch), canonical
// cookie values, revocations seen warm and cold, and pure needsTouch/sessionExpiry tables.

import t from 'tap';
import { SessionManager, isCanonicalSeal } from '../../src/session/session-manager.ts';
import { anonymousSession, needsTouch, sessionExpiry, signedInSession, type Expiry } from '../../src/session/session-data.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';

const SECRET = 'unit-test-session-secret-0123456789-abcdefgh';
const MIN = 60_000;

function setup(opts: { maxAge?: number; idle?: number } = {}) {
  let clock = 1_800_000_000_000;
  const now = () => clock;
  const shared = createMemorySharedState({ now });
  const make = () => new SessionManager({ secret: SECRET, cookieName: 'gatehouse', secure: false, maxAge: opts.maxAge ?? 60 * MIN, idle: opts.idle ?? 10 * MIN, shared, now });
  return { now, advance: (ms: number) => { clock += ms; }, shared, make };
}

t.test('sessionExpiry table', async (t) => {
  const s = { ...anonymousSession(0), created: 0, seen: 0 };
  const rows: [string, number, number, number, Expiry][] = [
    ['fresh', 1000, 10_000, 5000, 'ok'],
    ['at the idle limit', 5000, 10_000, 5000, 'ok'],
    ['just past idle', 5001, 10_000, 5000, 'idle'],
    ['past absolute, never idle', 10_001, 10_000, 0, 'absolute'],
    ['absolute wins over idle', 20_000, 10_000, 5000, 'absolute'],
    ['idle disabled', 9_999, 10_000, 0, 'ok'],
  ];
  for (const [label, now, maxAge, idle, want] of rows) t.equal(sessionExpiry(s, now, maxAge, idle), want, label);
  t.equal(sessionExpiry({ ...s, seen: 8000 }, 9000, 10_000, 5000), 'ok', 'a recent seen keeps it alive');
});

t.test('needsTouch table: a quarter of the idle window, at most a minute', async (t) => {
  const s = { ...anonymousSession(0), seen: 0 };
  const rows: [number, number, boolean][] = [
    [100, 1000, false], [250, 1000, false], [251, 1000, true],
    [59_000, 30 * MIN, false], [60_001, 30 * MIN, true],
    [10 * MIN, 0, false], // idle disabled: never
  ];
  for (const [now, idle, want] of rows) t.equal(needsTouch(s, now, idle), want, `seen ${now} ms ago, idle ${idle}`);
});

t.test('touch keeps an active session alive and leaves the absolute limit alone', async (t) => {
  const { advance, make } = setup({ maxAge: 30 * MIN, idle: 10 * MIN });
  const m = make();
  await m.start();
  let cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  t.equal(m.touch((await m.read(cookie))!), undefined, 'not due right after sign-in');

  // Active every 3 minutes for 27 minutes: never idle for 10.
  for (let i = 0; i < 9; i++) {
    advance(3 * MIN);
    const s = await m.read(cookie);
    t.ok(s, `minute ${3 * (i + 1)}: still signed in`);
    const next = await m.touch(s!);
    t.ok(next, `minute ${3 * (i + 1)}: due for a refresh`);
    t.ok(isCanonicalSeal(next!), 'the refreshed value is a canonical seal');
    cookie = next!;
  }
  const s = await m.read(cookie);
  t.equal(s?.created, 1_800_000_000_000, 'created is kept across refreshes');
  advance(4 * MIN); // 31 minutes after sign-in
  t.equal(await m.read(cookie), null, 'the absolute max_age ends it despite activity');
});

t.test('without activity the idle timeout ends the session; a fresh gateway agrees (cold path)', async (t) => {
  const { advance, make } = setup({ maxAge: 60 * MIN, idle: 10 * MIN });
  const m = make();
  await m.start();
  const cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  advance(9 * MIN);
  t.ok(await m.read(cookie), 'within idle: warm read ok');
  t.ok(await make().read(cookie), 'within idle: cold read ok');
  advance(2 * MIN);
  t.equal(await m.read(cookie), null, 'past idle: warm read refuses');
  t.equal(await make().read(cookie), null, 'past idle: cold read refuses');
});

t.test('a burst of requests with one cookie re-seals once', async (t) => {
  const { advance, make } = setup();
  const m = make();
  const cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  advance(2 * MIN);
  const s = (await m.read(cookie))!;
  const values = await Promise.all(Array.from({ length: 20 }, () => m.touch(s)));
  const sealed = values.filter((v) => v !== undefined);
  t.equal(sealed.length, 1, 'twenty concurrent touches seal one new cookie');
  t.not(sealed[0], cookie);
});

t.test('a client that ignores Set-Cookie: the idle deadline slides server-side, one seal per interval', async (t) => {
  const { advance, make } = setup({ maxAge: 60 * MIN, idle: 4 * MIN }); // slide interval: 1 minute
  const m = make();
  const cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  let seals = 0;
  // Twelve minutes (three idle windows) of a request every 10 s, always with the first cookie.
  for (let i = 1; i <= 72; i++) {
    advance(10_000);
    const s = m.lookup(cookie);
    t.notOk(s instanceof Promise, 'a warm cookie is answered without a promise');
    if (!s || s instanceof Promise) { t.fail(`refused at ${i * 10} s`); break; }
    if (m.touch(s) !== undefined) seals++;
  }
  t.ok(seals >= 6 && seals <= 12, `at most one seal per minute (${seals} in 12 minutes)`);
  advance(4 * MIN + 1000);
  t.equal(m.lookup(cookie), null, 'idle past the window: refused');
});

t.test('a cookie that shares the cached cookie\'s tail is not taken for it', async (t) => {
  const { make } = setup();
  const m = make();
  const cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  const other = await m.seal(signedInSession('bob', ['pwd'], [], 1_800_000_000_000));
  const forged = other.slice(0, -45) + cookie.slice(-45);
  t.equal(await m.read(forged), null, 'bob\'s seal with alice\'s MAC is refused (the MAC does not match)');
  t.equal((await m.read(cookie))?.user, 'alice', 'alice\'s cookie still reads as alice');
  t.equal((await m.read(other))?.user, 'bob');
});

t.test('a refreshed cookie is revoked with its session', async (t) => {
  const { advance, make } = setup();
  const a = make();
  const b = make(); // a second instance sharing the state
  await a.start();
  await b.start();
  const old = await a.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  advance(2 * MIN);
  const s = (await a.read(old))!;
  const fresh = (await a.touch(s))!;
  t.ok(await b.read(fresh), 'the other instance accepts the refreshed cookie');
  await a.revokeSession(s, old);
  await new Promise((r) => setImmediate(r));
  t.equal(await a.read(fresh), null, 'the refreshed cookie dies with the session (this instance)');
  t.equal(await b.read(fresh), null, 'and on the other instance (pushed revocation, warm cache)');
  t.equal(await make().read(fresh), null, 'and on an instance that never saw it (cold path)');
});

t.test('only the exact seal the gateway wrote is accepted', async (t) => {
  const { make } = setup();
  const m = make();
  const cookie = await m.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  t.ok(isCanonicalSeal(cookie));
  const cold = make();
  t.ok(await cold.read(cookie), 'the cookie as written');
  for (const variant of [cookie.slice(0, -1), cookie.slice(0, -2), `${cookie}A`, `${cookie}~2`, cookie.replace('~2', '~3')]) {
    t.equal(await cold.read(variant), null, `refused: …${variant.slice(-6)}`);
  }
});

t.test('the instance that revokes refuses at once, before its own pub/sub message returns', async (t) => {
  const { make } = setup();
  const m = make();
  // No start(): this instance hears nothing from pub/sub, so only the local application can refuse warm reads.
  const alice = signedInSession('alice', ['pwd'], [], 1_800_000_000_000);
  const bob = signedInSession('bob', ['pwd'], [], 1_800_000_000_000);
  const a = await m.seal(alice);
  const a2 = await m.seal({ ...alice, sid: 'other-sid' });
  const b = await m.seal(bob);
  t.ok(await m.read(a) && await m.read(a2) && await m.read(b), 'all three warm in the cache');
  await m.revokeSession(alice);
  t.equal(await m.read(a), null, 'the revoked session is refused on the next read (warm cache, no pub/sub)');
  t.ok(await m.read(a2), "alice's other session is alive");
  await m.revokeUser('alice');
  t.equal(await m.read(a2), null, 'after revokeUser her other session is refused at once too');
  t.ok(await m.read(b), "bob's session is untouched");
});

t.test('revokeListed: the registry id ends the session whatever id it has rotated to, everywhere', async (t) => {
  const { make } = setup();
  const a = make();
  const b = make();
  await a.start();
  await b.start();
  const first = signedInSession('alice', ['pwd'], [], 1_800_000_000_000);
  t.type(first.rid, 'string', 'a sign-in gets a registry id');
  // A step-up rotates the session id and keeps the registry id.
  const stepped = { ...first, sid: 'rotated-sid' };
  const cookie = await a.seal(stepped);
  const other = await a.seal(signedInSession('alice', ['pwd'], [], 1_800_000_000_000));
  t.ok(await b.read(cookie), 'the other instance has it warm');
  await a.revokeListed(first.rid!, first.created);
  await new Promise((r) => setImmediate(r));
  t.equal(await a.read(cookie), null, 'refused at once on the instance that revoked');
  t.equal(await b.read(cookie), null, 'refused on the other instance (pushed)');
  t.equal(await make().read(cookie), null, 'refused by an instance that never saw it (cold path)');
  t.ok(await a.read(other), "alice's other browser stays signed in");
});
