// The audit event catalogue (a union discriminated on `event`) and the
// aggregator that keeps report-only would-challenges from flooding the log.
import type { FactorKind } from '../config/types.ts';

/** Who and where, on events caused by a request. */
// (Type aliases, not interfaces: the chain formatter takes any object with an index signature.)
type RequestContext = {
  ip?: string;
  request_id?: string;
};

type ByUser = RequestContext & {
  user: string;
};

/** An administrative act: who did it, and who approved it where two people are needed. */
type AdminAct = {
  by: string;
  approved_by?: string;
};

/** A sign-in's risk assessment (session/risk-observer.ts): the score, the raised signals, what the rules made of them. */
export interface RiskAudit {
  score: number;
  signals: string[];
  /** deny | mfa (a second factor since the sign-in) | relax (routine factor skipped) | none */
  outcome: string;
  mode: string;
  /** Signals that could not be judged (no coordinates, unknown country). */
  unavailable?: string[];
  country?: string;
  network?: string;
  travel?: { km: number; hours: number; from: string };
}

export type AuditEvent =
  | ({ event: 'signin.success'; method?: string; risk?: RiskAudit } & ByUser)
  | ({ event: 'signin.failure'; user?: string; reason: string; risk?: RiskAudit } & RequestContext)
  | ({ event: 'signin.lockout'; until?: string; failures?: number; locked?: boolean } & ByUser)
  | ({ event: 'account.unlocked'; user: string; failures: number; was_locked: boolean } & AdminAct)
  | ({ event: 'signout' } & ByUser)
  | ({ event: 'session.revoked'; user: string; reason: string; by?: string; sessions?: number } & RequestContext)
  | ({ event: 'factor.enrolled'; factor: FactorKind; factor_id?: string; label?: string } & ByUser)
  | ({ event: 'factor.removed'; factor: FactorKind; factor_id?: string; by?: string } & ByUser)
  | ({ event: 'factor.used'; factor: FactorKind; factor_id?: string; rule?: string } & ByUser)
  | ({ event: 'factor.failure'; factor: FactorKind; reason: string; rule?: string } & ByUser)
  | ({ event: 'recovery.used'; remaining: number } & ByUser)
  | ({ event: 'push.sent'; push_id: string; purpose: string; action: string } & ByUser)
  | ({ event: 'push.answered'; push_id: string; outcome: string; action: string; signin_ip: string } & ByUser)
  | ({ event: 'push.suspended'; until: string; reason: string } & ByUser)
  | ({ event: 'recovery.regenerated'; count: number } & ByUser)
  | ({ event: 'stepup.passed'; rule: string; factor: FactorKind } & ByUser)
  | ({ event: 'stepup.failed'; rule: string; factor?: FactorKind; reason: string } & ByUser)
  | { event: 'report.would_challenge'; rule: string; count: number; window: string }
  | ({ event: 'mfa.reset'; user: string; factors?: number; reason?: string } & AdminAct & RequestContext)
  | { event: 'config.loaded'; source: string; sha256?: string; reason?: string }
  | { event: 'config.rejected'; source: string; reason: string }
  | ({ event: 'breakglass.used'; user: string; reason: string; approved_by?: string } & RequestContext)
  | { event: 'audit.rotated'; file_prev: string }
  | { event: 'audit.checkpoint'; at_seq: number; at_hash: string; kid: string; jws: string }
  | { event: 'audit.forward_queue_full'; sink: string; unsent_bytes: number }
  | { event: 'audit.recovered'; reason: string; bytes: number }
  | { event: 'audit.dropped'; count: number; events: Record<string, number> };

export type AuditEventName = AuditEvent['event'];

/** The one event that may be shed under a flood; every other is a security event. */
export const SHEDDABLE_EVENT: AuditEventName = 'report.would_challenge';

/** The narrow part of AuditLog the aggregator needs. */
export interface AuditSink {
  write(event: AuditEvent): void;
}

export interface WouldChallengeAggregator {
  /** Counts one report-only would-challenge for `rule`. O(1), no I/O. */
  record(rule: string): void;
  /** Writes one event per rule counted in the current window and starts a new window. */
  flush(): void;
  /** Flushes what is counted and stops the window timer. */
  stop(): void;
}

/**
 * Counts report-only would-challenges per rule and writes one
 * `report.would_challenge {rule, count, window}` per rule per window, so a busy
 * report-only rule costs a few lines a minute however much traffic it sees.
 * `window` is the ISO 8601 interval `start/end`. The timer is unref'd: call
 * `stop()` on shutdown to keep the last window's counts.
 */
export function createWouldChallengeAggregator(
  log: AuditSink,
  windowMs: number,
  opts: { now?: () => Date } = {},
): WouldChallengeAggregator {
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new Error(`audit: would-challenge window must be a positive number of ms, got ${windowMs}`);
  const now = opts.now ?? (() => new Date());
  let counts = new Map<string, number>();
  let windowStart = now();

  function flush(): void {
    const windowEnd = now();
    const window = `${windowStart.toISOString()}/${windowEnd.toISOString()}`;
    const done = counts;
    counts = new Map();
    windowStart = windowEnd;
    for (const [rule, count] of done) log.write({ event: 'report.would_challenge', rule, count, window });
  }

  const timer = setInterval(flush, windowMs);
  timer.unref();

  return {
    record(rule) {
      counts.set(rule, (counts.get(rule) ?? 0) + 1);
    },
    flush,
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
