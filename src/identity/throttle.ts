// Brute-force regulation (NIST SP 800-63B §5.2.2) for passwords,
// every second factor, recovery codes, enrollment confirmations and
// break-glass. Counters live in shared state so they add up across instances.
// After `free` failures each further failure doubles the wait (1 s, 2 s, 4 s …
// capped); the account counter hard-locks at 100 consecutive failures. Success
// clears the account counter (not the address's).
//
// Reserve before verifying, never check-then-count: `reserve` counts the
// attempt and sets the wait it would earn in one atomic step, so a burst of
// attempts released together is verified at most as often as one client
// trying one after another could before its first wait. Then exactly one of
// `failed` (the count stands), `succeed` (cleared) or `release` (not an
// attempt after all: the backend failed, the form was malformed). A
// reservation never settled stays counted: fail closed.

import type { AttemptSlot, SharedState } from '../store/shared-state.ts';
import { attemptLockKey, attemptWait } from '../store/shared-state.ts';

export const MAX_CONSECUTIVE_FAILURES = 100;
const COUNTER_TTL_MS = 24 * 3_600_000;
const MAX_WAIT_MS = 15 * 60_000;

export interface ThrottleKey {
  key: string;     // e.g. 'pwd:u:alice', 'pwd:ip:10.0.0.1', 'mfa:u:alice'
  free: number;    // failures allowed before waits start
  account?: boolean; // hard lock at MAX_CONSECUTIVE_FAILURES; cleared by a success
}

/** A reserved attempt: settle it with failed, succeed or release. */
export interface Attempt {
  readonly keys: readonly ThrottleKey[];
  readonly numbers: readonly number[];
}

export type Reservation = { ok: true; attempt: Attempt } | { ok: false; waitMs: number };

function slot(k: ThrottleKey): AttemptSlot {
  return {
    key: k.key, free: k.free, maxWaitMs: MAX_WAIT_MS, counterTtlMs: COUNTER_TTL_MS,
    hardLockAt: k.account ? MAX_CONSECUTIVE_FAILURES : 0, hardWaitMs: COUNTER_TTL_MS,
  };
}

/** Pure: the wait after the n-th consecutive failure. */
export function waitAfter(failures: number, free: number, account: boolean): number {
  return attemptWait(failures, slot({ key: '', free, account }));
}

/** How many attempts a burst may verify before the first wait (what one client trying in turn gets). */
export function burstAllowance(k: ThrottleKey): number {
  return k.free + 1;
}

export class Throttle {
  readonly #shared: SharedState;
  constructor(shared: SharedState) {
    this.#shared = shared;
  }

  /** Milliseconds the caller must still wait (0 = may try now). For display; `reserve` is the gate. */
  async waiting(keys: readonly ThrottleKey[]): Promise<number> {
    const ttls = await Promise.all(keys.map((k) => this.#shared.ttl(attemptLockKey(k.key))));
    return Math.max(0, ...ttls);
  }

  /** Counts the attempt before it is verified, or refuses it with the wait in force. */
  async reserve(keys: readonly ThrottleKey[]): Promise<Reservation> {
    const r = await this.#shared.reserveAttempt(keys.map(slot));
    return r.ok ? { ok: true, attempt: { keys, numbers: r.numbers } } : r;
  }

  /** The attempt failed: its count stands. Returns the wait it earned and the account's consecutive count. */
  failed(attempt: Attempt): { waitMs: number; failures: number; locked: boolean } {
    let waitMs = 0;
    let failures = 0;
    attempt.keys.forEach((k, i) => {
      const n = attempt.numbers[i];
      waitMs = Math.max(waitMs, waitAfter(n, k.free, k.account ?? false));
      if (k.account) failures = n;
    });
    return { waitMs, failures, locked: failures >= MAX_CONSECUTIVE_FAILURES };
  }

  /** The attempt succeeded: the account starts afresh; the address's count of it is withdrawn. */
  async succeed(attempt: Attempt): Promise<void> {
    await this.#shared.releaseAttempt(attempt.keys.map((k, i) => ({ key: k.key, number: attempt.numbers[i], clear: k.account ?? false })));
  }

  /** Not an attempt after all (nothing was verified): withdrawn everywhere. */
  async release(attempt: Attempt): Promise<void> {
    await this.#shared.releaseAttempt(attempt.keys.map((k, i) => ({ key: k.key, number: attempt.numbers[i], clear: false })));
  }
}

/** Consecutive failed attempts of the account before this one (the risk signal recent_failures). */
export function priorFailures(attempt: Attempt): number {
  const i = attempt.keys.findIndex((k) => k.account);
  return i === -1 ? 0 : Math.max(0, attempt.numbers[i] - 1);
}

/** The keys for one kind of attempt by one user from one address. */
export function throttleKeys(kind: string, user: string, ip: string): ThrottleKey[] {
  return [
    { key: `${kind}:u:${user.toLowerCase()}`, free: 5, account: true },
    { key: `${kind}:ip:${ip}`, free: 20 },
  ];
}
