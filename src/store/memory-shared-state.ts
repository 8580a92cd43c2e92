// In-process SharedState for a single gateway instance: a Map with expiry.
// Entries expire lazily on read and through a periodic sweep, so keys nobody
// reads again (rate-limit counters of one-off IPs) do not pile up.

import { attemptCounterKey, attemptLockKey, attemptWait, checkTtl, deliver, type SharedState } from './shared-state.ts';

interface Entry { value: string; expiresAt: number }

const SWEEP_INTERVAL_MS = 30_000;

export interface MemorySharedStateOptions {
  /** Clock in ms; injectable so expiry can be tested without sleeping. */
  now?: () => number;
}

export function createMemorySharedState(opts: MemorySharedStateOptions = {}): SharedState {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const subscribers = new Map<string, Set<(message: string) => void>>();
  let closed = false;

  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  function assertOpen(): void {
    if (closed) throw new Error('shared state is closed');
  }

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, value: string, ttlMs: number): void {
    entries.set(key, { value, expiresAt: now() + checkTtl(ttlMs) });
  }

  return {
    async get(key) {
      assertOpen();
      return live(key)?.value ?? null;
    },
    async set(key, value, ttlMs) {
      assertOpen();
      put(key, value, ttlMs);
    },
    async setIfAbsent(key, value, ttlMs) {
      assertOpen();
      if (live(key) !== undefined) return false;
      put(key, value, ttlMs);
      return true;
    },
    async take(key) {
      assertOpen();
      const entry = live(key);
      if (entry === undefined) return null;
      entries.delete(key);
      return entry.value;
    },
    async delete(key) {
      assertOpen();
      entries.delete(key);
    },
    async incr(key, ttlMs) {
      assertOpen();
      const entry = live(key);
      if (entry === undefined) {
        put(key, '1', ttlMs);
        return 1;
      }
      // Same rule as Redis INCR: a non-integer value is an error, not a reset.
      if (!/^-?\d+$/.test(entry.value)) throw new Error(`value of ${key} is not an integer`);
      const next = Number(entry.value) + 1;
      entry.value = String(next);
      return next;
    },
    async reserveAttempt(slots) {
      assertOpen();
      // No await between the check and the count: atomic within this process.
      let waitMs = 0;
      for (const slot of slots) {
        const lock = live(attemptLockKey(slot.key));
        if (lock !== undefined) waitMs = Math.max(waitMs, lock.expiresAt - now());
      }
      if (waitMs > 0) return { ok: false, waitMs };
      const numbers = slots.map((slot) => {
        const counter = attemptCounterKey(slot.key);
        const entry = live(counter);
        const n = (entry === undefined ? 0 : Number(entry.value) || 0) + 1;
        if (entry === undefined) put(counter, String(n), slot.counterTtlMs);
        else entry.value = String(n);
        const wait = attemptWait(n, slot);
        if (wait > 0) put(attemptLockKey(slot.key), String(n), wait);
        return n;
      });
      return { ok: true, numbers };
    },
    async releaseAttempt(releases) {
      assertOpen();
      for (const r of releases) {
        const counter = attemptCounterKey(r.key);
        const lock = attemptLockKey(r.key);
        if (r.clear) {
          entries.delete(counter);
          entries.delete(lock);
          continue;
        }
        const entry = live(counter);
        if (entry !== undefined) {
          const n = Number(entry.value) - 1;
          if (n > 0) entry.value = String(n);
          else entries.delete(counter);
        }
        if (live(lock)?.value === String(r.number)) entries.delete(lock);
      }
    },
    async ttl(key) {
      assertOpen();
      const entry = live(key);
      return entry === undefined ? -1 : entry.expiresAt - now();
    },
    async publish(channel, message) {
      assertOpen();
      const handlers = subscribers.get(channel);
      if (handlers === undefined) return;
      for (const handler of handlers) queueMicrotask(() => deliver(handler, channel, message));
    },
    async subscribe(channel, onMessage) {
      assertOpen();
      let handlers = subscribers.get(channel);
      if (handlers === undefined) subscribers.set(channel, (handlers = new Set()));
      handlers.add(onMessage);
    },
    async ping() {
      assertOpen();
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      entries.clear();
      subscribers.clear();
    },
  };
}
