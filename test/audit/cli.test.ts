// `gatehouse audit verify`, run as its own process: exit codes and messages.
import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { listRotated, openAuditLog } from '../../src/audit/audit-log.ts';
import { deriveAuditMacKey } from '../../src/audit/chain.ts';
import type { ChainHead } from '../../src/audit/chain.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('test/fixtures/audit/run-audit.ts');

const AUDIT_KEY = 'cli-test-audit-key-0123456789-abcdefghij';
const INTEGRITY = 'integrity: every line\'s MAC checked under the audit key\n';
const writer = { instance: 'gw1', macKey: deriveAuditMacKey(AUDIT_KEY) };

/** Runs the CLI with the audit key in the environment unless `env` says otherwise. */
function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, GATEHOUSE_AUDIT_KEY: AUDIT_KEY, ...opts.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A rotated series: dir, live path, rotated names oldest first, and the head. */
async function series(t: Test, events = 120, maxBytes = 4000): Promise<{ dir: string; path: string; rotated: string[]; head: ChainHead; config: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'audit.log');
  const log = await openAuditLog({ path, maxBytes, writer });
  for (let i = 1; i <= events; i++) log.write({ event: 'stepup.passed', user: `user${i}`, rule: 'billing', factor: 'webauthn' });
  const head = log.head;
  await log.close();
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(config, `server: { listen: 127.0.0.1:8080 }\naudit:\n  path: ${path}\n`);
  return { dir, path, rotated: await listRotated(path), head, config };
}

function editLine(file: string, lineNo: number, edit: (line: string) => string): void {
  const lines = readFileSync(file, 'latin1').split('\n');
  lines[lineNo - 1] = edit(lines[lineNo - 1]);
  writeFileSync(file, lines.join('\n'), 'latin1');
}

t.test('a clean rotated series: exit 0 and the summary', async (t) => {
  const s = await series(t);
  t.ok(s.rotated.length >= 3, `${s.rotated.length} rotated files`);
  const r = run(['verify', '--config', s.config]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `ok: ${s.head.seq} events in ${s.rotated.length + 1} files, last hash ${s.head.hash}\n${INTEGRITY}`);
  const files = [...s.rotated.map((n) => join(s.dir, n)), s.path];
  const explicit = run(['verify', ...files]);
  t.equal(explicit.code, 0);
  t.equal(explicit.stdout, r.stdout, 'FILEs given in order verify the same series');
  const one = run(['verify', s.path]);
  t.equal(one.code, 0, 'a rotated-in file alone verifies from the head it claims');
  t.match(one.stdout, /^ok: \d+ events in 1 file, last hash /);
});

t.test('an edited line: exit 1, file and line named', async (t) => {
  const s = await series(t);
  const victim = join(s.dir, s.rotated[1]);
  editLine(victim, 3, (l) => l.replace('"billing"', '"payroll"'));
  const r = run(['verify', '--config', s.config]);
  t.equal(r.code, 1);
  t.equal(r.stdout, `TAMPERED: ${victim}:3: content does not match its hash (line edited)\n`);
});

t.test('a deleted, inserted or swapped line: exit 1 at that line', async (t) => {
  const cases = [
    { name: 'deleted', edit: (ls: string[]) => ls.filter((_, i) => i !== 4), line: 5, reason: /a record is missing/ },
    { name: 'inserted', edit: (ls: string[]) => [...ls.slice(0, 4), ls[1], ...ls.slice(4)], line: 5, reason: /repeated or out of order/ },
    { name: 'swapped', edit: (ls: string[]) => [...ls.slice(0, 4), ls[5], ls[4], ...ls.slice(6)], line: 5, reason: /a record is missing/ },
  ];
  for (const c of cases) {
    const s = await series(t);
    const victim = join(s.dir, s.rotated[1]);
    const lines = readFileSync(victim, 'latin1').split('\n');
    const tail = lines.pop();
    t.ok(lines.length > 8, `${lines.length} lines in ${victim}`);
    writeFileSync(victim, c.edit(lines).join('\n') + '\n' + tail, 'latin1');
    const r = run(['verify', '--config', s.config]);
    t.equal(r.code, 1, c.name);
    t.ok(r.stdout.startsWith(`TAMPERED: ${victim}:${c.line}: `), `${c.name}: ${r.stdout}`);
    t.match(r.stdout, c.reason, c.name);
  }
});

t.test('rotated files removed: from the middle is tampering, the oldest is retention', async (t) => {
  const s = await series(t);
  unlinkSync(join(s.dir, s.rotated[1]));
  const mid = run(['verify', '--config', s.config]);
  t.equal(mid.code, 1);
  t.match(mid.stdout, new RegExp(`^TAMPERED: .*${s.rotated[2]}:1: its predecessor ${s.rotated[1]} is missing while older rotated files remain`));

  const s2 = await series(t);
  unlinkSync(join(s2.dir, s2.rotated[0]));
  const oldest = run(['verify', '--config', s2.config]);
  t.equal(oldest.code, 0, oldest.stdout);
  t.match(oldest.stdout, /^note: chain checked from .*; its predecessor .* is gone \(retention\?\)\nok: /);
});

t.test('rotated files outside the live chain are named, not checked', async (t) => {
  const s = await series(t);
  const fresh = await series(t, 3, 1 << 20);
  copyFileSync(fresh.path, s.path); // the live file now starts a new chain
  const r = run(['verify', '--config', s.config]);
  t.equal(r.code, 0);
  t.equal(r.stdout, `note: ${s.rotated.length} rotated file(s) not linked into this chain, not checked (${s.rotated[0]}...)\nok: 3 events in 1 file, last hash ${fresh.head.hash}\n${INTEGRITY}`);
});

t.test('the first lines of the first file removed: exit 1', async (t) => {
  const s = await series(t, 5, 1 << 20);
  const lines = readFileSync(s.path, 'latin1').split('\n');
  writeFileSync(s.path, lines.slice(2).join('\n'), 'latin1');
  const r = run(['verify', s.path]);
  t.equal(r.code, 1);
  t.match(r.stdout, /:1: first record neither starts a chain nor names its predecessor file/);
});

t.test('a truncated tail: exit 0 with a warning', async (t) => {
  const s = await series(t, 5, 1 << 20);
  appendFileSync(s.path, '{"seq":6,"ts":"20');
  const r = run(['verify', s.path]);
  t.equal(r.code, 0);
  t.equal(r.stdout, `warning: ${s.path}: line 6: truncated tail (17 bytes without a newline; a crash during a write), not counted\nok: 5 events in 1 file, last hash ${s.head.hash}\n${INTEGRITY}`);
});

t.test('--anchor catches lines cut off the end', async (t) => {
  const s = await series(t, 5, 1 << 20);
  const anchor = `${s.head.seq}:${s.head.hash}`;
  t.equal(run(['verify', s.path, '--anchor', anchor]).code, 0, 'matches the anchor');
  const lines = readFileSync(s.path, 'latin1').split('\n');
  writeFileSync(s.path, lines.slice(0, -2).join('\n') + '\n', 'latin1'); // drop the last record
  t.equal(run(['verify', s.path]).code, 0, 'without an anchor the shorter log is consistent');
  const r = run(['verify', s.path, '--anchor', anchor]);
  t.equal(r.code, 1);
  t.match(r.stdout, /^TAMPERED: .*audit\.log: the log ends at seq 4, before the anchor's seq 5 \(records cut off the end\)$/m);
  const wrong = run(['verify', s.path, '--anchor', `3:${'a'.repeat(64)}`]);
  t.equal(wrong.code, 1);
  t.match(wrong.stdout, /:3: hash differs from the anchor recorded for seq 3/);
});

t.test('no FILE and no --config: config/gatehouse.yaml, else data/audit.log, from the cwd', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const none = run(['verify'], { cwd: dir });
  t.equal(none.code, 1);
  t.equal(none.stderr, 'error: no audit log at data/audit.log\n');
  mkdirSync(join(dir, 'data'));
  const log = await openAuditLog({ path: join(dir, 'data', 'audit.log'), maxBytes: 1 << 20, writer });
  log.write({ event: 'mfa.reset', user: 'bob', by: 'alice', approved_by: 'carol' });
  await log.close();
  t.match(run(['verify'], { cwd: dir }), { code: 0, stdout: /^ok: 1 events in 1 file/ });
  mkdirSync(join(dir, 'config'));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'config', 'gatehouse.yaml'), 'audit:\n  path: ${AUDIT_DIR}/audit.log\n');
  const fromEnv = run(['verify'], { cwd: dir, env: { AUDIT_DIR: 'logs' } });
  t.equal(fromEnv.code, 1, 'the config file wins, with ${VAR} interpolated');
  t.equal(fromEnv.stderr, 'error: no audit log at logs/audit.log\n');
  const unset = run(['verify'], { cwd: dir, env: { AUDIT_DIR: undefined } });
  t.equal(unset.code, 1);
  t.match(unset.stderr, /audit\.path: environment variable AUDIT_DIR is not set/);
});

t.test('usage errors exit 2; unreadable input exits 1', async (t) => {
  for (const args of [[], ['frob'], ['verify', '--bogus'], ['verify', '--anchor', 'xyz'], ['verify', 'a.log', '--key-file', 'k', '--allow-unkeyed']]) {
    const r = run(args);
    t.equal(r.code, 2, `gatehouse audit ${args.join(' ')}`);
    t.match(r.stderr, /usage: gatehouse audit verify/);
    t.equal(r.stdout, '');
  }
  t.match(run(['verify', '/nonexistent/audit.log']), { code: 1, stderr: 'error: no such file: /nonexistent/audit.log\n' });
  t.match(run(['verify', '--config', '/nonexistent/g.yaml']), { code: 1, stderr: /^error: cannot read config \/nonexistent\/g\.yaml/ });
  t.match(run(['--help']), { code: 0, stdout: /usage/ });
});
