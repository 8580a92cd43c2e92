// Shared state: short-lived facts every instance must agree on (rate limits,
// replay guards, pending challenges, stashed requests, revocations). Memory for
// one instance, Redis for several. Keys are plain strings; implementations add
// their own namespace.

/**
 * Delivered to every subscriber after its connection was lost and regained:
 * messages published meanwhile are gone, so cached conclusions drawn from
 * them must be checked again (a missed revocation).
 */
export const RESYNC_MESSAGE = '\u0000resync';

export interface SharedState {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets only when absent; true when this call set it (replay guards, locks). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Atomically reads and deletes (single-use codes, stashes). */
  take(key: string): Promise<string | null>;
  delete(key: string): Promise<void>;
  /** Atomic increment; the TTL is set when the counter is created. Returns the new value. */
  incr(key: string, ttlMs: number): Promise<number>;
  /** Remaining TTL in ms, or -1 when the key is absent. */
  ttl(key: string): Promise<number>;
  /** Fan-out to every instance (including this one): revocations are pushed, not polled. */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  /** Throws when unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** TTLs are whole positive milliseconds (what Redis PX requires; memory follows the same rule). */
export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttl must be a positive number of ms, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** One subscriber's failure must not stop the others (a revocation reaches every listener). */
export function deliver(handler: (message: string) => void, channel: string, message: string): void {
  try {
    handler(message);
  } catch (err) {
    process.emitWarning(`shared-state subscriber for ${channel} threw: ${(err as Error)?.message ?? err}`, 'SharedStateWarning');
  }
}
