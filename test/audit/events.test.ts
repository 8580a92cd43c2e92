import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWouldChallengeAggregator } from '../../src/audit/events.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { openAuditLog } from '../../src/audit/audit-log.ts';
import { CHAIN_ORIGIN, splitLines, verifyLines } from '../../src/audit/chain.ts';

t.test('would-challenges become one record per rule per window', async (t) => {
  const written: AuditEvent[] = [];
  let clock = new Date('2026-11-22T15:30:00.000Z');
  const agg = createWouldChallengeAggregator({ write: (e) => written.push(e) }, 60_000, { now: () => clock });
  for (let i = 0; i < 10_000; i++) agg.record('billing');
  for (let i = 0; i < 3; i++) agg.record('admin');
  t.equal(written.length, 0, 'nothing written while counting');
  clock = new Date('2026-11-22T15:31:00.000Z');
  agg.flush();
  t.same(written, [
    { event: 'report.would_challenge', rule: 'billing', count: 10_000, window: '2026-11-22T15:30:00.000Z/2026-11-22T15:31:00.000Z' },
    { event: 'report.would_challenge', rule: 'admin', count: 3, window: '2026-11-22T15:30:00.000Z/2026-11-22T15:31:00.000Z' },
  ]);
  agg.flush();
  t.equal(written.length, 2, 'an empty window writes nothing');
  agg.record('admin');
  clock = new Date('2026-11-22T15:31:30.000Z');
  agg.stop();
  t.same(written.at(-1), { event: 'report.would_challenge', rule: 'admin', count: 1, window: '2026-11-22T15:31:00.000Z/2026-11-22T15:31:30.000Z' }, 'stop keeps the last window');
  t.throws(() => createWouldChallengeAggregator({ write: () => {} }, 0), /window/);
});

t.test('the window timer writes into a real audit log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'audit.log');
  const log = await openAuditLog({ path, maxBytes: 1 << 20, flushIntervalMs: 5 });
  const agg = createWouldChallengeAggregator(log, 30);
  for (let i = 0; i < 500; i++) agg.record('reports');
  await new Promise((r) => setTimeout(r, 120));
  agg.stop();
  await log.close();
  const { lines, tail } = splitLines(readFileSync(path, 'latin1'));
  t.match(verifyLines(lines, CHAIN_ORIGIN, tail), { ok: true, count: 1 });
  t.match(JSON.parse(lines[0]), { event: 'report.would_challenge', rule: 'reports', count: 500 });
});
