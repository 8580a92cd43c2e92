import t from 'tap';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSharedState } from '../../src/store/open-shared-state.ts';
import { sharedStateConformance } from './shared-state-conformance.ts';

await t.test('conformance', (t) => sharedStateConformance(t, () => createMemorySharedState()));

await t.test('expiry follows the injected clock', async (t) => {
  let now = 1_000_000;
  const s = createMemorySharedState({ now: () => now });
  t.teardown(() => s.close());
  await s.set('a', 'x', 1000);
  await s.incr('n', 500);
  now += 999;
  t.equal(await s.get('a'), 'x', 'alive 1 ms before expiry');
  t.equal(await s.ttl('a'), 1, 'ttl counts down with the clock');
  t.equal(await s.get('n'), null, 'the counter expired at its own ttl');
  now += 1;
  t.equal(await s.get('a'), null, 'gone exactly at expiry');
  t.equal(await s.setIfAbsent('a', 'y', 10), true, 'an expired key is absent for setIfAbsent');
});

await t.test('a closed instance refuses work', async (t) => {
  const s = createMemorySharedState();
  await s.set('a', 'x', 1000);
  await s.close();
  await t.rejects(s.get('a'), /closed/);
  await t.rejects(s.ping(), /closed/, 'ping fails, so readiness reports it');
});

await t.test('two memory instances are separate', async (t) => {
  const a = createMemorySharedState();
  const b = createMemorySharedState();
  t.teardown(async () => { await a.close(); await b.close(); });
  await a.set('k', 'a', 1000);
  t.equal(await b.get('k'), null);
});

await t.test('openSharedState picks the implementation from config', async (t) => {
  const s = openSharedState({ kind: 'memory' });
  t.teardown(() => s.close());
  await s.set('k', 'v', 1000);
  t.equal(await s.get('k'), 'v');
  t.throws(() => openSharedState({ kind: 'etcd' } as never), /unknown shared_state kind: etcd/);
});
