// Tampering that an unkeyed hash chain cannot see: lines rewritten with every
// hash recomputed, and records cut off the end. The MACs catch the first (with
// the audit key), a signed checkpoint kept elsewhere catches the second.
import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openAuditLog } from '../../src/audit/audit-log.ts';
import { ZERO_HASH, deriveAuditMacKey, formatLine, parseRecord } from '../../src/audit/chain.ts';
import { createCheckpointer, type Checkpoint } from '../../src/audit/checkpoint.ts';
import { AssertionSigner } from '../../src/identity/assertion.ts';
import { createSecretBox } from '../../src/store/secret-box.ts';
import { openStore } from '../../src/store/open-store.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('test/fixtures/audit/run-audit.ts');
const KEY = 'tamper-test-audit-key-0123456789-abcdefgh';

// Run from an empty directory: no config/gatehouse.yaml (nor its stored development key) to find.
const CWD = mkdtempSync(join(tmpdir(), 'gatehouse-tamper-cwd-'));
t.teardown(() => rmSync(CWD, { recursive: true, force: true }));

function verify(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(NODE, [CLI, 'verify', ...args], { encoding: 'utf8', cwd: CWD, env: { ...process.env, GATEHOUSE_AUDIT_KEY: undefined, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function keyedLog(t: Test, instance = 'gw1', events = 20): Promise<{ dir: string; path: string; keyFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tamper-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, `${instance}.audit.log`);
  const log = await openAuditLog({ path, maxBytes: 1 << 20, writer: { instance, macKey: deriveAuditMacKey(KEY) } });
  for (let i = 1; i <= events; i++) void log.write({ event: 'signin.success', user: `user${i}`, method: 'pwd' });
  await log.close();
  const keyFile = join(dir, 'audit.key');
  writeFileSync(keyFile, `${KEY}\n`);
  return { dir, path, keyFile };
}

/** What an attacker without the key can do: edit a line, then recompute every hash after it. */
function rewriteWithoutKey(path: string, lineNo: number, edit: (fields: Record<string, unknown>) => void, keepMacs: boolean): void {
  const lines = readFileSync(path, 'latin1').split('\n').filter((l) => l !== '');
  let prev = ZERO_HASH;
  const out = lines.map((line, i) => {
    const r = parseRecord(line);
    if (!r.ok) throw new Error(r.reason);
    const { seq, ts, instance, prev: _p, hash: _h, mac, ...event } = r.record.fields as Record<string, unknown>;
    if (i + 1 === lineNo) edit(event);
    const f = formatLine(prev, seq as number, ts as string, event as { event: string }, { instance: instance as string });
    prev = f.hash;
    return keepMacs ? `${f.line.slice(0, -1)},"mac":"${mac as string}"}` : f.line;
  });
  writeFileSync(path, out.join('\n') + '\n', 'latin1');
}

t.test('rewritten lines with every hash recomputed: caught with the key, invisible without it', async (t) => {
  for (const keepMacs of [true, false]) {
    const s = await keyedLog(t);
    t.match(verify([s.path, '--key-file', s.keyFile]), { code: 0, stdout: /^ok: 20 events in 1 file.*\nintegrity: every line's MAC checked/ });
    rewriteWithoutKey(s.path, 7, (e) => { e.user = 'mallory'; }, keepMacs);
    const unkeyed = verify([s.path, '--allow-unkeyed']);
    t.equal(unkeyed.code, 0, 'the structure alone looks fine: that is why the key is needed');
    t.match(unkeyed.stdout, /warning: no audit key: structure checked only/);
    const keyed = verify([s.path, '--key-file', s.keyFile]);
    t.equal(keyed.code, 1, keepMacs ? 'old MACs kept' : 'MACs stripped');
    t.match(keyed.stdout, keepMacs
      ? /^TAMPERED: .*gw1\.audit\.log:7: mac does not match/m
      : /^TAMPERED: .*gw1\.audit\.log:1: no mac/m);
    const fromEnv = verify([s.path], { GATEHOUSE_AUDIT_KEY: KEY });
    t.equal(fromEnv.code, 1, 'GATEHOUSE_AUDIT_KEY is read too');
  }
});

t.test('no key: refused unless --allow-unkeyed; a wrong key fails on line 1', async (t) => {
  const s = await keyedLog(t);
  const none = verify([s.path]);
  t.equal(none.code, 1);
  t.match(none.stderr, /no audit key, so integrity cannot be proven: give --key-file/);
  t.equal(none.stdout, '');
  const wrongKey = join(s.dir, 'wrong.key');
  writeFileSync(wrongKey, 'x'.repeat(40));
  t.match(verify([s.path, '--key-file', wrongKey]), { code: 1, stdout: /:1: mac does not match/ });
  writeFileSync(wrongKey, 'short');
  t.match(verify([s.path, '--key-file', wrongKey]), { code: 1, stderr: /shorter than 32 characters/ });
});

t.test('a cut tail is caught against a signed checkpoint; a forged checkpoint is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tamper-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore({ kind: 'sqlite', path: join(dir, 'gatehouse.db') });
  t.teardown(() => store.close());
  await store.migrate();
  const signer = new AssertionSigner(store, createSecretBox(['tamper-test-encryption-key-0123456789abcdef']), 'http://localhost');
  await signer.init();
  const path = join(dir, 'audit.log');
  const log = await openAuditLog({ path, maxBytes: 1 << 20, writer: { instance: 'gw1', macKey: deriveAuditMacKey(KEY) } });
  const published: Checkpoint[] = [];
  const cps = createCheckpointer({ log, signer, instance: 'gw1', lines: 5, everyMs: 3_600_000, publish: (c) => published.push(c), onError: (e) => t.error(e) });
  t.teardown(() => cps.stop());
  for (let i = 1; i <= 12; i++) {
    await log.write({ event: 'factor.enrolled', user: `u${i}`, factor: 'totp' });
    cps.flushed(log.head);
    await cps.checkpoint().then(() => undefined, () => undefined);
  }
  await log.close();
  const cp = published.at(-1)!;
  t.ok(published.length >= 2, `${published.length} checkpoints`);
  t.equal(cps.latest(), cp);
  const lines = readFileSync(path, 'latin1').trimEnd().split('\n');
  const cpLine = JSON.parse(lines.find((l) => l.includes('"audit.checkpoint"') && l.includes(`"at_seq":${cp.seq},`))!);
  t.match(cpLine, { event: 'audit.checkpoint', at_seq: cp.seq, at_hash: cp.hash, kid: cp.kid, jws: cp.jws, instance: 'gw1' }, 'the checkpoint is a chain record too');
  const cpFile = join(dir, 'checkpoint.json');
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(cpFile, JSON.stringify(cp));
  writeFileSync(jwksFile, JSON.stringify(signer.jwks()));
  const env = { GATEHOUSE_AUDIT_KEY: KEY };
  t.match(verify([path, '--checkpoint', cpFile, '--jwks', jwksFile], env), { code: 0, stdout: /^ok: / });
  t.match(verify([path, '--checkpoint', cpFile], env), { code: 0, stdout: /note: the signature of the checkpoint .* was not checked/ });

  // Cut every record from the checkpointed one on: the rest is a valid keyed chain.
  const cutAt = lines.findIndex((l) => JSON.parse(l).seq === cp.seq);
  writeFileSync(path, lines.slice(0, cutAt).join('\n') + '\n', 'latin1');
  t.equal(verify([path], env).code, 0, 'alone, the shorter log is consistent');
  const cut = verify([path, '--checkpoint', cpFile, '--jwks', jwksFile], env);
  t.equal(cut.code, 1);
  t.match(cut.stdout, new RegExp(`TAMPERED: .*audit\\.log: the log ends at seq ${cp.seq - 1}, before the checkpoint of .*'s seq ${cp.seq} \\(records cut off the end\\)`));

  writeFileSync(cpFile, JSON.stringify({ ...cp, seq: cp.seq - 3 }));
  t.match(verify([path, '--checkpoint', cpFile, '--jwks', jwksFile], env), { code: 1, stderr: /cannot be trusted: the signed payload differs/ });
});

t.test('--config of a shared deployment: the audit key from it is enough (the gateway\'s other secrets are not needed)', async (t) => {
  const s = await keyedLog(t);
  const config = join(s.dir, 'gatehouse.yaml');
  writeFileSync(config, `store: { kind: postgres, url: "postgres://db.invalid/gh" }\naudit:\n  path: ${s.path}\n  key_file: ${s.keyFile}\n`);
  t.match(verify(['--config', config]), { code: 0, stdout: /^ok: 20 events in 1 file.*\nintegrity: / });
});

t.test('several instances: one chain each, verified side by side, checkpoints matched by instance', async (t) => {
  const a = await keyedLog(t, 'gw-a', 5);
  const b = await keyedLog(t, 'gw-b', 7);
  const r = verify([a.path, b.path], { GATEHOUSE_AUDIT_KEY: KEY });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^ok: instance gw-a: 5 events in 1 file, .*\nok: instance gw-b: 7 events in 1 file, /);
  rewriteWithoutKey(b.path, 3, (e) => { e.user = 'mallory'; }, true);
  const bad = verify([a.path, b.path], { GATEHOUSE_AUDIT_KEY: KEY });
  t.equal(bad.code, 1);
  t.match(bad.stdout, /^ok: instance gw-a: 5 events/m);
  t.match(bad.stdout, /^TAMPERED: instance gw-b: .*:3: mac does not match/m);
});
