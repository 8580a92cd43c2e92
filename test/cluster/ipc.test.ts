// The two ends of a worker's calls to its primary (cluster/primary-link.ts,
// cluster/worker-services.ts, cluster/hub.ts) over a channel pair in one
// process, with the real memory shared state and a real audit log behind the
// hub. The processes, sockets and node:cluster IPC are exercised by
// test/scale/two-workers.test.ts and workers-lifecycle.test.ts; here the
// contract: one state for every worker, publications reaching every worker,
// audit writes answered once on disk, refusals and a silent primary failing
// closed.

import t from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openAuditLog } from '../../src/audit/audit-log.ts';
import { createHub } from '../../src/cluster/hub.ts';
import { PrimaryLink, type Channel } from '../../src/cluster/primary-link.ts';
import { primaryAuditLog, primarySharedState } from '../../src/cluster/worker-services.ts';
import { workerCount } from '../../src/cluster/primary.ts';
import type { ToPrimary, ToWorker } from '../../src/cluster/messages.ts';

/** A worker's channel wired to the hub, as the primary's message handler wires it (structuredClone as IPC would). */
function workerChannel(hub: ReturnType<typeof createHub>, workers: EventEmitter[], answer = true): Channel {
  const toWorker = new EventEmitter();
  workers.push(toWorker);
  return {
    send(m: ToPrimary, cb?: (err: Error | null) => void) {
      const msg = structuredClone(m);
      if (msg.gh === 'call' && answer) {
        hub.answer(msg.call).then(
          (value) => toWorker.emit('message', structuredClone({ gh: 'reply', id: msg.id, ok: true, value } satisfies ToWorker)),
          (err: Error) => toWorker.emit('message', { gh: 'reply', id: msg.id, ok: false, error: err.message } satisfies ToWorker),
        );
      }
      cb?.(null);
      return true;
    },
    on: (event, listener) => toWorker.on(event, listener),
  };
}

t.test('two workers share one memory state, hear every publication, write one audit chain', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ipc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shared = createMemorySharedState();
  const audit = await openAuditLog({ path: join(dir, 'audit.log'), maxBytes: 1 << 20 });
  t.teardown(() => audit.close());
  const workers: EventEmitter[] = [];
  const hub = createHub({
    shared, audit, metricsText: async () => 'summed\n',
    broadcast: (m) => { for (const w of workers) w.emit('message', structuredClone(m)); },
  });
  const linkA = new PrimaryLink(workerChannel(hub, workers));
  const linkB = new PrimaryLink(workerChannel(hub, workers));
  const a = primarySharedState(linkA);
  const b = primarySharedState(linkB);

  t.equal(await a.setIfAbsent('totp:alice:123456', '1', 90_000), true, 'a code used on worker A');
  t.equal(await b.setIfAbsent('totp:alice:123456', '1', 90_000), false, 'is refused on worker B');
  await a.set('stash:1', 'kept', 60_000);
  t.equal(await b.take('stash:1'), 'kept', 'a stash kept on A is taken on B');
  t.equal(await a.take('stash:1'), null, 'once');
  const slot = { key: 'ip:1', free: 1, maxWaitMs: 60_000, hardLockAt: 0, hardWaitMs: 0, counterTtlMs: 60_000 };
  t.same(await a.reserveAttempt([slot]), { ok: true, numbers: [1] });
  t.match(await b.reserveAttempt([slot]), { ok: true, numbers: [2] }, 'throttles count across workers');
  t.match(await a.reserveAttempt([slot]), { ok: false }, 'and lock on both');

  const heard: string[] = [];
  await a.subscribe('revocations', (m) => heard.push(`A:${m}`));
  await b.subscribe('revocations', (m) => heard.push(`B:${m}`));
  await a.publish('revocations', 'sid-1');
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.same(heard.sort(), ['A:sid-1', 'B:sid-1'], 'a publication reaches every worker, the publisher too');

  const logA = primaryAuditLog(linkA);
  const logB = primaryAuditLog(linkB);
  await logA.write({ event: 'signout', user: 'alice' });
  await logB.write({ event: 'signout', user: 'bob' });
  t.equal(logB.durableHead.seq, 2, 'the answer carries the head on disk');
  const lines = readFileSync(join(dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; user: string });
  t.same(lines.map((l) => [l.seq, l.user]), [[1, 'alice'], [2, 'bob']], 'one chain, in order, on disk when the write resolved');
  t.equal(await linkA.call({ op: 'metrics' }), 'summed\n');
});

t.test('refusals and a silent primary fail closed', async (t) => {
  const shared = createMemorySharedState();
  const workers: EventEmitter[] = [];
  const hub = createHub({ shared, audit: undefined as never, metricsText: async () => '', broadcast: () => {} });
  const link = new PrimaryLink(workerChannel(hub, workers));
  await t.rejects(link.call({ op: 'shared', method: 'close' as never, args: [] }), /unknown shared-state call: close/, 'close is not a call a worker may make');
  await t.rejects(primarySharedState(link).incr('k', 0), /ttl must be a positive number/, 'the state\'s own errors come back as rejections');
  const noShared = createHub({ audit: undefined as never, metricsText: async () => '', broadcast: () => {} });
  await t.rejects(noShared.answer({ op: 'shared', method: 'get', args: ['k'] }), /not held by the primary/, 'with Redis the primary holds no state');
  const silent = new PrimaryLink(workerChannel(hub, workers, false), 50);
  await t.rejects(primarySharedState(silent).get('k'), /did not answer \(shared\) within 50 ms/, 'a primary that does not answer: the call fails, the caller fails closed');
  const gone = new PrimaryLink({ send: () => { throw new Error('channel closed'); }, on: () => undefined });
  await t.rejects(primaryAuditLog(gone).write({ event: 'signout', user: 'x' }), /channel closed/, 'an audit write that cannot reach the primary rejects');
});

t.test('workerCount: auto is one per core', async (t) => {
  t.equal(workerCount('auto', 8), 8);
  t.equal(workerCount('auto', 0), 1);
  t.equal(workerCount(3, 8), 3);
});
