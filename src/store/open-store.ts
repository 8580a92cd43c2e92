// Picks the durable store named by the configuration.

import type { StoreConfig } from '../config/types.ts';
import { openPostgresStore } from './postgres-store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { Store } from './types.ts';

export function openStore(cfg: StoreConfig): Store {
  switch (cfg.kind) {
    case 'sqlite':
      return openSqliteStore(cfg.path);
    case 'postgres':
      return openPostgresStore(cfg.url);
    default: {
      const unknown: never = cfg;
      throw new Error(`unknown store kind: ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
}
