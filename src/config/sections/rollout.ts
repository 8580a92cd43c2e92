// rollout: which groups must use a second factor yet, and the grace period.

import type { Obj, Reader } from '../reader.ts';
import { int, isoDate, obj, strList, type PropertiesOf } from '../schema-kit.ts';
import { ISO_DATE, dateEnd } from '../value-checks.ts';

export const rolloutSchema = obj({
  enforce_for: strList,
  grace_until: isoDate,
  max_deferrals: int(0),
} satisfies PropertiesOf<RolloutConfig>);

export interface RolloutConfig {
  enforce_for: string[];          // group names, or 'everyone'
  grace_until?: string;           // ISO date
  max_deferrals: number;          // default 3
}

export function buildRollout(r: Reader, s: Obj): RolloutConfig {
  const grace_until = r.str(s, 'grace_until');
  if (grace_until !== undefined && ISO_DATE.test(grace_until) && dateEnd(grace_until) === undefined) {
    r.fail(['rollout', 'grace_until'], `"${grace_until}" is not a valid date (YYYY-MM-DD)`);
  }
  return {
    enforce_for: r.list(s, 'enforce_for') ?? ['everyone'],
    ...(grace_until !== undefined ? { grace_until } : {}),
    max_deferrals: r.int(s, 'max_deferrals', 3),
  };
}
