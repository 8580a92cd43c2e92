// Where stashed requests live: sealed in shared state (every instance can
// replay them), bound to one sign-in, 10 minutes, single use. Capped so a
// signed-in user cannot fill memory or Redis with bodies:
//   - 3 waiting per session and 10 per user (slots claimed atomically in shared
//     state, so the limits hold across instances);
//   - a byte budget per instance (policy.stash_total_max): the bodies this
//     instance stashed that have not been taken or expired.
// Past a cap nothing is kept; the caller asks the user to submit again.

import { sealData, unsealData } from 'iron-session';
import type { SharedState } from '../store/shared-state.ts';
import { randomId } from './session-data.ts';

export const STASH_TTL_MS = 10 * 60_000;
export const STASHES_PER_SESSION = 3;
export const STASHES_PER_USER = 10;
const ID = /^[\w-]{10,64}$/;

export interface Stash {
  m: string;              // method
  p: string;              // canonical path + query (what the upstream gets)
  h: string[];            // flat header pairs
  b: string;              // body, base64
  u: string;              // user
  c: number;              // session created (binds to this sign-in, survives sid rotation)
  r: number;              // route index
  o?: string[];           // method overrides the replayed body claims (`_method`)
  k?: string[];           // the slots it holds (freed when taken)
}

export type PutResult = { ok: true; id: string } | { ok: false; reason: 'session' | 'user' | 'total' };

export interface StashStore {
  /** Seals and keeps a stash if the caps allow. `totalMax`: policy.stash_total_max. */
  put(stash: Stash, secret: string, totalMax: number): Promise<PutResult>;
  /** Reads a stash without taking it: only when it belongs to this sign-in. */
  peek(id: string, secret: string, who: { user: string; created: number }): Promise<Stash | null>;
  /** Takes it (single use, across instances) when `accept` approves what it holds. */
  take(id: string, secret: string, who: { user: string; created: number }, accept: (s: Stash) => boolean): Promise<Stash | null>;
  /** Bytes this instance holds in live stashes (for tests and metrics). */
  bytesHeld(now?: number): number;
}

export function createStashStore(shared: SharedState, clock: () => number = Date.now): StashStore {
  // id → [bytes, expiry]: this instance's share of the byte budget.
  const ledger = new Map<string, [number, number]>();

  function held(now: number): number {
    let total = 0;
    for (const [id, [bytes, until]] of ledger) {
      if (until <= now) ledger.delete(id);
      else total += bytes;
    }
    return total;
  }

  async function claim(prefix: string, count: number, id: string): Promise<string | null> {
    for (let i = 0; i < count; i++) {
      const key = `${prefix}:${i}`;
      if (await shared.setIfAbsent(key, id, STASH_TTL_MS)) return key;
    }
    return null;
  }

  async function unseal(id: string, secret: string, who: { user: string; created: number }): Promise<Stash | null> {
    if (!ID.test(id)) return null;
    const sealed = await shared.get(`stash:${id}`);
    if (!sealed) return null;
    let stash: Stash;
    try {
      stash = await unsealData<Stash>(sealed, { password: secret, ttl: STASH_TTL_MS / 1000 });
    } catch {
      return null;
    }
    if (!stash || stash.u !== who.user || stash.c !== who.created) return null;
    return stash;
  }

  return {
    async put(stash, secret, totalMax) {
      const now = clock();
      const bytes = Math.ceil(stash.b.length * 3 / 4);
      if (held(now) + bytes > totalMax) return { ok: false, reason: 'total' };
      const id = randomId();
      const sessionSlot = await claim(`stash:slot:s:${stash.c}:${stash.u}`, STASHES_PER_SESSION, id);
      if (sessionSlot === null) return { ok: false, reason: 'session' };
      const userSlot = await claim(`stash:slot:u:${stash.u}`, STASHES_PER_USER, id);
      if (userSlot === null) {
        await shared.delete(sessionSlot);
        return { ok: false, reason: 'user' };
      }
      const sealed = await sealData({ ...stash, k: [sessionSlot, userSlot] }, { password: secret, ttl: STASH_TTL_MS / 1000 });
      await shared.set(`stash:${id}`, sealed, STASH_TTL_MS);
      ledger.set(id, [bytes, now + STASH_TTL_MS]);
      return { ok: true, id };
    },

    peek: unseal,

    async take(id, secret, who, accept) {
      // Read and check before taking: another session (or a marker on another URL) must not destroy it.
      const stash = await unseal(id, secret, who);
      if (!stash || !accept(stash)) return null;
      if ((await shared.take(`stash:${id}`)) === null) return null;
      ledger.delete(id);
      for (const key of stash.k ?? []) await shared.delete(key);
      return stash;
    },

    bytesHeld: (now = clock()) => held(now),
  };
}
