// rollout: which groups must use a second factor yet, and the grace period.

import type { Obj, Reader } from '../reader.ts';
import { bool, int, isoDate, obj, strList, type PropertiesOf } from '../schema-kit.ts';
import { ISO_DATE, dateEnd } from '../value-checks.ts';

export const rolloutSchema = obj({
  enforce_for: strList,
  grace_until: isoDate,
  max_deferrals: int(0),
  verify_email_first: bool,
} satisfies PropertiesOf<RolloutConfig>);

export interface RolloutConfig {
  enforce_for: string[];          // group names, or 'everyone'
  grace_until?: string;           // ISO date
  max_deferrals: number;          // default 3
  verify_email_first?: boolean;   // default false (left out): a first factor needs an emailed code first
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
    // Set only when on: the default config reads as before.
    ...(r.bool(s, 'verify_email_first', false) ? { verify_email_first: true } : {}),
  };
}

/**
 * Pure: why rollout.verify_email_first cannot work with this notifier, or
 * undefined. The proof is a code mailed to the user's address: smtp mails it,
 * file is the development outbox (README "Quick start"); a webhook reaches an
 * SMS gateway or a chat, not the address on file.
 */
export function verifyEmailFirstProblem(verifyEmailFirst: boolean, notifierKind: string): string | undefined {
  if (!verifyEmailFirst || notifierKind === 'smtp' || notifierKind === 'file') return undefined;
  return `needs a notifier that sends email (notifier.kind smtp, or file in development), not ${notifierKind}: the proof is a code mailed to the user's address`;
}
