// Picks the SharedState implementation the configuration names.

import type { SharedStateConfig } from '../config/types.ts';
import type { SharedState } from './shared-state.ts';
import { createMemorySharedState } from './memory-shared-state.ts';
import { createRedisSharedState } from './redis-shared-state.ts';

/** `now` is the clock of the in-memory TTLs (Redis keeps its own). */
export function openSharedState(cfg: SharedStateConfig, now: () => number = Date.now): SharedState {
  switch (cfg.kind) {
    case 'memory':
      return createMemorySharedState({ now });
    case 'redis':
      return createRedisSharedState(cfg.url, cfg.prefix);
    default:
      throw new Error(`unknown shared_state kind: ${(cfg as { kind: string }).kind}`);
  }
}
