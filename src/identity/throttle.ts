// Brute-force regulation (NIST SP 800-63B §5.2.2) for passwords,
// every second factor, recovery codes, enrollment confirmations and
// break-glass. Counters live in shared state so they add up across instances.
// After `free` failures each further failure doubles the wait (1 s, 2 s, 4 s …
// capped). Success clears the account counter (not the address's).
//
// The account's consecutive failures are also counted in the durable store (the
// ledger): at 100 in a row the account locks until a success, which only an
// operator's `gatehouse user unlock` makes possible again. Shared-state
// counters expire and memory ones die with the process, so they alone would let
// a patient attacker past 100 (README "Security model": never more than 100). A
// throttle without a ledger (break-glass, which must work while the store is
// down) locks the account in shared state for a day at 100 instead.
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
import type { Store } from '../store/types.ts';
import { addressSource } from '../policy/address-prefix.ts';

/** Where the account's consecutive failures are counted durably (the store). */
export type FailureLedger = Pick<Store, 'failureCount' | 'addFailure' | 'removeFailure' | 'clearFailures'>;

export const MAX_CONSECUTIVE_FAILURES = 100;

/** Pure: whether so many failures in a row lock the account. */
export function lockedAt(consecutive: number): boolean {
  return consecutive >= MAX_CONSECUTIVE_FAILURES;
}
const COUNTER_TTL_MS = 24 * 3_600_000;
const MAX_WAIT_MS = 15 * 60_000;

export interface ThrottleKey {
  key: string;     // e.g. 'pwd:u:alice', 'pwd:ip:10.0.0.1', 'pwd:ip:2001:db8:1:2::/64', 'mfa:u:alice'
  free: number;    // failures allowed before waits start
  account?: boolean; // hard lock at MAX_CONSECUTIVE_FAILURES; cleared by a success
}

/** A reserved attempt: settle it with failed, succeed or release. */
export interface Attempt {
  readonly keys: readonly ThrottleKey[];
  readonly numbers: readonly number[];
  /** The account's consecutive failures with this attempt, from the ledger (absent without one). */
  readonly consecutive?: number;
}

/** Refused: a wait is in force, or (`locked`) the account has failed 100 times in a row and waits for an operator. */
export type Refusal = { ok: false; waitMs: number; locked?: true };
export type Reservation = { ok: true; attempt: Attempt } | Refusal;

function slot(k: ThrottleKey, hardLock: boolean): AttemptSlot {
  return {
    key: k.key, free: k.free, maxWaitMs: MAX_WAIT_MS, counterTtlMs: COUNTER_TTL_MS,
    hardLockAt: hardLock && k.account ? MAX_CONSECUTIVE_FAILURES : 0, hardWaitMs: COUNTER_TTL_MS,
  };
}

/** The refusal of a locked account (its wait: what a client is told to wait before asking again, an hour). */
const LOCKED: Refusal = { ok: false, waitMs: 3_600_000, locked: true };

/** Pure: the wait after the n-th consecutive failure. */
export function waitAfter(failures: number, free: number, account: boolean, hardLock = true): number {
  return attemptWait(failures, slot({ key: '', free, account }, hardLock));
}

/** How many attempts a burst may verify before the first wait (what one client trying in turn gets). */
export function burstAllowance(k: ThrottleKey): number {
  return k.free + 1;
}

export class Throttle {
  readonly #shared: SharedState;
  readonly #ledger: FailureLedger | undefined;
  readonly #now: () => number;
  constructor(shared: SharedState, ledger?: FailureLedger, now: () => number = Date.now) {
    this.#shared = shared;
    this.#ledger = ledger;
    this.#now = now;
  }

  #slots(keys: readonly ThrottleKey[]): AttemptSlot[] {
    return keys.map((k) => slot(k, this.#ledger === undefined));
  }

  /** Milliseconds the caller must still wait (0 = may try now). For display; `reserve` is the gate. */
  async waiting(keys: readonly ThrottleKey[]): Promise<number> {
    const ttls = await Promise.all(keys.map((k) => this.#shared.ttl(attemptLockKey(k.key))));
    return Math.max(0, ...ttls);
  }

  /** Whether the account among `keys` is locked (100 failures in a row); for display, `reserve` is the gate. */
  async locked(keys: readonly ThrottleKey[]): Promise<boolean> {
    const account = keys.find((k) => k.account);
    return this.#ledger !== undefined && account !== undefined && lockedAt(await this.#ledger.failureCount(account.key));
  }

  /** Counts the attempt before it is verified, or refuses it with the wait in force (or the lock). */
  async reserve(keys: readonly ThrottleKey[]): Promise<Reservation> {
    const account = this.#ledger === undefined ? undefined : keys.find((k) => k.account);
    // A locked account is refused before shared state counts anything: no wait is started,
    // so once an operator unlocks it the user can try at once.
    if (account !== undefined && lockedAt(await this.#ledger!.failureCount(account.key))) return LOCKED;
    const r = await this.#shared.reserveAttempt(this.#slots(keys));
    if (!r.ok) return r;
    const attempt: Attempt = { keys, numbers: r.numbers };
    if (account === undefined) return { ok: true, attempt };
    // Counted before verifying, atomically: of attempts racing past the check above, only
    // those the ledger numbers up to 100 are verified.
    const consecutive = await this.#ledger!.addFailure(account.key, this.#now());
    if (consecutive > MAX_CONSECUTIVE_FAILURES) {
      await this.#ledger!.removeFailure(account.key);
      await this.#shared.releaseAttempt(keys.map((k, i) => ({ key: k.key, number: r.numbers[i], clear: false })));
      return LOCKED;
    }
    return { ok: true, attempt: { ...attempt, consecutive } };
  }

  /** The attempt failed: its count stands. Returns the wait it earned and the account's consecutive count. */
  failed(attempt: Attempt): { waitMs: number; failures: number; locked: boolean } {
    let waitMs = 0;
    let failures = 0;
    attempt.keys.forEach((k, i) => {
      const n = attempt.numbers[i];
      waitMs = Math.max(waitMs, waitAfter(n, k.free, k.account ?? false, this.#ledger === undefined));
      if (k.account) failures = attempt.consecutive ?? n;
    });
    return { waitMs, failures, locked: lockedAt(failures) };
  }

  /** The attempt succeeded: the account starts afresh; the address's count of it is withdrawn. */
  async succeed(attempt: Attempt): Promise<void> {
    await this.#shared.releaseAttempt(attempt.keys.map((k, i) => ({ key: k.key, number: attempt.numbers[i], clear: k.account ?? false })));
    if (attempt.consecutive !== undefined) await this.#ledger!.clearFailures(attempt.keys.filter((k) => k.account).map((k) => k.key));
  }

  /** Not an attempt after all (nothing was verified): withdrawn everywhere. */
  async release(attempt: Attempt): Promise<void> {
    await this.#shared.releaseAttempt(attempt.keys.map((k, i) => ({ key: k.key, number: attempt.numbers[i], clear: false })));
    const account = attempt.keys.find((k) => k.account);
    if (attempt.consecutive !== undefined && account !== undefined) await this.#ledger!.removeFailure(account.key);
  }
}

/** Consecutive failed attempts of the account before this one (the risk signal recent_failures). */
export function priorFailures(attempt: Attempt): number {
  const i = attempt.keys.findIndex((k) => k.account);
  return i === -1 ? 0 : Math.max(0, (attempt.consecutive ?? attempt.numbers[i]) - 1);
}

/** The kinds of attempt counted per account: the first factor (password, upstream_form) and every second factor. */
export const ATTEMPT_KINDS = ['pwd', 'mfa'] as const;

/** The account's key for one kind of attempt (also the ledger's name for its count). */
export function accountKey(kind: string, user: string): string {
  return `${kind}:u:${user.toLowerCase()}`;
}

/**
 * The address's key for one kind of attempt: an IPv4 client by its address,
 * an IPv6 one by its /64 (addressSource: one host is routinely given a whole
 * /64, and counted per address it would start afresh with every address it
 * picks; README "Security model").
 */
export function addressKey(kind: string, ip: string): string {
  return `${kind}:ip:${addressSource(ip)}`;
}

/** The keys for one kind of attempt by one user from one address. */
export function throttleKeys(kind: (typeof ATTEMPT_KINDS)[number], user: string, ip: string): ThrottleKey[] {
  return [
    { key: accountKey(kind, user), free: 5, account: true },
    { key: addressKey(kind, ip), free: 20 },
  ];
}
