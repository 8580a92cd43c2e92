// The behaviour every SharedState implementation owes its callers, run against
// each of them. Real clocks with short TTLs: Redis expiry cannot be faked. A
// key meant to be alive gets ~1 s (a stalled CI machine must not expire it
// mid-check) and the expiry checks sleep 1.5 s.

import type { Test } from 'tap';
import type { SharedState } from '../../src/store/shared-state.ts';

export type MakeSharedState = () => SharedState | Promise<SharedState>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

export async function sharedStateConformance(t: Test, make: MakeSharedState): Promise<void> {
  const s = await make();
  t.teardown(() => s.close());

  await t.test('get and set', async (t) => {
    t.equal(await s.get('absent'), null, 'an absent key reads as null');
    await s.set('gs:a', 'one', 10_000);
    t.equal(await s.get('gs:a'), 'one');
    await s.set('gs:a', 'two', 10_000);
    t.equal(await s.get('gs:a'), 'two', 'set overwrites');
    await s.set('gs:odd key:ü/€', 'v', 10_000);
    t.equal(await s.get('gs:odd key:ü/€'), 'v', 'keys with spaces, colons and non-ASCII work');
    await s.set('gs:empty', '', 10_000);
    t.equal(await s.get('gs:empty'), '', 'the empty string is a value, not absence');
  });

  await t.test('ttl and expiry', async (t) => {
    await s.set('ttl:a', 'x', 1000);
    const left = await s.ttl('ttl:a');
    t.ok(left > 0 && left <= 1000, `ttl reports the time left (${left} ms)`);
    t.equal(await s.ttl('ttl:absent'), -1, 'ttl of an absent key is -1');
    await sleep(1500);
    t.equal(await s.get('ttl:a'), null, 'the key is gone after its ttl');
    t.equal(await s.ttl('ttl:a'), -1, 'and its ttl reads -1');
  });

  await t.test('invalid ttls are refused and change nothing', async (t) => {
    await s.set('bad:a', 'kept', 10_000);
    for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await t.rejects(s.set('bad:a', 'changed', ttl), RangeError, `set with ttl ${ttl}`);
      await t.rejects(s.setIfAbsent('bad:b', 'v', ttl), RangeError, `setIfAbsent with ttl ${ttl}`);
      await t.rejects(s.incr('bad:c', ttl), RangeError, `incr with ttl ${ttl}`);
    }
    t.equal(await s.get('bad:a'), 'kept');
    t.equal(await s.get('bad:b'), null);
    t.equal(await s.get('bad:c'), null);
  });

  await t.test('setIfAbsent: exactly one winner under concurrency', async (t) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.setIfAbsent('sia:a', `v${i}`, 10_000)));
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    t.equal(winners.length, 1, 'one of 50 concurrent calls wins');
    t.equal(await s.get('sia:a'), `v${winners[0]}`, "the winner's value is stored");
    t.equal(await s.setIfAbsent('sia:a', 'late', 10_000), false, 'a later call loses');

    t.equal(await s.setIfAbsent('sia:short', 'first', 60), true);
    await sleep(150);
    t.equal(await s.setIfAbsent('sia:short', 'second', 10_000), true, 'an expired key can be set again');
    t.equal(await s.get('sia:short'), 'second');
  });

  await t.test('take: exactly once under concurrency', async (t) => {
    await s.set('take:a', 'secret', 10_000);
    const results = await Promise.all(Array.from({ length: 50 }, () => s.take('take:a')));
    const got = results.filter((r) => r !== null);
    t.same(got, ['secret'], 'one of 50 concurrent takes gets the value');
    t.equal(await s.get('take:a'), null, 'the key is gone');
    t.equal(await s.take('take:absent'), null, 'taking an absent key gives null');
    await s.set('take:short', 'x', 60);
    await sleep(150);
    t.equal(await s.take('take:short'), null, 'an expired key cannot be taken');
  });

  await t.test('incr counts atomically and sets the ttl on creation only', async (t) => {
    const results = await Promise.all(Array.from({ length: 30 }, () => s.incr('incr:a', 10_000)));
    t.same([...results].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1), 'each concurrent incr sees its own count');
    t.equal(await s.get('incr:a'), '30', 'the counter reads as a string');

    t.equal(await s.incr('incr:b', 10_000), 1, 'a new counter starts at 1');
    t.equal(await s.incr('incr:b', 100_000), 2);
    const left = await s.ttl('incr:b');
    t.ok(left > 0 && left <= 10_000, `a later incr does not extend the ttl (${left} ms)`);

    t.equal(await s.incr('incr:c', 1000), 1);
    t.equal(await s.incr('incr:c', 1000), 2);
    await sleep(1500);
    t.equal(await s.incr('incr:c', 1000), 1, 'an expired counter starts again at 1');

    await s.set('incr:text', 'abc', 10_000);
    await t.rejects(s.incr('incr:text', 10_000), 'incr of a non-integer value is an error');
    t.equal(await s.get('incr:text'), 'abc', 'and leaves the value alone');
  });

  await t.test('delete', async (t) => {
    await s.set('del:a', 'x', 10_000);
    await s.delete('del:a');
    t.equal(await s.get('del:a'), null, 'a deleted key is gone');
    t.equal(await s.ttl('del:a'), -1);
    await s.delete('del:absent');
    t.pass('deleting an absent key is fine');
  });

  await t.test('publish reaches every subscriber of the channel, and only those', async (t) => {
    const a: string[] = [];
    const b: string[] = [];
    const other: string[] = [];
    await s.subscribe('ps:news', (m) => a.push(m));
    await s.subscribe('ps:news', (m) => b.push(m));
    await s.subscribe('ps:other', (m) => other.push(m));
    // A throwing subscriber must not keep the message from the others.
    await s.subscribe('ps:news', () => {
      throw new Error('subscriber bug');
    });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    t.teardown(() => process.off('warning', onWarning));

    await s.publish('ps:news', 'revoked:sess1');
    await s.publish('ps:news', 'revoked:sess2');
    t.ok(await eventually(() => a.length === 2 && b.length === 2), 'both subscribers got both messages');
    t.same(a, ['revoked:sess1', 'revoked:sess2'], 'in order');
    t.same(b, ['revoked:sess1', 'revoked:sess2']);
    await sleep(50);
    t.same(other, [], 'a subscriber of another channel got nothing');
    t.ok(await eventually(() => warnings.some((w) => w.includes('subscriber bug'))), 'the throwing subscriber is reported as a warning');
    await s.publish('ps:nobody', 'x');
    t.pass('publishing to a channel nobody listens on is fine');
  });

  await t.test('ping', async (t) => {
    await t.resolves(s.ping(), 'ping succeeds while reachable');
  });
}
