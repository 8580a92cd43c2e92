// The bound on waiting passkey challenges (src/ui/passkey-start-bounds.ts)
// against each real shared state (memory, Redis), with small pools so the
// limits are reached: a full pool refuses, a refused start is not counted, and
// however starts fall in time, no more challenges are alive at once than the
// pool holds.

import t, { type Test } from 'tap';
import { admitStart, bucketsAt } from '../../src/ui/passkey-start-bounds.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { createRedisSharedState } from '../../src/store/redis-shared-state.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import { REDIS_URL, requireRedis } from '../helpers/services.ts';
import { dropRedisPrefix, randomPrefix } from '../scale/instances.ts';

const WINDOW = 10_000;

/**
 * A fresh, empty shared state of one kind, closed when `t` ends. The bounds
 * count by the time they are given (`at`), so Redis's own clock (key lifetimes)
 * does not enter: a bucket's key only has to outlive its two windows.
 */
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

t.test('memory shared state', async (t) => boundTests(t, memory));

t.test('Redis shared state', async (t) => {
  if (!(await requireRedis(t))) return; // requireRedis said why, loudly (and fails under CI)
  await boundTests(t, redis);
});

async function boundTests(t: Test, open: OpenShared): Promise<void> {

  await t.test('a full pool refuses until its older bucket has lapsed; refused starts are not counted', async (t) => {
    let now = 100_000;
    const shared = await open(t, () => now);
    const pool = [{ key: 'p', max: 5 }];
    for (let i = 0; i < 5; i++) t.equal(await admitStart(shared, pool, WINDOW, now), 0, `start ${i + 1} admitted`);
    t.equal(await admitStart(shared, pool, WINDOW, now + 1000), 9000, 'the sixth waits for its bucket to end');
    for (let i = 0; i < 50; i++) await admitStart(shared, pool, WINDOW, now + 1000);
    t.equal(await shared.get(`p:${bucketsAt(now, WINDOW).current}`), '5', 'refused starts left no count behind');
    now += WINDOW;
    t.equal(await admitStart(shared, pool, WINDOW, now), 10_000, 'the next bucket: those five may still be alive, so still full');
    now += WINDOW;
    t.equal(await admitStart(shared, pool, WINDOW, now), 0, 'two buckets on, all five have lapsed: admitted');
  });

  await t.test('every pool must have room; a start counts in all of them', async (t) => {
    const shared = await open(t, () => 0);
    const all = { key: 'all', max: 4 };
    t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
    t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
    t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
    t.ok(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0) > 0, 'browser 1 is full');
    t.equal(await admitStart(shared, [{ key: 'b2', max: 3 }, all], WINDOW, 0), 0, 'browser 2 is served');
    t.ok(await admitStart(shared, [{ key: 'b3', max: 3 }, all], WINDOW, 0) > 0, 'the whole pool is full: browser 3 is refused');
    t.equal(await shared.get('b3:0'), null, 'and nothing was counted for it');
  });

  await t.test('however starts fall in time, no more challenges are alive at once than the pool holds', async (t) => {
    let now = 0;
    const shared = await open(t, () => now);
    const max = 7;
    const started: number[] = [];
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    let peak = 0;
    for (let i = 0; i < 3000; i++) {
      now += Math.floor(random() * 600);
      if ((await admitStart(shared, [{ key: 'g', max }], WINDOW, now)) === 0) started.push(now);
      // A challenge lives WINDOW ms (the ceremony's timeout).
      const alive = started.filter((at) => at > now - WINDOW).length;
      peak = Math.max(peak, alive);
    }
    t.equal(peak, max, `at most ${max} alive at once, and the pool is used up to its size`);
    // Counting by bucket costs capacity (a full bucket also blocks the next): about max per two windows at worst.
    const floor = Math.floor(now / WINDOW / 3) * max;
    t.ok(started.length >= floor, `${started.length} of 3000 starts admitted over ${Math.round(now / WINDOW)} windows (at least ${floor}): the pool is not left idle`);
  });
}
