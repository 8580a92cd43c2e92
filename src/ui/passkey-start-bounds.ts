// How many passkey sign-in ceremonies may wait at once. Every options call
// leaves a challenge in shared state for the ceremony's lifetime, and the
// sign-in page's anonymous sessions cost nothing to make, so the number of
// waiting challenges is bounded here: for the whole gateway (what bounds
// memory) and per browser (one looping tab cannot take the whole pool). The
// per-address ceiling (ui/passkey-signin.ts) only keeps one address from
// taking the pool; it is high, since many people share an address behind NAT.
// An IPv6 client counts by its /64 (startSource).
// README "Passkey sign-in" states the figures.

import { isIP } from 'node:net';
import type { SharedState } from '../store/shared-state.ts';
import { expandIPv6 } from '../session/session-registry.ts';

/**
 * What the per-address ceiling counts: an IPv4 address, or the /64 of an IPv6
 * one. One IPv6 host is routinely given a whole /64: counted by address, it
 * would have a fresh ceiling for every address it picks, and alone fill the pool.
 */
export function startSource(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  return `${expandIPv6(ip.split('%')[0]).slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** One pool of waiting challenges: its shared-state key and how many it holds at most. */
export interface StartPool { key: string; max: number }

/**
 * The two counting buckets that can hold a challenge still alive at `at`: a
 * challenge lives at most `windowMs`, so it was started in the current bucket
 * or the one before. Their sum bounds what is alive, with no list to keep.
 */
export function bucketsAt(at: number, windowMs: number): { current: number; previous: number; endsAt: number } {
  const current = Math.floor(at / windowMs);
  return { current, previous: current - 1, endsAt: (current + 1) * windowMs };
}

const bucketKey = (pool: StartPool, bucket: number): string => `${pool.key}:${bucket}`;

/**
 * Counts one start in every pool, or none: answers the ms to wait when a pool
 * is full (its current bucket must end first), else 0. A refused start is not
 * counted (read first), so a flood refused at one pool does not fill it for
 * later; two starts racing past the read may overshoot a pool by the number
 * in flight, and the second read catches them.
 */
export async function admitStart(shared: SharedState, pools: readonly StartPool[], windowMs: number, at: number): Promise<number> {
  const b = bucketsAt(at, windowMs);
  const wait = Math.max(1000, b.endsAt - at);
  const count = async (key: string): Promise<number> => Number((await shared.get(key)) ?? 0) || 0;
  for (const pool of pools) {
    if ((await count(bucketKey(pool, b.previous))) + (await count(bucketKey(pool, b.current))) >= pool.max) return wait;
  }
  for (const pool of pools) {
    // Two windows: the bucket is read as "previous" through the next one.
    const current = await shared.incr(bucketKey(pool, b.current), 2 * windowMs);
    if ((await count(bucketKey(pool, b.previous))) + current > pool.max) return wait;
  }
  return 0;
}
