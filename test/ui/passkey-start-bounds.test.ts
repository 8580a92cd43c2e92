// The bound on waiting passkey challenges (src/ui/passkey-start-bounds.ts)
// against a real shared state, with small pools so the limits are reached: a
// full pool refuses, a refused start is not counted, and however starts fall
// in time, no more challenges are alive at once than the pool holds.

import t from 'tap';
import { admitStart, bucketsAt } from '../../src/ui/passkey-start-bounds.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';

const WINDOW = 10_000;

t.test('a full pool refuses until its older bucket has lapsed; refused starts are not counted', async (t) => {
  let now = 100_000;
  const shared = createMemorySharedState({ now: () => now });
  t.teardown(() => shared.close());
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

t.test('every pool must have room; a start counts in all of them', async (t) => {
  const shared = createMemorySharedState({ now: () => 0 });
  t.teardown(() => shared.close());
  const all = { key: 'all', max: 4 };
  t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
  t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
  t.equal(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0), 0);
  t.ok(await admitStart(shared, [{ key: 'b1', max: 3 }, all], WINDOW, 0) > 0, 'browser 1 is full');
  t.equal(await admitStart(shared, [{ key: 'b2', max: 3 }, all], WINDOW, 0), 0, 'browser 2 is served');
  t.ok(await admitStart(shared, [{ key: 'b3', max: 3 }, all], WINDOW, 0) > 0, 'the whole pool is full: browser 3 is refused');
  t.equal(await shared.get('b3:0'), null, 'and nothing was counted for it');
});

t.test('however starts fall in time, no more challenges are alive at once than the pool holds', async (t) => {
  let now = 0;
  const shared = createMemorySharedState({ now: () => now });
  t.teardown(() => shared.close());
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
