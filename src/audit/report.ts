// Rollout figures for `gatehouse report`: pure aggregation of audit
// records and store facts. No files, no clock: the caller reads the log and
// the store, passes `now` and the window, and prints what comes out.
//
// Events are tallied one at a time (newTally / tallyRecord) so a log of any size
// streams through in constant memory; buildReport then combines the tally with
// the directory and store facts. rolloutReport does both for a list.
//
// Definitions (one place, so the table and the JSON agree):
// - users.total: users in the directory that are not disabled (null when the
//   identity source has no user list, e.g. oidc).
// - enrolled: such users with at least one factor in the store.
// - in_rollout: covered by rollout.enforce_for.
// - in_grace: in rollout, not enrolled, and still allowed to choose "set up
//   later" (grace date not over and deferrals left), the same test the
//   enrollment page applies.
// - deferred: chose "set up later" at least once (user_state.deferrals > 0).
// - enrollment_rate: enrolled / total.
// - factor_mix: share of enrolled users having each kind (a user may have several).
// - challenges: second-factor checks, passed (factor.used) and failed
//   (factor.failure), by factor kind. step_ups: stepup.passed/failed by rule.
// - report_only: the sum of `count` of report.would_challenge records by rule.
// - risk: sign-in records (signin.success, and signin.failure of a sign-in the
//   risk rules refused) that carry a risk assessment; per signal, the
//   sign-ins that raised it and how many of those the rules sent to a second
//   factor (outcome mfa) or denied (outcome deny), in report mode what they
//   would have done (report_mode counts those sign-ins). Step-ups the risk
//   rules asked for and their results are the `risk` row of step_ups.
// - lockouts: signin.lockout records that began a lockout (they carry the
//   failure count) and the attempts refused while locked (the others).
// Rates are fractions rounded to 4 decimals; null when there is nothing to divide.

import type { FactorKind, RolloutConfig } from '../config/types.ts';
import { deferralAllowed, isInRollout } from '../policy/rollout.ts';

/** One audit line as parsed from the file (seq, prev and hash are not needed here). */
export interface AuditRecord {
  readonly ts: string;
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface DirectoryUser {
  id: string;
  groups: string[];
  disabled: boolean;
  /** user_state.deferrals (0 when the user has no state). */
  deferrals: number;
}

export interface ReportFacts {
  /** Unix ms: the end of the window and the "now" of grace checks. */
  now: number;
  /** Unix ms: records before this are outside the window. */
  since: number;
  /** null when the identity source cannot list its users. */
  users: DirectoryUser[] | null;
  /** store.listEnrolledUsers(). */
  enrolled: ReadonlyArray<{ user: string; kinds: readonly FactorKind[] }>;
  rollout: RolloutConfig;
}

export interface PassFail {
  passed: number;
  failed: number;
  pass_rate: number | null;
}

export interface Share {
  users: number;
  rate: number | null;
}

export interface MfaResetLine {
  ts: string;
  user: string;
  by?: string;
  approved_by?: string;
  reason?: string;
}

export interface RolloutReport {
  window: { since: string; until: string; events: number; first_event: string | null; last_event: string | null };
  users: {
    total: number | null;
    disabled: number | null;
    in_rollout: number | null;
    enrolled: number;
    in_grace: number | null;
    deferred: number | null;
    enrollment_rate: number | null;
    /** Users with factors in the store who are not in the directory (deleted users' leftovers). */
    enrolled_not_in_directory: number | null;
  };
  factor_mix: { enrolled_users: number; webauthn: Share; push: Share; totp: Share; email_sms: Share };
  challenges: { by_factor: Record<string, PassFail>; total: PassFail };
  step_ups: { by_rule: Record<string, PassFail>; total: PassFail };
  report_only: { by_rule: Record<string, number>; total: number };
  recovery_codes: { uses: number; users: number };
  lockouts: { started: number; blocked_attempts: number; users: number };
  mfa_resets: { count: number; resets: MfaResetLine[] };
  risk: RiskFigures;
}

export interface RiskCounts { sign_ins: number; challenged: number; denied: number }

export interface RiskFigures {
  /** Sign-ins with a risk assessment: total, asked for a second factor, denied, the routine factor relaxed. */
  sign_ins: number;
  challenged: number;
  denied: number;
  relaxed: number;
  /** Of those, assessed in report mode (their challenges and denials were logged only). */
  report_mode: number;
  by_signal: Record<string, RiskCounts>;
}

export interface EventTally {
  since: number;
  until: number;
  events: number;
  first: string | null;
  last: string | null;
  factors: Map<string, { passed: number; failed: number }>;
  stepups: Map<string, { passed: number; failed: number }>;
  wouldChallenge: Map<string, number>;
  recoveryUses: number;
  recoveryUsers: Set<string>;
  lockoutsStarted: number;
  lockoutsBlocked: number;
  lockoutUsers: Set<string>;
  resets: MfaResetLine[];
  risk: Omit<RiskFigures, 'by_signal'> & { bySignal: Map<string, RiskCounts> };
}

/** An empty tally for records with `since <= ts <= until` (unix ms). */
export function newTally(since: number, until: number): EventTally {
  return {
    since, until, events: 0, first: null, last: null,
    factors: new Map(), stepups: new Map(), wouldChallenge: new Map(),
    recoveryUses: 0, recoveryUsers: new Set(),
    lockoutsStarted: 0, lockoutsBlocked: 0, lockoutUsers: new Set(),
    resets: [],
    risk: { sign_ins: 0, challenged: 0, denied: 0, relaxed: 0, report_mode: 0, bySignal: new Map() },
  };
}

/** Counts one record if it falls in the window. Records without a valid ts are ignored. */
export function tallyRecord(t: EventTally, rec: AuditRecord): void {
  const at = Date.parse(rec.ts);
  if (!(at >= t.since && at <= t.until)) return;
  t.events += 1;
  if (t.first === null || rec.ts < t.first) t.first = rec.ts;
  if (t.last === null || rec.ts > t.last) t.last = rec.ts;
  switch (rec.event) {
    case 'factor.used':
    case 'factor.failure':
      bump(t.factors, str(rec.factor) ?? 'unknown', rec.event === 'factor.used' ? 'passed' : 'failed');
      break;
    case 'stepup.passed':
    case 'stepup.failed':
      bump(t.stepups, str(rec.rule) ?? 'unknown', rec.event === 'stepup.passed' ? 'passed' : 'failed');
      break;
    case 'report.would_challenge': {
      const rule = str(rec.rule) ?? 'unknown';
      const count = typeof rec.count === 'number' && Number.isFinite(rec.count) && rec.count > 0 ? rec.count : 0;
      t.wouldChallenge.set(rule, (t.wouldChallenge.get(rule) ?? 0) + count);
      break;
    }
    case 'recovery.used':
      t.recoveryUses += 1;
      if (str(rec.user) !== undefined) t.recoveryUsers.add(rec.user as string);
      break;
    case 'signin.lockout':
      if (rec.failures !== undefined) t.lockoutsStarted += 1;
      else t.lockoutsBlocked += 1;
      if (str(rec.user) !== undefined) t.lockoutUsers.add(rec.user as string);
      break;
    case 'signin.success':
    case 'signin.failure': // a sign-in the risk rules refused carries its assessment too
      if (typeof rec.risk === 'object' && rec.risk !== null) tallyRisk(t.risk, rec.risk as Record<string, unknown>);
      break;
    case 'mfa.reset': {
      const line: MfaResetLine = { ts: rec.ts, user: str(rec.user) ?? '' };
      for (const key of ['by', 'approved_by', 'reason'] as const) {
        const v = str(rec[key]);
        if (v !== undefined) line[key] = v;
      }
      t.resets.push(line);
      break;
    }
    default:
      break;
  }
}

function tallyRisk(r: EventTally['risk'], risk: Record<string, unknown>): void {
  const outcome = str(risk.outcome);
  const challenged = outcome === 'mfa' ? 1 : 0;
  const denied = outcome === 'deny' ? 1 : 0;
  r.sign_ins += 1;
  r.challenged += challenged;
  r.denied += denied;
  if (outcome === 'relax') r.relaxed += 1;
  if (risk.mode === 'report') r.report_mode += 1;
  const signals = Array.isArray(risk.signals) ? new Set(risk.signals.filter((x): x is string => typeof x === 'string')) : new Set<string>();
  for (const signal of signals) {
    const row = r.bySignal.get(signal) ?? { sign_ins: 0, challenged: 0, denied: 0 };
    row.sign_ins += 1;
    row.challenged += challenged;
    row.denied += denied;
    r.bySignal.set(signal, row);
  }
}

export function buildReport(facts: ReportFacts, t: EventTally): RolloutReport {
  const kindsOf = new Map<string, Set<FactorKind>>();
  for (const e of facts.enrolled) {
    if (e.kinds.length === 0) continue;
    const set = kindsOf.get(e.user) ?? new Set<FactorKind>();
    for (const k of e.kinds) set.add(k);
    kindsOf.set(e.user, set);
  }

  let users: RolloutReport['users'];
  let enrolledKinds: Set<FactorKind>[];
  if (facts.users === null) {
    enrolledKinds = [...kindsOf.values()];
    users = {
      total: null, disabled: null, in_rollout: null, enrolled: enrolledKinds.length, in_grace: null, deferred: null,
      enrollment_rate: null, enrolled_not_in_directory: null,
    };
  } else {
    const active = facts.users.filter((u) => !u.disabled);
    const known = new Set(facts.users.map((u) => u.id));
    enrolledKinds = active.flatMap((u) => (kindsOf.has(u.id) ? [kindsOf.get(u.id)!] : []));
    const inRollout = active.filter((u) => isInRollout(u.groups, facts.rollout));
    const inGrace = inRollout.filter(
      (u) => !kindsOf.has(u.id) && deferralAllowed({ deferrals: u.deferrals }, facts.rollout, facts.now).allowed,
    );
    users = {
      total: active.length,
      disabled: facts.users.length - active.length,
      in_rollout: inRollout.length,
      enrolled: enrolledKinds.length,
      in_grace: inGrace.length,
      deferred: active.filter((u) => u.deferrals > 0).length,
      enrollment_rate: rate(enrolledKinds.length, active.length),
      enrolled_not_in_directory: [...kindsOf.keys()].filter((id) => !known.has(id)).length,
    };
  }

  const having = (pred: (kinds: Set<FactorKind>) => boolean): Share => {
    const n = enrolledKinds.filter(pred).length;
    return { users: n, rate: rate(n, enrolledKinds.length) };
  };

  const challenges = passFailTable(t.factors);
  const stepUps = passFailTable(t.stepups);
  return {
    window: {
      since: new Date(t.since).toISOString(),
      until: new Date(t.until).toISOString(),
      events: t.events,
      first_event: t.first,
      last_event: t.last,
    },
    users,
    factor_mix: {
      enrolled_users: enrolledKinds.length,
      webauthn: having((k) => k.has('webauthn')),
      push: having((k) => k.has('push')),
      totp: having((k) => k.has('totp')),
      email_sms: having((k) => k.has('email') || k.has('sms')),
    },
    challenges: { by_factor: challenges.rows, total: challenges.total },
    step_ups: { by_rule: stepUps.rows, total: stepUps.total },
    report_only: {
      by_rule: Object.fromEntries([...t.wouldChallenge].sort(([a], [b]) => compare(a, b))),
      total: [...t.wouldChallenge.values()].reduce((a, b) => a + b, 0),
    },
    recovery_codes: { uses: t.recoveryUses, users: t.recoveryUsers.size },
    lockouts: { started: t.lockoutsStarted, blocked_attempts: t.lockoutsBlocked, users: t.lockoutUsers.size },
    mfa_resets: { count: t.resets.length, resets: [...t.resets].sort((a, b) => compare(a.ts, b.ts)) },
    risk: {
      sign_ins: t.risk.sign_ins, challenged: t.risk.challenged, denied: t.risk.denied, relaxed: t.risk.relaxed, report_mode: t.risk.report_mode,
      by_signal: Object.fromEntries([...t.risk.bySignal].sort(([a], [b]) => compare(a, b))),
    },
  };
}

/** Tally and build in one step, for records already in memory. */
export function rolloutReport(facts: ReportFacts, records: Iterable<AuditRecord>): RolloutReport {
  const t = newTally(facts.since, facts.now);
  for (const r of records) tallyRecord(t, r);
  return buildReport(facts, t);
}

/** Rows sorted by key, and their total. */
function passFailTable(m: Map<string, { passed: number; failed: number }>): { rows: Record<string, PassFail>; total: PassFail } {
  const rows = [...m].sort(([a], [b]) => compare(a, b)).map(([k, v]) => [k, passFail(v.passed, v.failed)] as const);
  let passed = 0;
  let failed = 0;
  for (const v of m.values()) {
    passed += v.passed;
    failed += v.failed;
  }
  return { rows: Object.fromEntries(rows), total: passFail(passed, failed) };
}

function passFail(passed: number, failed: number): PassFail {
  return { passed, failed, pass_rate: rate(passed, passed + failed) };
}

function bump(m: Map<string, { passed: number; failed: number }>, key: string, field: 'passed' | 'failed'): void {
  const row = m.get(key) ?? { passed: 0, failed: 0 };
  row[field] += 1;
  m.set(key, row);
}

/** A fraction rounded to 4 decimals, or null for 0/0. */
export function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
