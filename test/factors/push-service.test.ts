// The push service over both shared states (memory, and Redis as several
// instances share it): two answers to one link at once (two taps, or two
// instances) make one answer; a sign-in page takes an approval once; an
// instance that did not send the push takes the phone's answer; a link sent
// to one channel is dead once another channel answered.

import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPushService, type PushService } from '../../src/factors/push.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createSecretBox } from '../../src/store/secret-box.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { createRedisSharedState } from '../../src/store/redis-shared-state.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import type { OutgoingMessage } from '../../src/identity/notifier.ts';
import { REDIS_URL, requireRedis } from '../helpers/services.ts';
import { dropRedisPrefix, randomPrefix } from '../scale/instances.ts';

const CONFIG = { timeout: 60_000, max_pending: 3, backoff: 0, suspend_after: 3, suspend_window: 900_000, suspend_for: 900_000 };

/** Two instances' shared state: one Redis prefix seen through two connections, or one memory state (one instance, two requests). */
type Pair = () => [SharedState, SharedState];

async function instances(t: Test, pair: Pair): Promise<{ a: PushService; b: PushService; sent: OutgoingMessage[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-push-'));
  const store = openSqliteStore(join(dir, 'db.sqlite'));
  await store.migrate();
  const sent: OutgoingMessage[] = [];
  const notifier = { async send(m: OutgoingMessage) { sent.push(m); } };
  const box = createSecretBox(['push-test-encryption-key-0123456789-abcdef']);
  const make = (s: SharedState) => createPushService({ shared: s, store, notifier, box, config: CONFIG, publicUrl: 'https://sso.example.com', product: 'Example', now: Date.now });
  const [sa, sb] = pair();
  t.teardown(async () => {
    await Promise.all([sa.close(), sb.close()]);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const a = make(sa);
  const b = make(sb);
  await a.addChannel('alice', { channel: 'link', destination: 'alice@example.com' }, 'Mail');
  await a.addChannel('alice', { channel: 'link', destination: 'alice.phone@example.com' }, 'Phone mail');
  return { a, b, sent };
}

const tokenOf = (m: OutgoingMessage) => /\?t=([\w-]+)/.exec(m.text)![1];

function scenarios(t: Test, pair: Pair): void {
  t.test('two answers at once: one counts; the approval is taken once; the other channel\'s link is dead', async (t) => {
    const { a, b, sent } = await instances(t, pair);
    const started = await a.start({ id: 'alice' }, { app: 'sso.example.com/', action: 'GET /reports', ip: '192.0.2.1' });
    t.ok(started.ok);
    if (!started.ok) return;
    t.equal(sent.length, 2, 'one message per channel');
    const [first, second] = sent.map(tokenOf);
    t.not(first, second, 'each channel has its own link');
    const answers = await Promise.all([a.answer(first, { choice: started.number }), b.answer(first, { choice: started.number })]);
    t.equal(answers.filter((r) => r.ok).length, 1, 'of two taps at once, one is taken');
    t.equal((await b.view(second))?.status, 'approved', 'the other channel\'s page says it is answered');
    t.same(await b.answer(second, { deny: 'denied' }), { ok: false, status: 'approved' }, 'and cannot overturn it');
    t.equal((await b.status('alice', started.id))?.status, 'approved', 'instance B sees the outcome');
    t.equal((await b.status('bob', started.id)), undefined, 'another user cannot read it');
    const [x, y] = await Promise.all([a.complete('alice', started.id), b.complete('alice', started.id)]);
    t.equal([x, y].filter((r) => r.ok).length, 1, 'the approval signs in one browser once');
    const done = x.ok ? x : y;
    if (done.ok) {
      t.equal(done.verified.check.amr, 'mca');
      t.ok(done.verified.factorId, 'names the channel answered');
    }
  });

  t.test('a wrong number refuses; the third refusal suspends push', async (t) => {
    const { a, b, sent } = await instances(t, pair);
    for (const [i, answer] of (['wrong', 'deny', 'not me'] as const).entries()) {
      const s = await a.start({ id: 'alice' }, { app: 'x/', action: 'GET /', ip: '192.0.2.1' });
      t.ok(s.ok, `push ${i + 1} sent`);
      if (!s.ok) return;
      const token = tokenOf(sent.at(-1)!);
      const r = answer === 'wrong' ? await b.answer(token, { choice: s.number === 99 ? 98 : s.number + 1 })
        : await b.answer(token, { deny: answer === 'deny' ? 'denied' : 'not_me' });
      t.ok(r.ok);
      if (r.ok) t.equal(r.refusal?.suspended, i === 2, i === 2 ? 'the third refusal suspends' : 'not yet suspended');
    }
    const refused = await a.start({ id: 'alice' }, { app: 'x/', action: 'GET /', ip: '192.0.2.1' });
    t.equal(refused.ok ? 'sent' : refused.reason, 'suspended');
    t.ok(await b.suspendedFor('alice') > 800_000, 'for about 15 minutes, seen by every instance');
  });
}

t.test('memory shared state (one instance)', async (t) => {
  scenarios(t, () => {
    const s = createMemorySharedState();
    return [s, { ...s, close: async () => {} }];
  });
});

t.test('Redis shared state (two instances)', async (t) => {
  if (!(await requireRedis(t))) return t.plan(0, 'Redis not reachable (reason printed above)');
  scenarios(t, () => {
    const prefix = randomPrefix();
    t.teardown(() => dropRedisPrefix(REDIS_URL, prefix));
    return [createRedisSharedState(REDIS_URL, prefix), createRedisSharedState(REDIS_URL, prefix)];
  });
});
