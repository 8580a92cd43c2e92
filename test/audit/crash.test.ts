// A writer killed with SIGKILL mid-stream leaves a log that verifies up to its
// last complete line, and a reopened log continues the chain.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { CHAIN_ORIGIN, deriveAuditMacKey, splitLines, verifyLines } from '../../src/audit/chain.ts';
import { CRASH_AUDIT_KEY } from '../fixtures/audit/crash-key.ts';
import { listRotated, openAuditLog } from '../../src/audit/audit-log.ts';
import { eventually } from '../helpers/eventually.ts';

const NODE = resolve('node_modules/.bin/node');
const WRITER = resolve('test/fixtures/audit/crash-writer.ts');
const CLI = resolve('test/fixtures/audit/run-audit.ts');

/**
 * Lets the writer run `runMs`, and on a slow machine on until `path` holds `minLines` lines
 * (and `until`, if given, holds), then SIGKILLs it.
 */
async function killMidStream(path: string, maxBytes: number, runMs: number, minLines = 0, until?: () => Promise<boolean>): Promise<void> {
  const child = spawn(NODE, [WRITER, path, String(maxBytes)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ready = new Promise<void>((res, rej) => {
    child.stdout.on('data', (d) => String(d).includes('ready') && res());
    child.on('exit', (code) => rej(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  await ready;
  await new Promise((r) => setTimeout(r, runMs));
  const lines = () => { const b = readFileSync(path); let n = 0; for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++; return n; };
  for (const deadline = Date.now() + 30_000; minLines > 0 && lines() < minLines && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
  if (until !== undefined) await eventually(until, 30_000);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [, signal] = await exited;
  if (signal !== 'SIGKILL') throw new Error(`writer ended by ${signal}, not SIGKILL: ${stderr}`);
}

t.test('SIGKILL in a tight write loop: the log verifies, and a reopened log continues it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'audit.log');
  await killMidStream(path, 1 << 30, 400, 1001);

  const { lines, tail } = splitLines(readFileSync(path, 'latin1'));
  const r = verifyLines(lines, CHAIN_ORIGIN, tail);
  t.ok(r.ok, 'verifies up to the last complete line');
  if (!r.ok) return;
  t.ok(r.count > 1000, `${r.count} records survived`);
  t.comment(tail === '' ? 'the kill fell between batches' : `the kill left a ${tail.length}-byte partial line`);

  const log = await openAuditLog({ path, maxBytes: 1 << 30 });
  for (let i = 0; i < 10; i++) log.write({ event: 'signout', user: `after${i}` });
  await log.close();
  const again = splitLines(readFileSync(path, 'latin1'));
  const r2 = verifyLines(again.lines, CHAIN_ORIGIN, again.tail);
  t.match(r2, { ok: true, count: r.count + 10 + (tail === '' ? 0 : 1), warnings: [] }, 'continued, with audit.recovered if a tail was cut');
  t.equal(JSON.parse(again.lines.at(-1) ?? '{}').user, 'after9');
});

t.test('SIGKILL while rotating: the whole series verifies with gatehouse audit verify', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'audit.log');
  writeFileSync(join(dir, 'gatehouse.yaml'), `audit:\n  path: ${path}\n  max_bytes: 65536\n  key: ${CRASH_AUDIT_KEY}\n`);
  for (let round = 0; round < 3; round++) {
    // Killed only once this round has rotated at least once more (a slow machine may need longer than 150 ms).
    const before = (await listRotated(path)).length;
    await killMidStream(path, 64 * 1024, 150, 0, async () => (await listRotated(path)).length > before);
    const log = await openAuditLog({ path, maxBytes: 64 * 1024, writer: { instance: 'crash', macKey: deriveAuditMacKey(CRASH_AUDIT_KEY) } });
    log.write({ event: 'config.loaded', source: 'restart' });
    await log.close();
  }
  const rotated = await listRotated(path);
  t.ok(rotated.length >= 3, `${rotated.length} rotated files`);
  const out = spawnSync(NODE, [CLI, 'verify', '--config', join(dir, 'gatehouse.yaml')], { encoding: 'utf8' });
  t.equal(out.status, 0, out.stdout + out.stderr);
  t.match(out.stdout, new RegExp(`^ok: \\d+ events in ${rotated.length + 1} files, last hash [0-9a-f]{64}$`, 'm'));
});
