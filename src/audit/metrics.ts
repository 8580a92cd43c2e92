// Prometheus metrics for the gateway, on a registry of its own (not
// prom-client's global one, so tests and several gateways in one process do not
// collide), with the default process metrics.
//
// Hot path: `.labels(...)` hashes the label values on every call. Take a handle
// once per route / rule with `forRoute()` / `forRule()` (cached here, children
// created up front so every series shows from the first scrape) and call its
// methods per request. Route and rule names come from the config, so the label
// sets are bounded; never label with user input.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
  readonly upstreamDuration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'route' | 'kind'>;
  readonly configReloads: Counter<'result'>;
  readonly enrolledUsers: Gauge;
  challenge(factor: FactorKind, result: ChallengeResult): void;
  enrolled(factor: FactorKind): void;
}

/** 1xx..5xx; anything outside 100-599 counts as 5xx (it is a gateway bug). */
export function statusClass(status: number): (typeof STATUS_CLASSES)[number] {
  const i = Math.floor(status / 100) - 1;
  return STATUS_CLASSES[i] ?? '5xx';
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({ name: 'gatehouse_requests_total', help: 'Requests answered, by route and status class.', labelNames: ['route', 'status_class'] as const, registers });
  const decisions = new Counter({ name: 'gatehouse_decisions_total', help: 'Policy decisions, by rule and outcome.', labelNames: ['rule', 'decision'] as const, registers });
  const challenges = new Counter({ name: 'gatehouse_challenges_total', help: 'Second-factor challenges answered, by factor and result.', labelNames: ['factor', 'result'] as const, registers });
  const enrollments = new Counter({ name: 'gatehouse_enrollments_total', help: 'Factors enrolled, by factor.', labelNames: ['factor'] as const, registers });
  const lockouts = new Counter({ name: 'gatehouse_lockouts_total', help: 'Accounts locked out after repeated failures.', registers });
  const recoveryCodesUsed = new Counter({ name: 'gatehouse_recovery_codes_used_total', help: 'Recovery codes used.', registers });
  const upstreamDuration = new Histogram({ name: 'gatehouse_upstream_duration_seconds', help: 'Time to the upstream response headers, by route.', labelNames: ['route'] as const, buckets: UPSTREAM_BUCKETS, registers });
  const upstreamErrors = new Counter({ name: 'gatehouse_upstream_errors_total', help: 'Upstream failures, by route and kind.', labelNames: ['route', 'kind'] as const, registers });
  const configReloads = new Counter({ name: 'gatehouse_config_reloads_total', help: 'Configuration reloads, by result.', labelNames: ['result'] as const, registers });
  const enrolledUsers = new Gauge({ name: 'gatehouse_enrolled_users', help: 'Users with at least one second factor.', registers });
  for (const result of ['ok', 'rejected'] as const) configReloads.labels(result);

  const routes = new Map<string, RouteMetrics>();
  const rules = new Map<string, RuleMetrics>();

  function forRoute(route: string): RouteMetrics {
    const known = routes.get(route);
    if (known) return known;
    const byClass = new Map(STATUS_CLASSES.map((c) => [c, requests.labels(route, c)]));
    const duration = upstreamDuration.labels(route);
    const errors = new Map(UPSTREAM_ERRORS.map((k) => [k, upstreamErrors.labels(route, k)]));
    const handle: RouteMetrics = {
      request(status) {
        byClass.get(statusClass(status))?.inc();
      },
      upstreamSeconds(seconds) {
        duration.observe(seconds);
      },
      upstreamError(kind) {
        errors.get(kind)?.inc();
      },
    };
    routes.set(route, handle);
    return handle;
  }

  function forRule(rule: string): RuleMetrics {
    const known = rules.get(rule);
    if (known) return known;
    const byOutcome = new Map(DECISIONS.map((d) => [d, decisions.labels(rule, d)]));
    const handle: RuleMetrics = {
      decision(outcome) {
        byOutcome.get(outcome)?.inc();
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
