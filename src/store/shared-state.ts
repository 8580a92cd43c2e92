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
  /**
   * Brute-force regulation in one atomic step (check and count together, so a
   * burst released at once cannot all pass the check before any is counted).
   * Refused while any slot's lock (`lock:KEY`) is in force; otherwise counts
   * the attempt on every slot (`fail:KEY`, living `counterTtlMs` from its
   * creation) and, when that attempt's number already earns a wait, sets the
   * lock now, before the attempt is verified: one attempt at a time once the
   * free ones are used. An attempt is a failure until released.
   */
  reserveAttempt(slots: readonly AttemptSlot[]): Promise<AttemptReservation>;
  /**
   * Undoes a reservation slot by slot: `clear` deletes the counter and the
   * lock (a success on the account); otherwise the count goes down by one and
   * the lock goes only if this attempt set it.
   */
  releaseAttempt(releases: readonly AttemptRelease[]): Promise<void>;
  /** Remaining TTL in ms, or -1 when the key is absent. */
  ttl(key: string): Promise<number>;
  /** Fan-out to every instance (including this one): revocations are pushed, not polled. */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  /** Throws when unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One counter of attempts and the wait schedule it follows. */
export interface AttemptSlot {
  key: string;
  /** Attempts with no wait; the next ones wait 1 s, 2 s, 4 s … up to maxWaitMs. */
  free: number;
  maxWaitMs: number;
  /** From this attempt number on, the wait is hardWaitMs (0: never). */
  hardLockAt: number;
  hardWaitMs: number;
  counterTtlMs: number;
}

export type AttemptReservation =
  | { ok: true; numbers: number[] }      // each slot's attempt number (1 = first)
  | { ok: false; waitMs: number };       // the longest lock in force

export interface AttemptRelease { key: string; number: number; clear: boolean }

/**
 * Pure: the wait that attempt number `n` earns if it fails. Mirrored by the
 * Lua in redis-shared-state.ts (RESERVE_ATTEMPT); keep the two in step.
 */
export function attemptWait(n: number, slot: AttemptSlot): number {
  if (slot.hardLockAt > 0 && n >= slot.hardLockAt) return slot.hardWaitMs;
  if (n <= slot.free) return 0;
  return Math.min(slot.maxWaitMs, 1000 * 2 ** Math.min(20, n - slot.free - 1));
}

/** Shared-state names of a slot's counter and lock. */
export const attemptCounterKey = (key: string) => `fail:${key}`;
export const attemptLockKey = (key: string) => `lock:${key}`;

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
