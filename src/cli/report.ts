// `gatehouse report [--since 30d] [--json] [--config FILE]`: rollout figures
// from the store (who has enrolled what), the users file (who should) and the
// audit log (what happened in the window): enrollment rate, factor mix,
// challenge pass/fail by factor, step-ups by rule, report-only would-be
// challenges, recovery-code use, lockouts, MFA resets. The figures themselves
// are computed in src/audit/report.ts; this file reads and prints.
//
// The audit log is read as written, live file and every rotated file
// (`<path>.<stamp>`), skipping rotated files that ended before the window. It is
// not verified here: `gatehouse audit verify` does that.
//
// Exit 0 ok, 1 bad config or unreadable data, 2 usage.

import { createReadStream, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { listRotated } from '../audit/audit-log.ts';
import { buildReport, newTally, tallyRecord, type AuditRecord, type DirectoryUser, type EventTally, type PassFail, type RolloutReport } from '../audit/report.ts';
import { parseDuration } from '../config/duration.ts';
import type { Config, FactorKind } from '../config/types.ts';
import {
  CliError, CONFIG_OPTION, configPath, DEFAULT_CONFIG, EXIT, loadOperatorConfig, openExistingStore, parseOptions, printUsage, readDirectory,
  runCommand, STD_IO, table, usageError, utcMinute, type CliIO, type CommandInfo,
} from './operator.ts';

export const REPORT: CommandInfo = {
  label: 'gatehouse report',
  usage: `usage: gatehouse report [--since 30d|YYYY-MM-DD] [--json] [--config FILE]
  --since   the window: a duration back from now (30d, 12h, 2w) or a start date (UTC); default 30d
  --json    machine-readable output
  --config  the gateway config (default ${DEFAULT_CONFIG})
`,
};
const DEFAULT_SINCE = '30d';
const ROTATED_STAMP = /\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-\d+)?$/;

export async function runReport(args: string[], io: CliIO = STD_IO): Promise<number> {
  return runCommand(REPORT, io, () => report(args, io));
}

async function report(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseOptions(args, {
    since: { type: 'string' }, json: { type: 'boolean' }, ...CONFIG_OPTION,
  });
  if (v.help) return printUsage(REPORT, io);
  const now = (io.now ?? Date.now)();
  const since = parseSince(v.since ?? DEFAULT_SINCE, now);
  const config = loadOperatorConfig(configPath(v), { now });

  const { users, enrolled } = await readFacts(config);
  const tally = newTally(since, now);
  const read = await tallyAuditLog(config.audit.path, tally);
  const figures = buildReport({ now, since, users, enrolled, rollout: config.rollout }, tally);

  if (v.json) {
    io.stdout.write(`${JSON.stringify({ ...figures, audit: read }, null, 2)}\n`);
  } else {
    io.stdout.write(formatReport(figures, v.since ?? DEFAULT_SINCE));
    if (read.skipped_lines > 0) io.stdout.write(`note: ${read.skipped_lines} audit line(s) could not be parsed and were skipped (run gatehouse audit verify)\n`);
    if (read.files.length === 0) io.stdout.write(`note: no audit log at ${config.audit.path}\n`);
  }
  return EXIT.OK;
}

/** A start instant from a duration back from now, or a UTC date / ISO timestamp. */
export function parseSince(value: string, now: number): number {
  if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value)) {
    const t = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (Number.isNaN(t)) throw usageError(`--since ${JSON.stringify(value)} is not a valid date`);
    if (t > now) throw usageError(`--since ${value} is in the future`);
    return t;
  }
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw usageError(`--since: ${(err as Error).message}`);
  }
  if (ms <= 0) throw usageError('--since must be a positive duration (e.g. 30d) or a date');
  return now - ms;
}

async function readFacts(config: Config): Promise<{ users: DirectoryUser[] | null; enrolled: Array<{ user: string; kinds: FactorKind[] }> }> {
  const directory = readDirectory(config);
  const store = await openExistingStore(config);
  try {
    const enrolled = store === null ? [] : await store.listEnrolledUsers();
    let users: DirectoryUser[] | null = null;
    if (directory !== null) {
      users = [];
      for (const u of directory.users.values()) {
        const state = store === null ? undefined : await store.getUserState(u.id);
        users.push({ id: u.id, groups: u.groups, disabled: u.disabled, deferrals: state?.deferrals ?? 0 });
      }
    }
    return { users, enrolled };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.FAILED, `cannot read the store: ${(err as Error).message}`);
  } finally {
    await store?.close();
  }
}

/** Streams the rotated files (oldest first) and the live file into the tally. */
export async function tallyAuditLog(path: string, tally: EventTally): Promise<{ files: string[]; skipped_lines: number }> {
  const dir = dirname(path);
  const files: string[] = [];
  for (const name of await listRotated(path)) {
    // A rotated file's stamp is when it was closed: nothing in it is newer (to the second).
    const m = ROTATED_STAMP.exec(name.slice(basename(path).length));
    const closed = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + 1000 : Infinity;
    if (closed >= tally.since) files.push(join(dir, name));
  }
  if (existsSync(path)) files.push(path);
  let skipped = 0;
  for (const file of files) {
    let stream;
    try {
      stream = createReadStream(file, { encoding: 'utf8' });
      for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
        if (line === '') continue;
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch {
          skipped += 1;
          continue;
        }
        if (rec === null || typeof rec !== 'object' || typeof (rec as AuditRecord).ts !== 'string' || typeof (rec as AuditRecord).event !== 'string') {
          skipped += 1;
          continue;
        }
        tallyRecord(tally, rec as AuditRecord);
      }
    } catch (err) {
      throw new CliError(EXIT.FAILED, `cannot read the audit log ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    } finally {
      stream?.destroy();
    }
  }
  return { files, skipped_lines: skipped };
}

// ---------------------------------------------------------------------------
// The human table (pure)

export function formatReport(r: RolloutReport, sinceLabel: string): string {
  const out: string[] = [];
  out.push(`rollout report: ${utcMinute(r.window.since)} .. ${utcMinute(r.window.until)} (--since ${sinceLabel}), ${r.window.events} audit events`);
  out.push('');
  const u = r.users;
  out.push('users');
  if (u.total === null) {
    out.push(`  enrolled ${u.enrolled}  (the identity source has no user list: no totals, grace or deferrals)`);
  } else {
    out.push(...table(
      ['TOTAL', 'IN ROLLOUT', 'ENROLLED', 'RATE', 'IN GRACE', 'DEFERRED', 'DISABLED'],
      [[String(u.total), String(u.in_rollout), String(u.enrolled), pct(u.enrollment_rate), String(u.in_grace), String(u.deferred), String(u.disabled)]],
    ));
    if (u.enrolled_not_in_directory) out.push(`  (${u.enrolled_not_in_directory} user(s) with factors in the store are not in the users file)`);
  }
  out.push('');
  const m = r.factor_mix;
  out.push(`factor mix (${m.enrolled_users} enrolled users; a user may have several kinds)`);
  out.push(...table(['KIND', 'USERS', 'SHARE'], [
    ['passkey / security key', String(m.webauthn.users), pct(m.webauthn.rate)],
    ['push approval', String(m.push.users), pct(m.push.rate)],
    ['authenticator app (TOTP)', String(m.totp.users), pct(m.totp.rate)],
    ['email / text message code', String(m.email_sms.users), pct(m.email_sms.rate)],
  ]));
  out.push('');
  out.push('second-factor checks');
  out.push(...passFailTable('FACTOR', r.challenges.by_factor, r.challenges.total));
  out.push('');
  out.push('step-ups by rule');
  out.push(...passFailTable('RULE', r.step_ups.by_rule, r.step_ups.total));
  out.push('');
  out.push('report-only would-be challenges by rule');
  const would = Object.entries(r.report_only.by_rule);
  out.push(...(would.length === 0 ? ['  none'] : table(['RULE', 'COUNT'], [...would.map(([k, n]) => [k, String(n)]), ['total', String(r.report_only.total)]])));
  out.push('');
  out.push(...formatRisk(r.risk));
  out.push('');
  out.push(`recovery codes used: ${r.recovery_codes.uses} (${r.recovery_codes.users} user${r.recovery_codes.users === 1 ? '' : 's'})`);
  out.push(`lockouts: ${r.lockouts.started} started, ${r.lockouts.blocked_attempts} attempts refused while locked (${r.lockouts.users} user${r.lockouts.users === 1 ? '' : 's'})`);
  out.push(`MFA resets: ${r.mfa_resets.count}`);
  for (const x of r.mfa_resets.resets) {
    out.push(`  ${utcMinute(x.ts)}  ${x.user}${x.by ? `  by ${x.by}` : ''}${x.approved_by ? `  approved by ${x.approved_by}` : ''}${x.reason ? `  (${x.reason})` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

function formatRisk(k: RolloutReport['risk']): string[] {
  if (k.sign_ins === 0) return ['risk signals: no sign-in with a risk assessment'];
  const mode = k.report_mode === 0 ? '' : k.report_mode === k.sign_ins ? ' (mode report: would-be challenges and denials, logged only)' : ` (${k.report_mode} in mode report: logged only)`;
  const head = `risk signals: ${k.sign_ins} sign-ins assessed, ${k.challenged} asked for a second factor, ${k.denied} denied, ${k.relaxed} routine factor skipped${mode}`;
  const rows = Object.entries(k.by_signal).map(([signal, c]) => [signal, String(c.sign_ins), String(c.challenged), String(c.denied)]);
  return [head, ...(rows.length === 0 ? ['  no signal raised'] : table(['SIGNAL', 'SIGN-INS', 'ASKED', 'DENIED'], rows))];
}

function passFailTable(key: string, rows: Record<string, PassFail>, total: PassFail): string[] {
  const entries = Object.entries(rows);
  if (entries.length === 0) return ['  none'];
  const line = (k: string, p: PassFail) => [k, String(p.passed), String(p.failed), pct(p.pass_rate)];
  return table([key, 'PASSED', 'FAILED', 'PASS RATE'], [...entries.map(([k, p]) => line(k, p)), line('total', total)]);
}

function pct(rate: number | null): string {
  return rate === null ? '-' : `${(rate * 100).toFixed(1)}%`;
}

