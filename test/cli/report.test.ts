// `gatehouse report`: the pure aggregation (src/audit/report.ts) with tables,
// then a scripted scenario (users file, SQLite store, rotated audit log) run
// through the real CLI as a child process, every figure compared exactly.

import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { listRotated, openAuditLog } from '../../src/audit/audit-log.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { rate, rolloutReport, type AuditRecord, type ReportFacts } from '../../src/audit/report.ts';
import type { FactorKind, RolloutConfig } from '../../src/config/types.ts';
import { DUMMY_HASH } from '../../src/identity/password-hash.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { formatReport, parseSince, runReport } from '../../src/cli/report.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('src/cli/main.ts');
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T12:00:00Z');
const ROLLOUT: RolloutConfig = { enforce_for: ['everyone'], grace_until: '2026-12-31', max_deferrals: 3 };

function gatehouse(args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const rec = (daysAgo: number, event: string, fields: Record<string, unknown> = {}): AuditRecord => ({
  ts: new Date(NOW - daysAgo * DAY).toISOString(), event, ...fields,
});

function facts(over: Partial<ReportFacts> = {}): ReportFacts {
  return { now: NOW, since: NOW - 30 * DAY, users: [], enrolled: [], rollout: ROLLOUT, ...over };
}

t.test('rate: fractions to 4 decimals, null for nothing', async (t) => {
  for (const [part, whole, want] of [[0, 0, null], [1, 3, 0.3333], [2, 3, 0.6667], [3, 3, 1], [0, 5, 0], [1, 8, 0.125]] as const) {
    t.equal(rate(part, whole), want, `${part}/${whole}`);
  }
});

t.test('an empty log and directory: zeros and nulls, never NaN', async (t) => {
  const r = rolloutReport(facts(), []);
  t.same(r, {
    window: { since: '2026-10-23T12:00:00.000Z', until: '2026-11-22T12:00:00.000Z', events: 0, first_event: null, last_event: null },
    users: { total: 0, disabled: 0, in_rollout: 0, enrolled: 0, in_grace: 0, deferred: 0, enrollment_rate: null, enrolled_not_in_directory: 0 },
    factor_mix: { enrolled_users: 0, webauthn: { users: 0, rate: null }, push: { users: 0, rate: null }, totp: { users: 0, rate: null }, email_sms: { users: 0, rate: null } },
    challenges: { by_factor: {}, total: { passed: 0, failed: 0, pass_rate: null } },
    step_ups: { by_rule: {}, total: { passed: 0, failed: 0, pass_rate: null } },
    report_only: { by_rule: {}, total: 0 },
    recovery_codes: { uses: 0, users: 0 },
    lockouts: { started: 0, blocked_attempts: 0, users: 0 },
    mfa_resets: { count: 0, resets: [] },
    risk: { sign_ins: 0, challenged: 0, denied: 0, relaxed: 0, report_mode: 0, by_signal: {} },
  });
});

t.test('the window: since and now inclusive, outside and malformed ts ignored', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['exactly since', new Date(NOW - 30 * DAY).toISOString(), true],
    ['a millisecond before', new Date(NOW - 30 * DAY - 1).toISOString(), false],
    ['exactly now', new Date(NOW).toISOString(), true],
    ['after now', new Date(NOW + 1).toISOString(), false],
    ['not a date', 'yesterday', false],
  ];
  for (const [name, ts, counted] of cases) {
    const r = rolloutReport(facts(), [{ ts, event: 'recovery.used', user: 'a', remaining: 3 }]);
    t.equal(r.recovery_codes.uses, counted ? 1 : 0, name);
    t.equal(r.window.events, counted ? 1 : 0, `${name}: events`);
  }
});

t.test('event tallies', async (t) => {
  const table: Array<{ name: string; events: AuditRecord[]; pick: (r: ReturnType<typeof rolloutReport>) => unknown; want: unknown }> = [
    {
      name: 'factor.used / factor.failure by factor',
      events: [rec(1, 'factor.used', { factor: 'totp' }), rec(1, 'factor.used', { factor: 'totp' }), rec(1, 'factor.failure', { factor: 'totp' }), rec(2, 'factor.failure', { factor: 'email' })],
      pick: (r) => r.challenges,
      want: {
        by_factor: { email: { passed: 0, failed: 1, pass_rate: 0 }, totp: { passed: 2, failed: 1, pass_rate: 0.6667 } },
        total: { passed: 2, failed: 2, pass_rate: 0.5 },
      },
    },
    {
      name: 'step-ups by rule',
      events: [rec(1, 'stepup.passed', { rule: 'billing' }), rec(1, 'stepup.failed', { rule: 'billing' }), rec(1, 'stepup.passed', { rule: 'api-keys' })],
      pick: (r) => r.step_ups,
      want: {
        by_rule: { 'api-keys': { passed: 1, failed: 0, pass_rate: 1 }, billing: { passed: 1, failed: 1, pass_rate: 0.5 } },
        total: { passed: 2, failed: 1, pass_rate: 0.6667 },
      },
    },
    {
      name: 'report-only: the sum of counts; nonsense counts add nothing',
      events: [
        rec(1, 'report.would_challenge', { rule: 'r', count: 5 }), rec(2, 'report.would_challenge', { rule: 'r', count: 7 }),
        rec(2, 'report.would_challenge', { rule: 's', count: -4 }), rec(2, 'report.would_challenge', { rule: 's', count: '9' }),
      ],
      pick: (r) => r.report_only,
      want: { by_rule: { r: 12, s: 0 }, total: 12 },
    },
    {
      name: 'recovery codes: uses and distinct users',
      events: [rec(1, 'recovery.used', { user: 'a' }), rec(1, 'recovery.used', { user: 'a' }), rec(1, 'recovery.used', { user: 'b' })],
      pick: (r) => r.recovery_codes,
      want: { uses: 3, users: 2 },
    },
    {
      name: 'lockouts: started (with failures) vs refused while locked',
      events: [rec(1, 'signin.lockout', { user: 'a', failures: 5 }), rec(1, 'signin.lockout', { user: 'a' }), rec(1, 'signin.lockout', { user: 'b', failures: 5 })],
      pick: (r) => r.lockouts,
      want: { started: 2, blocked_attempts: 1, users: 2 },
    },
    {
      name: 'mfa resets, oldest first, with who and approval',
      events: [rec(1, 'mfa.reset', { user: 'b', by: 'ops' }), rec(3, 'mfa.reset', { user: 'a', by: 'ops', approved_by: 'carol', reason: 'lost phone' })],
      pick: (r) => r.mfa_resets,
      want: {
        count: 2,
        resets: [
          { ts: rec(3, '').ts, user: 'a', by: 'ops', approved_by: 'carol', reason: 'lost phone' },
          { ts: rec(1, '').ts, user: 'b', by: 'ops' },
        ],
      },
    },
    {
      name: 'risk: sign-ins assessed, per signal the sign-ins and what the rules made of them',
      events: [
        rec(1, 'signin.success', { user: 'a', risk: { score: 20, signals: ['new_device'], outcome: 'none', mode: 'enforce' } }),
        rec(1, 'signin.success', { user: 'a', risk: { score: 70, signals: ['new_network', 'new_country', 'new_network'], outcome: 'mfa', mode: 'enforce' } }),
        rec(2, 'signin.failure', { user: 'b', reason: 'risk denied', risk: { score: 170, signals: ['new_device', 'new_network', 'new_country', 'impossible_travel'], outcome: 'deny', mode: 'enforce' } }),
        rec(2, 'signin.failure', { user: 'b', reason: 'invalid credentials' }),
        rec(2, 'signin.success', { user: 'b', risk: { score: 0, signals: [], outcome: 'relax', mode: 'report' } }),
        rec(2, 'signin.success', { user: 'c' }),
        rec(2, 'signin.success', { user: 'c', risk: 'nonsense' }),
        rec(2, 'signin.success', { user: 'c', risk: { outcome: 'mfa', signals: 'new_device', mode: 'report' } }),
      ],
      pick: (r) => r.risk,
      want: {
        sign_ins: 5, challenged: 2, denied: 1, relaxed: 1, report_mode: 2,
        by_signal: {
          impossible_travel: { sign_ins: 1, challenged: 0, denied: 1 },
          new_country: { sign_ins: 2, challenged: 1, denied: 1 },
          new_device: { sign_ins: 2, challenged: 0, denied: 1 },
          new_network: { sign_ins: 2, challenged: 1, denied: 1 },
        },
      },
    },
  ];
  for (const c of table) t.same(c.pick(rolloutReport(facts(), c.events)), c.want, c.name);
  const text = formatReport(rolloutReport(facts(), table.at(-1)!.events), '30d');
  t.match(text, /^risk signals: 5 sign-ins assessed, 2 asked for a second factor, 1 denied, 1 routine factor skipped \(2 in mode report: logged only\)$/m);
  t.match(text, /^ {2}SIGNAL +SIGN-INS +ASKED +DENIED$/m);
  t.match(text, /^ {2}impossible_travel +1 +0 +1$/m);
  t.match(formatReport(rolloutReport(facts(), []), '30d'), /^risk signals: no sign-in with a risk assessment$/m);
});

t.test('users: totals, rollout, grace, deferrals and the factor mix', async (t) => {
  const users = [
    { id: 'a', groups: ['admins'], disabled: false, deferrals: 0 },
    { id: 'b', groups: ['staff'], disabled: false, deferrals: 1 },
    { id: 'c', groups: ['staff'], disabled: false, deferrals: 2 },
    { id: 'd', groups: ['staff'], disabled: false, deferrals: 3 },
    { id: 'e', groups: ['interns'], disabled: false, deferrals: 0 },
    { id: 'x', groups: ['staff'], disabled: true, deferrals: 0 },
  ];
  const enrolled: Array<{ user: string; kinds: FactorKind[] }> = [
    { user: 'a', kinds: ['webauthn', 'totp'] }, { user: 'b', kinds: ['sms'] }, { user: 'x', kinds: ['totp'] }, { user: 'gone', kinds: ['totp'] },
  ];
  const rollout: RolloutConfig = { enforce_for: ['admins', 'staff'], grace_until: '2026-12-31', max_deferrals: 3 };
  const cases: Array<[string, Partial<ReportFacts>, Record<string, unknown>]> = [
    ['in grace: c (deferrals left); d used all three', { rollout }, { total: 5, disabled: 1, in_rollout: 4, enrolled: 2, in_grace: 1, deferred: 3, enrollment_rate: 0.4, enrolled_not_in_directory: 1 }],
    ['grace over: nobody in grace', { rollout, now: Date.parse('2027-01-01T00:00:00Z'), since: Date.parse('2026-12-01T00:00:00Z') }, { in_grace: 0 }],
    ['the last day of grace still counts', { rollout, now: Date.parse('2026-12-31T23:59:59Z'), since: Date.parse('2026-12-01T00:00:00Z') }, { in_grace: 1 }],
    ['no grace period: nobody in grace', { rollout: { ...rollout, grace_until: undefined } }, { in_grace: 0 }],
    ['everyone in rollout', { rollout: { ...rollout, enforce_for: ['everyone'] } }, { in_rollout: 5, in_grace: 2 }],
  ];
  for (const [name, over, want] of cases) {
    const r = rolloutReport(facts({ users, enrolled, ...over }), []);
    t.match(r.users, want, name);
  }
  const r = rolloutReport(facts({ users, enrolled, rollout }), []);
  t.same(r.factor_mix, {
    enrolled_users: 2,
    webauthn: { users: 1, rate: 0.5 },
    push: { users: 0, rate: 0 },
    totp: { users: 1, rate: 0.5 },
    email_sms: { users: 1, rate: 0.5 },
  }, 'the mix counts enabled directory users only (not x, not gone)');

  const oidc = rolloutReport(facts({ users: null, enrolled, rollout }), []);
  t.same(oidc.users, { total: null, disabled: null, in_rollout: null, enrolled: 4, in_grace: null, deferred: null, enrollment_rate: null, enrolled_not_in_directory: null }, 'no directory: only what the store knows');
  t.equal(oidc.factor_mix.totp.users, 3);
});

t.test('parseSince: durations back from now, or a date', async (t) => {
  t.equal(parseSince('30d', NOW), NOW - 30 * DAY);
  t.equal(parseSince('12h', NOW), NOW - 12 * 3_600_000);
  t.equal(parseSince('2026-11-01', NOW), Date.parse('2026-11-01T00:00:00Z'));
  for (const bad of ['30', 'soon', '0', '2026-13-01', '2027-01-01']) t.throws(() => parseSince(bad, NOW), { code: 2 }, bad);
});

/** A scripted deployment: who exists, who enrolled what, and a month and a half of audit log. */
async function scenario(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const user = (groups: string[], disabled = false) => ({ display_name: 'x', email: 'x@example.com', password: DUMMY_HASH, groups, disabled });
  writeFileSync(join(dir, 'users.yaml'), stringify({
    users: {
      alice: user(['admins', 'finance']), bob: user(['staff']), carol: user(['contractors']), dave: user(['staff']),
      erin: user(['staff']), gina: user(['interns']), hank: user(['staff'], true),
    },
  }));
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(config, stringify({
    identity: { source: 'file', file: { path: join(dir, 'users.yaml') } },
    session: { secret: 'report-test-session-secret-0123456789abcdef' },
    factors: { encryption_key: 'report-test-encryption-key-0123456789abcdef' },
    rollout: { enforce_for: ['staff', 'admins', 'contractors'], grace_until: '2099-12-31', max_deferrals: 3 },
    store: { kind: 'sqlite', path: join(dir, 'gatehouse.db') },
    notifier: { kind: 'file', path: join(dir, 'outbox.log') },
    audit: { path: join(dir, 'audit.log'), max_bytes: 1500 },
  }));

  const store = openSqliteStore(join(dir, 'gatehouse.db'));
  await store.migrate();
  let n = 0;
  const factor = (u: string, kind: FactorKind) => store.addFactor({ id: `f${++n}`, user: u, kind, name: kind, data: {}, created_at: NOW, last_used_at: null });
  await factor('alice', 'webauthn');
  await factor('alice', 'totp');
  await factor('bob', 'totp');
  await factor('carol', 'email');
  await factor('hank', 'totp');
  await factor('zoe', 'totp');
  for (const [u, deferrals] of [['bob', 1], ['dave', 2], ['erin', 3]] as const) {
    await store.putUserState({ user: u, deferrals, last_factor: null, mfa_reset_at: null, updated_at: NOW });
  }
  await store.close();

  // The log: old events (40 days ago, outside --since 30d), then a month of them.
  // The clock is real time minus an offset, so the child's "now" sees them where meant.
  const base = Date.now();
  let clock = base;
  const log = await openAuditLog({ path: join(dir, 'audit.log'), maxBytes: 1500, now: () => new Date(clock) });
  let scripted = 0; // records written inside the 30-day window
  const at = (daysAgo: number, minute: number, event: AuditEvent) => {
    clock = base - daysAgo * DAY + minute * 60_000;
    if (daysAgo < 30) scripted += 1;
    log.write(event);
  };
  for (let i = 0; i < 5; i++) at(41, i, { event: 'factor.used', user: 'bob', factor: 'totp' });
  at(40, 0, { event: 'mfa.reset', user: 'bob', by: 'ops' });
  at(40, 1, { event: 'report.would_challenge', rule: 'reports-preview', count: 100, window: 'x' });
  at(40, 2, { event: 'signin.lockout', user: 'bob', failures: 5 });
  for (let i = 0; i < 8; i++) at(39, i, { event: 'signin.failure', user: 'bob', reason: 'invalid credentials' });
  const firstInWindow = base - 29 * DAY;
  at(29, 0, { event: 'factor.used', user: 'bob', factor: 'totp' });
  at(28, 0, { event: 'factor.used', user: 'alice', factor: 'totp' });
  at(27, 0, { event: 'factor.used', user: 'bob', factor: 'totp' });
  at(26, 0, { event: 'factor.failure', user: 'bob', factor: 'totp', reason: 'invalid code' });
  at(25, 0, { event: 'factor.used', user: 'alice', factor: 'webauthn' });
  at(25, 1, { event: 'factor.used', user: 'alice', factor: 'webauthn' });
  at(24, 0, { event: 'factor.used', user: 'carol', factor: 'email' });
  at(24, 1, { event: 'factor.failure', user: 'carol', factor: 'email', reason: 'invalid code' });
  at(24, 2, { event: 'factor.failure', user: 'carol', factor: 'email', reason: 'expired' });
  at(20, 0, { event: 'stepup.passed', user: 'alice', rule: 'billing', factor: 'webauthn' });
  at(20, 1, { event: 'stepup.passed', user: 'bob', rule: 'billing', factor: 'totp' });
  at(20, 2, { event: 'stepup.failed', user: 'bob', rule: 'billing', factor: 'totp', reason: 'invalid code' });
  at(19, 0, { event: 'stepup.passed', user: 'alice', rule: 'api-keys', factor: 'webauthn' });
  at(15, 0, { event: 'report.would_challenge', rule: 'reports-preview', count: 5, window: 'w1' });
  at(14, 0, { event: 'report.would_challenge', rule: 'reports-preview', count: 7, window: 'w2' });
  at(14, 1, { event: 'report.would_challenge', rule: 'export-preview', count: 2, window: 'w2' });
  at(10, 0, { event: 'recovery.used', user: 'alice', remaining: 9 });
  at(9, 0, { event: 'recovery.used', user: 'alice', remaining: 8 });
  at(8, 0, { event: 'recovery.used', user: 'bob', remaining: 9 });
  at(5, 0, { event: 'signin.lockout', user: 'bob', failures: 5 });
  at(5, 1, { event: 'signin.lockout', user: 'bob' });
  at(5, 2, { event: 'signin.lockout', user: 'bob' });
  at(4, 0, { event: 'signin.lockout', user: 'mallory', failures: 5 });
  at(2, 0, { event: 'mfa.reset', user: 'carol', by: 'ops', approved_by: 'alice', reason: 'lost phone', factors: 1 });
  const lastInWindow = clock;
  await log.close();
  t.equal(scripted, 24, 'the scenario writes 24 records in the window');
  return { dir, config, firstInWindow, lastInWindow, scripted };
}

t.test('report --json on a scripted scenario: every figure exact', async (t) => {
  const s = await scenario(t);
  const audit = join(s.dir, 'audit.log');
  const rotated = await listRotated(audit);
  t.ok(rotated.length >= 3, `the log rotated (${rotated.length} rotated files)`);
  appendFileSync(audit, 'not json at all\n');

  const before = Date.now();
  const r = gatehouse(['report', '--json', '--config', s.config]);
  const after = Date.now();
  t.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);

  // Which records fall in the window: the scripted ones, plus the rotation
  // records written with them (the writer's own, stamped with the same clock).
  const allFiles = [...rotated.map((n) => join(s.dir, n)), audit];
  const lines = allFiles.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)));
  const rotationsInWindow = lines.filter((l) => l.event === 'audit.rotated' && Date.parse(l.ts) >= s.firstInWindow).length;
  const readFiles = got.audit.files as string[];
  t.equal(readFiles.at(-1), audit, 'the live file is read last');
  t.ok(readFiles.length < allFiles.length, `rotated files that closed before the window are skipped (${readFiles.length} of ${allFiles.length} read)`);
  for (const skipped of allFiles.filter((f) => !readFiles.includes(f))) {
    const newest = readFileSync(skipped, 'utf8').split('\n').filter(Boolean).map((l) => Date.parse(JSON.parse(l).ts)).sort().at(-1)!;
    t.ok(newest < s.firstInWindow - DAY, `${skipped} holds only old records`);
  }

  const until = Date.parse(got.window.until);
  t.ok(until >= before && until <= after, 'until is the time of the run');
  t.same(got, {
    window: {
      since: new Date(until - 30 * DAY).toISOString(),
      until: got.window.until,
      events: s.scripted + rotationsInWindow,
      first_event: new Date(s.firstInWindow).toISOString(),
      last_event: new Date(s.lastInWindow).toISOString(),
    },
    users: { total: 6, disabled: 1, in_rollout: 5, enrolled: 3, in_grace: 1, deferred: 3, enrollment_rate: 0.5, enrolled_not_in_directory: 1 },
    factor_mix: { enrolled_users: 3, webauthn: { users: 1, rate: 0.3333 }, push: { users: 0, rate: 0 }, totp: { users: 2, rate: 0.6667 }, email_sms: { users: 1, rate: 0.3333 } },
    challenges: {
      by_factor: {
        email: { passed: 1, failed: 2, pass_rate: 0.3333 },
        totp: { passed: 3, failed: 1, pass_rate: 0.75 },
        webauthn: { passed: 2, failed: 0, pass_rate: 1 },
      },
      total: { passed: 6, failed: 3, pass_rate: 0.6667 },
    },
    step_ups: {
      by_rule: { 'api-keys': { passed: 1, failed: 0, pass_rate: 1 }, billing: { passed: 2, failed: 1, pass_rate: 0.6667 } },
      total: { passed: 3, failed: 1, pass_rate: 0.75 },
    },
    report_only: { by_rule: { 'export-preview': 2, 'reports-preview': 12 }, total: 14 },
    recovery_codes: { uses: 3, users: 2 },
    lockouts: { started: 2, blocked_attempts: 2, users: 2 },
    mfa_resets: { count: 1, resets: [{ ts: new Date(s.lastInWindow).toISOString(), user: 'carol', by: 'ops', approved_by: 'alice', reason: 'lost phone' }] },
    risk: { sign_ins: 0, challenged: 0, denied: 0, relaxed: 0, report_mode: 0, by_signal: {} },
    audit: { files: readFiles, skipped_lines: 1 },
  });

  // A wider window takes the old records in too.
  const wide = JSON.parse(gatehouse(['report', '--json', '--since', '60d', '--config', s.config]).stdout);
  t.equal(wide.mfa_resets.count, 2);
  t.equal(wide.report_only.by_rule['reports-preview'], 112);
  t.same(wide.challenges.by_factor.totp, { passed: 8, failed: 1, pass_rate: 0.8889 });
  t.equal(wide.audit.files.length, allFiles.length, 'every file read');
});

t.test('report: the human table, and exit codes', async (t) => {
  const s = await scenario(t);
  const r = gatehouse(['report', '--config', s.config]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^rollout report: .* \(--since 30d\), \d+ audit events\n/);
  t.match(r.stdout, /TOTAL\s+IN ROLLOUT\s+ENROLLED\s+RATE\s+IN GRACE\s+DEFERRED\s+DISABLED\n\s+6\s+5\s+3\s+50\.0%\s+1\s+3\s+1\n/);
  t.match(r.stdout, /\(1 user\(s\) with factors in the store are not in the users file\)/);
  t.match(r.stdout, /passkey \/ security key\s+1\s+33\.3%/);
  t.match(r.stdout, /totp\s+3\s+1\s+75\.0%/);
  t.match(r.stdout, /billing\s+2\s+1\s+66\.7%/);
  t.match(r.stdout, /reports-preview\s+12/);
  t.match(r.stdout, /recovery codes used: 3 \(2 users\)/);
  t.match(r.stdout, /lockouts: 2 started, 2 attempts refused while locked \(2 users\)/);
  t.match(r.stdout, /MFA resets: 1\n\s+\S+ \S+ UTC\s+carol\s+by ops\s+approved by alice\s+\(lost phone\)/);

  t.equal(gatehouse(['report', '--since', 'forever', '--config', s.config]).code, 2, 'bad --since: usage');
  t.equal(gatehouse(['report', '--bogus']).code, 2, 'unknown option: usage');
  const missing = gatehouse(['report', '--config', join(s.dir, 'nope.yaml')]);
  t.equal(missing.code, 1, 'unreadable config: 1');
  t.match(missing.stderr, /cannot read the config file/);
});

t.test('report in-process: no store and no audit log yet is not an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-report-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'users.yaml'), stringify({ users: { ann: { display_name: 'Ann', email: 'ann@example.com', password: DUMMY_HASH, groups: [], disabled: false } } }));
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(config, stringify({
    identity: { source: 'file', file: { path: join(dir, 'users.yaml') } },
    session: { secret: 'report-test-session-secret-0123456789abcdef' },
    factors: { encryption_key: 'report-test-encryption-key-0123456789abcdef' },
    store: { kind: 'sqlite', path: join(dir, 'db', 'gatehouse.db') },
    audit: { path: join(dir, 'audit.log') },
  }));
  let out = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: () => true }, now: () => NOW };
  t.equal(await runReport(['--config', config], io), 0);
  t.match(out, /note: no audit log at /);
  t.match(out, /\s+1\s+1\s+0\s+0\.0%\s+0\s+0\s+0\n/, 'one user, in rollout, not enrolled, no grace period');
  t.notOk(existsSync(join(dir, 'db', 'gatehouse.db')), 'reading created no store');
  t.equal(formatReport(rolloutReport(facts(), []), '30d').includes('none'), true, 'empty tables say none');
});

