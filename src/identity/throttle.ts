// Brute-force regulation (SPEC §8, NIST SP 800-63B §5.2.2) for passwords and
// every second factor. Counters live in shared state so they add up across
// instances. After `free` failures each further failure doubles the wait
// (1 s, 2 s, 4 s … capped); the account counter hard-locks at 100
// consecutive failures. Success clears the account counter (not the IP's).

import type { SharedState } from '../store/shared-state.ts';

export const MAX_CONSECUTIVE_FAILURES = 100;
const COUNTER_TTL_MS = 24 * 3_600_000;
const MAX_WAIT_MS = 15 * 60_000;

export interface ThrottleKey {
  key: string;     // e.g. 'pwd:u:alice', 'pwd:ip:10.0.0.1', 'totp:u:alice'
  free: number;    // failures allowed before waits start
  account?: boolean; // hard lock at MAX_CONSECUTIVE_FAILURES
}

/** Pure: the wait after the n-th consecutive failure. */
export function waitAfter(failures: number, free: number, account: boolean): number {
  if (account && failures >= MAX_CONSECUTIVE_FAILURES) return COUNTER_TTL_MS;
  if (failures <= free) return 0;
  return Math.min(MAX_WAIT_MS, 1000 * 2 ** Math.min(20, failures - free - 1));
}

export class Throttle {
  readonly #shared: SharedState;
  constructor(shared: SharedState) {
    this.#shared = shared;
  }

  /** Milliseconds the caller must still wait (0 = may try now). */
  async waiting(keys: readonly ThrottleKey[]): Promise<number> {
    const ttls = await Promise.all(keys.map((k) => this.#shared.ttl(`lock:${k.key}`)));
    return Math.max(0, ...ttls);
  }

  /** Records a failure; returns the wait it imposes and the account's consecutive count. */
  async fail(keys: readonly ThrottleKey[]): Promise<{ waitMs: number; failures: number; locked: boolean }> {
    let waitMs = 0;
    let failures = 0;
    let locked = false;
    for (const k of keys) {
      const n = await this.#shared.incr(`fail:${k.key}`, COUNTER_TTL_MS);
      const w = waitAfter(n, k.free, k.account ?? false);
      if (k.account) { failures = n; locked = n >= MAX_CONSECUTIVE_FAILURES; }
      if (w > 0) await this.#shared.set(`lock:${k.key}`, String(n), w);
      waitMs = Math.max(waitMs, w);
    }
    return { waitMs, failures, locked };
  }

  async succeed(keys: readonly ThrottleKey[]): Promise<void> {
    await Promise.all(keys.filter((k) => k.account).flatMap((k) => [
      this.#shared.delete(`fail:${k.key}`),
      this.#shared.delete(`lock:${k.key}`),
    ]));
  }
}

/** The keys for one kind of attempt by one user from one address. */
export function throttleKeys(kind: string, user: string, ip: string): ThrottleKey[] {
  return [
    { key: `${kind}:u:${user.toLowerCase()}`, free: 5, account: true },
    { key: `${kind}:ip:${ip}`, free: 20 },
  ];
}
