// `gatehouse mfa list|reset`: the approval rule as a table, list and reset on a
// real SQLite store and audit log, a refused reset that changes nothing, and
// (with the real Redis) a reset that revokes a session held by a running
// gateway in another process.

import t from 'tap';
import type { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { configuredAuditLog, openAuditLog } from '../../src/audit/audit-log.ts';
import { loadConfig } from '../../src/config/load.ts';
import { approvalProblem, formatListing, mfaListing, runMfa } from '../../src/cli/mfa.ts';
import { DUMMY_HASH } from '../../src/identity/password-hash.ts';
import type { UserRecord } from '../../src/identity/types.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { Client, startTestGateway } from '../helpers/gateway.ts';
import { REDIS_URL, requireRedis } from '../helpers/services.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('src/cli/main.ts');
const NOW = Date.parse('2026-11-22T12:00:00Z');

function gatehouse(args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking this process (a gateway in it must keep answering). */
function gatehouseAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(NODE, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** runMfa in this process, output captured. */
async function mfaHere(args: string[], now?: number) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (x: string) => { stdout += x; return true; } },
    stderr: { write: (x: string) => { stderr += x; return true; } },
    ...(now !== undefined ? { now: () => now } : {}),
  };
  const code = await runMfa(args, io);
  return { code, stdout, stderr };
}

const user = (id: string, groups: string[], disabled = false): UserRecord => ({
  id, display_name: id, email: `${id}@example.com`, password_hash: DUMMY_HASH, groups, disabled,
});

t.test('approvalProblem: who may approve resetting whom', async (t) => {
  const dir = new Map([
    ['alice', user('alice', ['admins', 'finance'])],
    ['carol', user('carol', ['admins'])],
    ['sec', user('sec', ['security'])],
    ['dave', user('dave', ['admins'], true)],
    ['bob', user('bob', ['staff'])],
  ]);
  const privileged = ['admins', 'security'];
  const table: Array<[string, string, string, string | undefined, RegExp | undefined]> = [
    ['non-privileged target, no approver', 'bob', 'ops', undefined, undefined],
    ['privileged target, no approver', 'alice', 'ops', undefined, /alice is in a privileged group \(admins\): resetting needs --approved-by/],
    ['privileged target, another admin approves', 'alice', 'ops', 'carol', undefined],
    ['an admin of another privileged group approves', 'alice', 'ops', 'sec', undefined],
    ['self-approval', 'alice', 'ops', 'alice', /cannot approve the reset of their own/],
    ['the operator approves themself', 'alice', 'carol', 'carol', /second person, not the operator/],
    ['a non-admin approves', 'alice', 'ops', 'bob', /bob is not in a privileged group/],
    ['a disabled admin approves', 'alice', 'ops', 'dave', /dave is disabled/],
    ['an unknown approver', 'alice', 'ops', 'mallory', /"mallory" is not a user/],
    ['a bad approver is refused even where none is needed', 'bob', 'ops', 'mallory', /not a user/],
  ];
  for (const [name, target, by, approver, want] of table) {
    const problem = approvalProblem(target, dir, privileged, by, approver);
    if (want === undefined) t.equal(problem, undefined, name);
    else t.match(problem, want, name);
  }
  t.match(approvalProblem('x', null, privileged, 'ops', undefined), /no user list/, 'no directory: an approver is always needed');
  t.equal(approvalProblem('x', null, privileged, 'ops', 'y'), undefined, 'no directory: any second person');
  t.match(approvalProblem('x', null, privileged, 'ops', 'x'), /own/, 'no directory: still not oneself');
});

interface Fixture {
  dir: string;
  config: string;
  audit: string;
  outbox: string;
  db: string;
  store(): Promise<Store>;
}

/** Users, a store holding alice's and bob's factors, codes and devices, and an audit log already in use. */
async function fixture(t: Test, opts: { alertEmail?: string } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mfa-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (groups: string[], disabled = false) => ({ display_name: 'x', email: 'x@example.com', password: DUMMY_HASH, groups, disabled });
  writeFileSync(join(dir, 'users.yaml'), stringify({
    users: {
      alice: { ...entry(['admins', 'finance']), email: 'alice@example.com' },
      carol: entry(['admins']),
      dave: entry(['admins'], true),
      bob: { ...entry(['staff']), email: 'bob@example.com' },
    },
  }));
  const f: Fixture = {
    dir,
    config: join(dir, 'gatehouse.yaml'),
    audit: join(dir, 'audit.log'),
    outbox: join(dir, 'outbox.log'),
    db: join(dir, 'gatehouse.db'),
    async store() {
      const s = openSqliteStore(f.db);
      await s.migrate();
      return s;
    },
  };
  writeFileSync(f.config, stringify({
    identity: { source: 'file', file: { path: join(dir, 'users.yaml') } },
    session: { secret: 'mfa-test-session-secret-0123456789abcdefgh' },
    factors: { encryption_key: 'mfa-test-encryption-key-0123456789abcdefgh' },
    store: { kind: 'sqlite', path: f.db },
    notifier: { kind: 'file', path: f.outbox },
    audit: { path: f.audit, key: 'mfa-test-audit-key-0123456789abcdefghijk', ...(opts.alertEmail ? { alert_email: opts.alertEmail } : {}) },
  }));
  const s = await f.store();
  for (const u of ['alice', 'bob']) {
    await s.addFactor({ id: `${u}-key`, user: u, kind: 'webauthn', name: 'YubiKey 5', data: {}, created_at: NOW - 86_400_000, last_used_at: NOW - 3_600_000 });
    await s.addFactor({ id: `${u}-app`, user: u, kind: 'totp', name: 'Authenticator app', data: {}, created_at: NOW - 2 * 86_400_000, last_used_at: null });
    await s.replaceRecoveryCodes(u, Array.from({ length: 10 }, (_, i) => `${u}-code-hash-${i}`));
    await s.addDevice({ id: `${u}-laptop`, user: u, label: 'Firefox on Linux', created_at: NOW - 86_400_000, expires_at: NOW + 29 * 86_400_000, last_used_at: null });
    await s.putUserState({ user: u, deferrals: 1, last_factor: 'totp', mfa_reset_at: null, updated_at: NOW });
    if (u === 'alice') for (let i = 0; i < 3; i++) await s.addFailure('mfa:u:alice', NOW);
  }
  await s.consumeRecoveryCode('alice', 'alice-code-hash-0');
  await s.close();
  const log = await openAuditLog(configuredAuditLog(loadConfig(f.config)));
  log.write({ event: 'signin.success', user: 'alice' });
  log.write({ event: 'factor.used', user: 'alice', factor: 'totp' });
  await log.close();
  return f;
}

async function snapshotOf(f: Fixture, u: string) {
  const s = await f.store();
  try {
    return {
      factors: (await s.listFactors(u)).map((x) => x.id).sort(),
      codes: await s.countRecoveryCodes(u),
      devices: (await s.listDevices(u)).map((d) => d.id),
      state: await s.getUserState(u),
      secondFactorFailures: await s.failureCount(`mfa:u:${u}`),
    };
  } finally {
    await s.close();
  }
}

const auditLines = (f: Fixture) => readFileSync(f.audit, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const outbox = (f: Fixture) => (existsSync(f.outbox) ? readFileSync(f.outbox, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

t.test('mfa list: factors, codes left, devices', async (t) => {
  const f = await fixture(t);
  let out = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: () => true }, now: () => NOW };
  t.equal(await runMfa(['list', 'alice', '--json', '--config', f.config], io), 0);
  t.same(JSON.parse(out), {
    user: 'alice', display_name: 'x', email: 'alice@example.com', groups: ['admins', 'finance'], privileged: true,
    factors: [
      { id: 'alice-app', kind: 'totp', label: 'Authenticator app', name: 'Authenticator app', created: '2026-11-20T12:00:00.000Z', last_used: null },
      { id: 'alice-key', kind: 'webauthn', label: 'Passkey or security key', name: 'YubiKey 5', created: '2026-11-21T12:00:00.000Z', last_used: '2026-11-22T11:00:00.000Z' },
    ],
    recovery_codes_left: 9,
    trusted_devices: [{ id: 'alice-laptop', label: 'Firefox on Linux', created: '2026-11-21T12:00:00.000Z', expires: '2026-12-21T12:00:00.000Z', last_used: null, expired: false }],
    deferrals: 1,
    mfa_reset_at: null,
    failures_in_a_row: { password: 0, second_factor: 3 },
    locked: false,
  });

  const r = gatehouse(['mfa', 'list', 'alice', '--config', f.config]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^user:\s+alice \(x, alice@example\.com\)\s+groups admins,finance\s+privileged\n/);
  t.match(r.stdout, /KIND\s+NAME\s+CREATED\s+LAST USED\n\s+totp\s+Authenticator app\s+2026-11-20 12:00 UTC\s+never\n\s+webauthn\s+YubiKey 5\s+2026-11-21 12:00 UTC\s+2026-11-22 11:00 UTC/);
  t.match(r.stdout, /recovery codes:\s+9 left/);
  t.match(r.stdout, /Firefox on Linux\s+2026-11-21 12:00 UTC\s+2026-12-21 12:00 UTC\s+never/);

  t.match(r.stdout, /failed in a row: password 0, second factor 3\n$/);

  const empty = mfaListing('zed', undefined, ['admins'], { factors: [], recoveryLeft: 0, devices: [], state: undefined, failures: { pwd: 0, mfa: 0 } }, NOW);
  t.match(formatListing(empty), /factors:\s+none\n.*recovery codes:\s+0 left\ntrusted devices: none\n/s);
  const locked = mfaListing('zed', undefined, ['admins'], { factors: [], recoveryLeft: 0, devices: [], state: undefined, failures: { pwd: 100, mfa: 2 } }, NOW);
  t.equal(locked.locked, true, '100 failed passwords in a row: locked');
  t.match(formatListing(locked), /failed in a row: password 100, second factor 2  LOCKED \(gatehouse user unlock zed\)\n$/);

  const unknown = gatehouse(['mfa', 'list', 'zed', '--config', f.config]);
  t.equal(unknown.code, 1, 'an unknown user: 1');
  t.match(unknown.stderr, /no user "zed"/);
  const everyone = gatehouse(['mfa', 'list', '--config', f.config]);
  t.equal(everyone.code, 0, `no USER lists everyone: ${everyone.stderr}`);
  t.match(everyone.stdout, /^\s*USER\s+FACTORS\s+RECOVERY CODES\s+TRUSTED DEVICES\s+LAST USED\n/);
  t.match(everyone.stdout, /\n\s*alice\s+totp,webauthn\s+9\s+1\s+2026-11-22 11:00 UTC\n/);
  t.match(everyone.stdout, /\n\s*bob\s+totp,webauthn\s+10\s+1\s+2026-11-22 11:00 UTC\n/);
  t.match(everyone.stdout, /\n\s*carol\s+none\s+0\s+0\s+never\n/, 'a user without factors is listed too');
  t.match(everyone.stdout, /\n\s*dave\s+none/);
  const everyoneJson = await mfaHere(['list', '--json', '--config', f.config], NOW);
  t.same((JSON.parse(everyoneJson.stdout) as Array<{ user: string }>).map((l) => l.user), ['alice', 'bob', 'carol', 'dave']);
  const noUser = await mfaHere(['reset', '--config', f.config]);
  t.equal(noUser.code, 2, 'reset without USER: usage');
  t.match(noUser.stderr, /missing USER for reset/);
  const typo = gatehouse(['mfa', 'list', '--jsn', '--config', f.config]);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /^gatehouse mfa: unknown option --jsn \(did you mean --json\?\)\nusage:/, 'a plain message with a suggestion');
  t.equal((await mfaHere(['frobnicate', 'alice'])).code, 2, 'unknown subcommand: usage');
  t.equal((await mfaHere(['list', 'alice', '--approved-by', 'carol', '--config', f.config])).code, 2, 'reset options on list: usage');
  t.equal((await mfaHere(['list', 'Alice!', '--config', f.config])).code, 1, 'an impossible username: 1');
});

t.test('mfa reset of a privileged user: refused without a valid approver, and nothing changes', async (t) => {
  const f = await fixture(t);
  const before = await snapshotOf(f, 'alice');
  const auditBefore = readFileSync(f.audit, 'utf8');
  const attempts: Array<[string[], RegExp]> = [
    [[], /refused: alice is in a privileged group \(admins\): resetting needs --approved-by/],
    [['--approved-by', 'alice'], /cannot approve the reset of their own/],
    [['--approved-by', 'bob'], /bob is not in a privileged group/],
    [['--approved-by', 'dave'], /dave is disabled/],
    [['--approved-by', 'carol', '--by', 'carol'], /second person/],
    [['--approved-by', 'mallory'], /not a user/],
  ];
  for (const [i, [extra, why]] of attempts.entries()) {
    const args = ['mfa', 'reset', 'alice', '--by', 'ops', ...extra, '--config', f.config];
    const r = i === 0 ? gatehouse(args) : await mfaHere(args.slice(1));
    t.equal(r.code, 1, `${extra.join(' ') || 'no approver'}: exit 1`);
    t.match(r.stderr, why);
    t.match(r.stderr, /nothing was changed/);
  }
  t.same(await snapshotOf(f, 'alice'), before, 'factors, codes, devices and state untouched');
  t.equal(readFileSync(f.audit, 'utf8'), auditBefore, 'nothing audited');
  t.same(outbox(f), [], 'nobody notified');
});

t.test('mfa reset with a valid approver: cleared, audited in the chain, notified', async (t) => {
  const f = await fixture(t, { alertEmail: 'security@example.com' });
  const r = gatehouse(['mfa', 'reset', 'alice', '--by', 'ops', '--approved-by', 'carol', '--reason', 'lost phone and key', '--config', f.config]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^reset alice: removed 2 factors, 9 unused recovery codes, 1 trusted device; sessions revoked; audited as seq 3 \(by ops, approved by carol\)\n/);
  t.match(r.stderr, /note: shared_state is memory: a running gateway ends the user's sessions when it next polls the store/, 'says how a running gateway learns of the reset with memory shared state');

  const after = await snapshotOf(f, 'alice');
  t.same(after.factors, []);
  t.equal(after.codes, 0);
  t.same(after.devices, []);
  t.equal(after.state?.deferrals, 1, 'deferrals kept');
  t.equal(after.secondFactorFailures, 0, 'wrong codes typed before the reset are forgotten (a second-factor lock goes too)');
  t.equal(after.state?.last_factor, null);
  t.ok(after.state?.mfa_reset_at && Math.abs(after.state.mfa_reset_at - Date.now()) < 60_000, 'mfa_reset_at set to now');
  const bob = await snapshotOf(f, 'bob');
  t.equal(bob.factors.length, 2, 'other users untouched');

  const verify = gatehouse(['audit', 'verify', f.audit, '--config', f.config]);
  t.equal(verify.code, 0, `the chain verifies: ${verify.stdout}${verify.stderr}`);
  t.match(verify.stdout, /^ok: 3 events in 1 file/);
  const last = auditLines(f).at(-1);
  t.match(last, { seq: 3, event: 'mfa.reset', user: 'alice', by: 'ops', approved_by: 'carol', factors: 2, reason: 'lost phone and key' });

  const mail = outbox(f);
  t.equal(mail.length, 2);
  t.match(mail[0], { to: 'alice@example.com', kind: 'mfa_reset', subject: /two-step verification was reset/ });
  t.match(mail[0].text, /reset by ops/);
  t.match(mail[1], { to: 'security@example.com', kind: 'mfa_reset_alert', subject: /MFA reset for alice/ });
  t.match(mail[1].text, /by ops, approved by carol/);
});

t.test('mfa reset of a non-privileged user needs no approver; the default operator is the login name', async (t) => {
  const f = await fixture(t);
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } } };
  t.equal(await runMfa(['reset', 'bob', '--config', f.config], io), 0, err);
  t.match(out, /reset bob: removed 2 factors, 10 unused recovery codes, 1 trusted device/);
  const event = auditLines(f).at(-1);
  t.match(event, { event: 'mfa.reset', user: 'bob', factors: 2 });
  t.type(event.by, 'string');
  t.notOk('approved_by' in event);
  t.equal((await snapshotOf(f, 'bob')).factors.length, 0);
  t.equal((await snapshotOf(f, 'alice')).factors.length, 2);
  t.equal(await runMfa(['reset', 'bob', '--json', '--config', f.config], io), 2, '--json is for list only');
});

t.test('mfa reset revokes the sessions a running gateway holds (Redis, another process)', async (t) => {
  if (!(await requireRedis(t))) {
    t.plan(0, 'Redis not reachable (reason printed above)');
    return;
  }
  const prefix = `gh-test-${randomBytes(6).toString('hex')}:`;
  const f = await startTestGateway({ config: { shared_state: { kind: 'redis', url: REDIS_URL, prefix }, policy: { default: 'login', rules: [] } } });
  t.teardown(() => f.close());
  const bob = new Client(f.url);
  const alice = new Client(f.url);
  t.equal((await bob.signIn('bob', 'bob-test-pass')).status, 303, 'bob signed in');
  t.equal((await alice.signIn('alice', 'alice-test-pass')).status, 303, 'alice signed in');
  t.equal((await bob.fetch('/')).status, 200, 'bob reaches the portal');
  t.equal((await alice.fetch('/')).status, 200, 'alice reaches the portal');
  await f.gw.services.audit.flush(); // the gateway's audit batch reaches the disk before the CLI appends

  const refused = await gatehouseAsync(['mfa', 'reset', 'alice', '--by', 'ops', '--config', f.configPath]);
  t.equal(refused.code, 1, 'alice is an admin: refused without approval');
  t.equal((await alice.fetch('/')).status, 200, 'a refused reset revokes nothing');

  const r = await gatehouseAsync(['mfa', 'reset', 'bob', '--by', 'ops', '--config', f.configPath]);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /shared_state is memory/);
  let status = 0;
  for (let i = 0; i < 40; i++) {
    status = (await bob.fetch('/')).status;
    if (status !== 200) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  t.equal(status, 302, 'bob\'s session is refused: sent to sign in');
  const location = (await bob.fetch('/')).headers.get('location') ?? '';
  t.match(location, /^\/\.gatehouse\/login\?/);
  t.equal((await alice.fetch('/')).status, 200, 'other users keep their sessions');

  await f.gw.services.audit.flush();
  const verify = await gatehouseAsync(['audit', 'verify', join(f.dir, 'audit.log'), '--config', f.configPath]);
  t.equal(verify.code, 0, `the gateway's audit log, continued by the CLI, verifies: ${verify.stdout}`);
  const events = readFileSync(join(f.dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.match(events.at(-1), { event: 'mfa.reset', user: 'bob', by: 'ops', factors: 0 }, 'the reset is the last record of the gateway\'s audit log');

  const fresh = new Client(f.url);
  t.equal((await fresh.signIn('bob', 'bob-test-pass')).status, 303, 'bob can sign in again');
  t.equal((await fresh.fetch('/')).status, 200, 'and a new session is not caught by the old revocation');
});
