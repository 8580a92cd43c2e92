// One keep-alive undici Pool per upstream origin, kept across config reloads
// (a reload that keeps the same upstream keeps its warm connections).

import { Pool } from 'undici';

export class UpstreamPools {
  #pools = new Map<string, Pool>();
  readonly #connections: number;

  constructor(connections = 128) {
    this.#connections = connections;
  }

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#connections,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        // Per-request timeouts are given at dispatch (routes[].timeout).
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes pools whose origin is no longer in use after a reload. */
  async retain(origins: Iterable<string>): Promise<void> {
    const keep = new Set(origins);
    const closing: Promise<void>[] = [];
    for (const [origin, pool] of this.#pools) {
      if (!keep.has(origin)) {
        this.#pools.delete(origin);
        closing.push(pool.close());
      }
    }
    await Promise.allSettled(closing);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }
}
