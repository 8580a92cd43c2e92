import t from 'tap';
import type { Test } from 'tap';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHAIN_ORIGIN, claimedStart, splitLines, verifyLines } from '../../src/audit/chain.ts';
import type { ChainHead, ChainResult } from '../../src/audit/chain.ts';
import { listRotated, openAuditLog, rotationStamp } from '../../src/audit/audit-log.ts';
import { eventually } from '../helpers/eventually.ts';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function verifyFile(path: string, start: ChainHead = CHAIN_ORIGIN): ChainResult {
  const { lines, tail } = splitLines(readFileSync(path, 'latin1'));
  return verifyLines(lines, start, tail);
}

function records(path: string): Record<string, unknown>[] {
  return splitLines(readFileSync(path, 'latin1')).lines.map((l) => JSON.parse(l));
}

const signin = (i: number) => ({ event: 'signin.success', user: `user${i}`, ip: '192.0.2.7', request_id: `r${i}` }) as const;

t.test('writes a chain that verifies, in order, durable after flush', async (t) => {
  const path = join(tmp(t), 'sub', 'audit.log');
  const flushed: ChainHead[] = [];
  const log = await openAuditLog({ path, maxBytes: 64 * 1024 * 1024, onFlushed: (h) => flushed.push(h) });
  for (let i = 1; i <= 1000; i++) log.write(signin(i));
  const head = log.head;
  t.equal(head.seq, 1000, 'head counts queued records');
  await log.flush();
  t.same(flushed.at(-1), head, 'onFlushed reports the durable head');
  await log.close();
  const r = verifyFile(path);
  t.match(r, { ok: true, count: 1000, last: head, warnings: [] });
  t.same(records(path).map((x) => x.user), Array.from({ length: 1000 }, (_, i) => `user${i + 1}`));
});

t.test('the timer flushes without being asked', async (t) => {
  const path = join(tmp(t), 'audit.log');
  const log = await openAuditLog({ path, maxBytes: 1 << 20, flushIntervalMs: 10 });
  log.write(signin(1));
  t.equal(existsSync(path) ? statSync(path).size : 0, 0, 'write itself does no I/O');
  t.ok(await eventually(() => existsSync(path) && statSync(path).size > 0), 'the timer wrote the record');
  t.match(verifyFile(path), { ok: true, count: 1 });
  await log.close();
});

t.test('a restart continues the chain', async (t) => {
  const path = join(tmp(t), 'audit.log');
  for (let run = 0; run < 3; run++) {
    const log = await openAuditLog({ path, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) log.write(signin(run * 10 + i));
    await log.close();
  }
  t.match(verifyFile(path), { ok: true, count: 30, warnings: [] });
  t.notOk(records(path).some((r) => r.event === 'audit.recovered'), 'a clean restart writes nothing extra');
});

t.test('a partial last line (crash mid-write) is cut and recorded on open', async (t) => {
  const path = join(tmp(t), 'audit.log');
  let log = await openAuditLog({ path, maxBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) log.write(signin(i));
  await log.close();
  const clean = readFileSync(path, 'latin1');
  appendFileSync(path, '{"seq":6,"ts":"2026-11-22T15:3');
  t.match(verifyFile(path), { ok: true, count: 5, warnings: [/truncated tail \(30 bytes/] }, 'verify: warning, not tampering');

  log = await openAuditLog({ path, maxBytes: 1 << 20 });
  log.write(signin(6));
  await log.close();
  const text = readFileSync(path, 'latin1');
  t.ok(text.startsWith(clean), 'the lines before the tail are untouched');
  t.match(verifyFile(path), { ok: true, count: 7, warnings: [] });
  t.match(records(path)[5], { seq: 6, event: 'audit.recovered', bytes: 30 });
  t.match(records(path)[6], { seq: 7, event: 'signin.success', user: 'user6' });
});

t.test('a log whose last line is not a record refuses to open, and is left alone', async (t) => {
  const path = join(tmp(t), 'audit.log');
  const log = await openAuditLog({ path, maxBytes: 1 << 20 });
  log.write(signin(1));
  await log.close();
  appendFileSync(path, '{"seq":2,"forged":true}\n');
  const before = readFileSync(path);
  await t.rejects(openAuditLog({ path, maxBytes: 1 << 20 }), /last line is not a valid record .*gatehouse audit verify/);
  t.same(readFileSync(path), before);
});

t.test('rotation: small files, one chain across them', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'audit.log');
  const fixed = new Date('2026-11-22T15:30:00.456Z'); // every rotation in the same second: names need -N
  const maxBytes = 2000;
  const log = await openAuditLog({ path, maxBytes, now: () => fixed });
  for (let i = 1; i <= 300; i++) {
    log.write(signin(i));
    if (i % 37 === 0) await log.flush(); // rotations both inside a batch and between batches
  }
  const head = log.head;
  await log.close();
  const rotated = await listRotated(path);
  t.ok(rotated.length > 20, `${rotated.length} rotated files`);
  t.equal(rotated[0], 'audit.log.20261122T153000Z');
  t.equal(rotated[1], 'audit.log.20261122T153000Z-1');
  t.equal(rotated.at(-1), `audit.log.20261122T153000Z-${rotated.length - 1}`, 'sorted by number, not as text');
  const files = [...rotated.map((n) => join(dir, n)), path];
  let at: ChainHead = CHAIN_ORIGIN;
  let count = 0;
  for (const [i, file] of files.entries()) {
    t.ok(statSync(file).size <= maxBytes, `${file} within maxBytes`);
    const first = records(file)[0];
    if (i > 0) t.match(first, { event: 'audit.rotated', file_prev: rotated[i - 1], prev: at.hash }, 'links to the previous file');
    const r = verifyFile(file, at);
    if (!r.ok) return t.fail(`${file}:${r.line}: ${r.reason}`);
    at = r.last;
    count += r.count;
  }
  t.same(at, head);
  t.equal(count, 300 + rotated.length, 'every event plus one audit.rotated per new file');
  // Tampering with one rotated file breaks the series at that file.
  const victim = files[3];
  writeFileSync(victim, readFileSync(victim, 'latin1').replace('"user', '"usEr'), 'latin1');
  const claim = claimedStart(readFileSync(victim, 'latin1').split('\n')[0]);
  t.ok(claim.ok);
  if (claim.ok) t.match(verifyFile(victim, claim.start), { ok: false, line: 2, reason: /content does not match/ }, 'the first user line of the file, after its audit.rotated record');
});

t.test('rotated names use the UTC stamp', async (t) => {
  t.equal(rotationStamp(new Date('2026-11-22T15:30:00.999Z')), '20261122T153000Z');
});

t.test('a crash between a rotation and its first record continues from the rotated file', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'audit.log');
  let log = await openAuditLog({ path, maxBytes: 1 << 20 });
  for (let i = 0; i < 4; i++) log.write(signin(i));
  await log.close();
  renameSync(path, join(dir, 'audit.log.20261122T153000Z'));
  log = await openAuditLog({ path, maxBytes: 1 << 20 });
  log.write(signin(5));
  await log.close();
  const first = records(path)[0];
  t.match(first, { seq: 5, event: 'audit.rotated', file_prev: 'audit.log.20261122T153000Z' });
  const a = verifyFile(join(dir, 'audit.log.20261122T153000Z'));
  t.ok(a.ok);
  if (a.ok) t.match(verifyFile(path, a.last), { ok: true, count: 2 });
});

t.test('a flood sheds report-only records first and says so in the log', async (t) => {
  const path = join(tmp(t), 'audit.log');
  const errors: Error[] = [];
  const log = await openAuditLog({ path, maxBytes: 1 << 20, maxPending: 10, flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
  for (let i = 0; i < 10; i++) log.write(signin(i));
  for (let i = 0; i < 5; i++) log.write({ event: 'report.would_challenge', rule: 'billing', count: 1, window: 'w' });
  for (let i = 0; i < 15; i++) log.write({ event: 'signin.failure', user: `x${i}`, reason: 'bad password' });
  t.equal(log.head.seq, 20, 'security records kept up to twice the bound, report-only ones shed at the bound');
  t.equal(errors.length, 1, 'shedding is reported once per episode');
  t.match(errors[0].message, /shedding report\.would_challenge/);
  await log.close();
  const all = records(path);
  t.match(all.at(-1), { event: 'audit.dropped', count: 10, events: { 'report.would_challenge': 5, 'signin.failure': 5 } });
  t.notOk(all.some((r) => r.event === 'report.would_challenge'));
  t.match(verifyFile(path), { ok: true, count: 21 });
});

t.test('write errors go to onError, never to the caller; flush rejects', async (t) => {
  // /dev/full: every write fails with ENOSPC (a full disk, for real).
  const errors: Error[] = [];
  const log = await openAuditLog({ path: '/dev/full', maxBytes: 1 << 20, flushIntervalMs: 5, onError: (e) => errors.push(e) });
  t.doesNotThrow(() => log.write(signin(1)));
  t.ok(await eventually(() => errors.length >= 1), 'the timer flush failure was reported');
  t.match(errors[0], { code: 'ENOSPC' });
  // The retry first cuts the file back to its last good size; a device cannot be cut.
  await t.rejects(log.flush(), { code: /ENOSPC|EINVAL/ });
  await t.rejects(log.close(), { code: /ENOSPC|EINVAL/ });
  log.write(signin(2));
  t.match(errors.at(-1)?.message, /is closed: signin.success record not written/);
});

t.test('write() resolves once its record is on disk; a failed write rejects the answer waiting on it', async (t) => {
  for (const sync of ['group', 'always'] as const) {
    const path = join(tmp(t), 'audit.log');
    const log = await openAuditLog({ path, maxBytes: 1 << 20, sync });
    const writes = Array.from({ length: 20 }, (_, i) => log.write(signin(i + 1)).then(() => readFileSync(path, 'latin1').includes(`"user":"user${i + 1}",`)));
    t.same(await Promise.all(writes), Array(20).fill(true), `${sync}: each promise resolved with its line in the file`);
    t.same(log.durableHead, log.head, `${sync}: all durable`);
    await log.close();
    t.match(verifyFile(path), { ok: true, count: 20 });
  }
  const log = await openAuditLog({ path: '/dev/full', maxBytes: 1 << 20, onError: () => undefined });
  await t.rejects(log.write(signin(1)), /signin\.success record not yet on disk: .*ENOSPC|no space/i, 'the awaiting answer fails (closed)');
  await log.close().catch(() => undefined);
  await t.rejects(log.write(signin(2)), /is closed/);
  log.write(signin(3)); // not awaited: no unhandled rejection
});

t.test('bad events are reported, not thrown', async (t) => {
  const path = join(tmp(t), 'audit.log');
  const errors: Error[] = [];
  const log = await openAuditLog({ path, maxBytes: 1 << 20, onError: (e) => errors.push(e) });
  log.write({ event: 'signin.success', user: 'a', seq: 3 } as never);
  log.write({ event: 'signin.success', user: 'b', extra: 1n } as never);
  t.equal(errors.length, 2);
  t.match(errors[0].message, /reserved/);
  log.write(signin(1));
  await log.close();
  t.match(verifyFile(path), { ok: true, count: 1 });
});

t.test('bad options are refused', async (t) => {
  await t.rejects(openAuditLog({ path: join(tmp(t), 'a.log'), maxBytes: 0 }), /maxBytes/);
});
