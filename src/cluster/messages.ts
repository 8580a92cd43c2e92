// What the primary and its workers say to each other over the cluster's IPC
// channel (structured clone). A worker calls the primary for what only the
// primary holds (the in-memory shared state, the audit chain, the metrics of
// every worker); the primary pushes what every worker must know at once
// (a published message such as a revocation, a new audit checkpoint) and asks
// each worker for its metrics or to stop.

import type { AuditEvent } from '../audit/events.ts';
import type { Checkpoint } from '../audit/checkpoint.ts';
import type { SharedState } from '../store/shared-state.ts';

/** The SharedState methods a worker may call on the primary's (subscribe and close are handled apart). */
export const SHARED_METHODS = [
  'get', 'set', 'setIfAbsent', 'take', 'delete', 'incr', 'reserveAttempt', 'releaseAttempt', 'ttl', 'publish', 'ping',
] as const satisfies readonly (keyof SharedState)[];
export type SharedMethod = (typeof SHARED_METHODS)[number];

export type Call =
  | { op: 'shared'; method: SharedMethod; args: unknown[] }
  | { op: 'subscribe'; channel: string }
  | { op: 'audit'; event: AuditEvent }
  | { op: 'audit.flush' }
  | { op: 'metrics' };

export type ToPrimary =
  | { gh: 'call'; id: number; call: Call }
  | { gh: 'ready'; port: number; adminPort?: number }
  | { gh: 'collected'; id: number; metrics: unknown[] };

export type ToWorker =
  | { gh: 'reply'; id: number; ok: true; value: unknown }
  | { gh: 'reply'; id: number; ok: false; error: string }
  | { gh: 'published'; channel: string; message: string }
  | { gh: 'checkpoint'; checkpoint: Checkpoint }
  | { gh: 'collect'; id: number }
  | { gh: 'stop' };

/** Our messages carry `gh`; anything else on the channel (Node's own, prom-client's) is not ours. */
export function isOurs<T extends { gh: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { gh?: unknown }).gh === 'string';
}
