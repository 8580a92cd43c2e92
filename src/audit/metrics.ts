// Prometheus metrics for the gateway, on a registry of its own (not
// prom-client's global one, so tests and several gateways in one process do not
// collide), with the default process metrics.
//
// Hot path: prom-client hashes and validates the label values on every `inc()`,
// `.labels()` children included (~0.2-1 µs each). Take a handle once per route /
// rule with `forRoute()` / `forRule()` (cached here) and call its methods per
// request: its counters are plain numbers, folded into the Prometheus counters
// when a scrape collects them. Its series are created at zero up front, so they
// show from the first scrape. Route and rule names come from the config, so the
// label sets are bounded; never label with user input.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ArrayHistogram } from './array-histogram.ts';
import type { FactorKind } from '../config/types.ts';

export type DecisionOutcome = 'allow' | 'challenge' | 'deny' | 'report';
export type UpstreamErrorKind = 'refused' | 'timeout' | 'reset';
export type ChallengeResult = 'pass' | 'fail';
export type ReloadResult = 'ok' | 'rejected';

const DECISIONS: readonly DecisionOutcome[] = ['allow', 'challenge', 'deny', 'report'];
const UPSTREAM_ERRORS: readonly UpstreamErrorKind[] = ['refused', 'timeout', 'reset'];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** 1 ms to 30 s: a cached page to a report that takes its time. */
export const UPSTREAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Per-route handles; cheap enough to call on every request. */
export interface RouteMetrics {
  /** Counts a response by its status class. */
  request(status: number): void;
  upstreamSeconds(seconds: number): void;
  upstreamError(kind: UpstreamErrorKind): void;
}

export interface RuleMetrics {
  decision(outcome: DecisionOutcome): void;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text for /.gatehouse/metrics. */
  text(): Promise<string>;
  forRoute(route: string): RouteMetrics;
  forRule(rule: string): RuleMetrics;
  readonly requests: Counter<'route' | 'status_class'>;
  readonly decisions: Counter<'rule' | 'decision'>;
  readonly challenges: Counter<'factor' | 'result'>;
  readonly enrollments: Counter<'factor'>;
  readonly lockouts: Counter;
  readonly recoveryCodesUsed: Counter;
  readonly upstreamDuration: ArrayHistogram;
  readonly upstreamErrors: Counter<'route' | 'kind'>;
  readonly configReloads: Counter<'result'>;
  readonly enrolledUsers: Gauge;
  challenge(factor: FactorKind, result: ChallengeResult): void;
  enrolled(factor: FactorKind): void;
}

function statusClassIndex(status: number): number {
  const i = Math.floor(status / 100) - 1;
  return i >= 0 && i < STATUS_CLASSES.length ? i : STATUS_CLASSES.length - 1;
}

/** 1xx..5xx; anything outside 100-599 counts as 5xx (it is a gateway bug). */
export function statusClass(status: number): (typeof STATUS_CLASSES)[number] {
  return STATUS_CLASSES[statusClassIndex(status)];
}

/** Counts kept by a handle since the last scrape. */
interface Pending {
  labels: Record<string, string>[];
  counts: Float64Array;
}

/** Adds each handle's counts to `counter` and zeroes them (runs at scrape time). */
function foldInto(counter: Counter<string>, pending: Pending[]): void {
  for (const p of pending) {
    for (let i = 0; i < p.counts.length; i++) {
      if (p.counts[i] === 0) continue;
      counter.inc(p.labels[i], p.counts[i]);
      p.counts[i] = 0;
    }
  }
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  // The event-loop lag is sampled every 100 ms, not prom-client's 10: each sample wakes an idle
  // process, and 100 wakeups a second were most of an idle gateway's CPU (README, Performance).
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];
  const pendingRequests: Pending[] = [];
  const pendingDecisions: Pending[] = [];
  const pendingErrors: Pending[] = [];

  const requests = new Counter({ name: 'gatehouse_requests_total', help: 'Requests answered, by route and status class.', labelNames: ['route', 'status_class'] as const, registers, collect() { foldInto(this, pendingRequests); } });
  const decisions = new Counter({ name: 'gatehouse_decisions_total', help: 'Policy decisions, by rule and outcome.', labelNames: ['rule', 'decision'] as const, registers, collect() { foldInto(this, pendingDecisions); } });
  const challenges = new Counter({ name: 'gatehouse_challenges_total', help: 'Second-factor challenges answered, by factor and result.', labelNames: ['factor', 'result'] as const, registers });
  const enrollments = new Counter({ name: 'gatehouse_enrollments_total', help: 'Factors enrolled, by factor.', labelNames: ['factor'] as const, registers });
  const lockouts = new Counter({ name: 'gatehouse_lockouts_total', help: 'Accounts locked out after repeated failures.', registers });
  const recoveryCodesUsed = new Counter({ name: 'gatehouse_recovery_codes_used_total', help: 'Recovery codes used.', registers });
  const upstreamDuration = new ArrayHistogram({ name: 'gatehouse_upstream_duration_seconds', help: 'Time to the upstream response headers, by route.', labelName: 'route', buckets: UPSTREAM_BUCKETS, registry });
  const upstreamErrors = new Counter({ name: 'gatehouse_upstream_errors_total', help: 'Upstream failures, by route and kind.', labelNames: ['route', 'kind'] as const, registers, collect() { foldInto(this, pendingErrors); } });
  const configReloads = new Counter({ name: 'gatehouse_config_reloads_total', help: 'Configuration reloads, by result.', labelNames: ['result'] as const, registers });
  // Every worker sees the same store: summed over workers (server.workers) it would count each user once per worker.
  const enrolledUsers = new Gauge({ name: 'gatehouse_enrolled_users', help: 'Users with at least one second factor.', registers, aggregator: 'max' });
  for (const result of ['ok', 'rejected'] as const) configReloads.inc({ result }, 0);

  const routes = new Map<string, RouteMetrics>();
  const rules = new Map<string, RuleMetrics>();

  /** Creates the series at zero and returns where a handle keeps its counts. */
  function pending(counter: Counter<string>, into: Pending[], labels: Record<string, string>[]): Float64Array {
    for (const l of labels) counter.inc(l, 0);
    const counts = new Float64Array(labels.length);
    into.push({ labels, counts });
    return counts;
  }

  function forRoute(route: string): RouteMetrics {
    const known = routes.get(route);
    if (known) return known;
    const byClass = pending(requests, pendingRequests, STATUS_CLASSES.map((c) => ({ route, status_class: c })));
    const errors = pending(upstreamErrors, pendingErrors, UPSTREAM_ERRORS.map((kind) => ({ route, kind })));
    const duration = upstreamDuration.series(route);
    const handle: RouteMetrics = {
      request(status) {
        byClass[statusClassIndex(status)] += 1;
      },
      upstreamSeconds(seconds) {
        duration.observe(seconds);
      },
      upstreamError(kind) {
        const i = UPSTREAM_ERRORS.indexOf(kind);
        if (i >= 0) errors[i] += 1;
      },
    };
    routes.set(route, handle);
    return handle;
  }

  function forRule(rule: string): RuleMetrics {
    const known = rules.get(rule);
    if (known) return known;
    const byOutcome = pending(decisions, pendingDecisions, DECISIONS.map((decision) => ({ rule, decision })));
    const handle: RuleMetrics = {
      decision(outcome) {
        const i = DECISIONS.indexOf(outcome);
        if (i >= 0) byOutcome[i] += 1;
      },
    };
    rules.set(rule, handle);
    return handle;
  }

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    forRoute,
    forRule,
    requests,
    decisions,
    challenges,
    enrollments,
    lockouts,
    recoveryCodesUsed,
    upstreamDuration,
    upstreamErrors,
    configReloads,
    enrolledUsers,
    challenge(factor, result) {
      challenges.labels(factor, result).inc();
    },
    enrolled(factor) {
      enrollments.labels(factor).inc();
    },
  };
}
