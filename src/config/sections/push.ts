// factors.push: approval of a sign-in on the user's phone with number matching
// (SPEC §7 "Push"). Absent: no push factor is offered. The limits bound push
// bombing: pending pushes per user, a growing wait between pushes, and a
// suspension after repeated denials, wrong numbers and time-outs.

import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { duration, int, obj, type PropertiesOf } from '../schema-kit.ts';

export const pushSchema = obj({
  timeout: duration,
  max_pending: int(1, 10),
  backoff: duration,
  suspend_after: int(1, 100),
  suspend_window: duration,
  suspend_for: duration,
} satisfies PropertiesOf<PushConfig>);

export interface PushConfig {
  timeout: Millis;           // how long a push can be answered (default 60s)
  max_pending: number;       // unanswered pushes a user may have at once (default 3)
  backoff: Millis;           // wait after a push before the next; doubles with each push in suspend_window (default 5s)
  suspend_after: number;     // denials, wrong numbers and time-outs within suspend_window that suspend push (default 3)
  suspend_window: Millis;    // default 15m
  suspend_for: Millis;       // how long push stays suspended for that user; other methods stay (default 15m)
}

export function buildPush(r: Reader, p: Obj, at: string[]): PushConfig {
  const cfg: PushConfig = {
    timeout: r.duration(p, 'timeout', at, '60s'),
    max_pending: r.int(p, 'max_pending', 3),
    backoff: r.duration(p, 'backoff', at, '5s'),
    suspend_after: r.int(p, 'suspend_after', 3),
    suspend_window: r.duration(p, 'suspend_window', at, '15m'),
    suspend_for: r.duration(p, 'suspend_for', at, '15m'),
  };
  for (const key of ['timeout', 'suspend_window', 'suspend_for'] as const) {
    if (p[key] !== undefined && cfg[key] <= 0) r.fail([...at, key], 'must be longer than 0');
  }
  if (cfg.timeout > 10 * 60_000) r.fail([...at, 'timeout'], 'must be at most 10m (a push is answered at once or not at all)');
  return cfg;
}
