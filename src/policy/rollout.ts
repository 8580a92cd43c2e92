// Rollout helpers: who must use MFA, and whether an
// unenrolled user may still say "set up later". Pure: the clock is an argument.

import type { RolloutConfig } from '../config/types.ts';

/** Whether `enforce_for` covers a user with these groups ('everyone', or any listed group; [] = nobody). */
export function isInRollout(groups: readonly string[], rollout: RolloutConfig): boolean {
  const enforced = rollout.enforce_for;
  if (enforced.length === 0) return false;
  if (enforced.includes('everyone')) return true;
  return groups.some((g) => enforced.includes(g));
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The first instant (unix ms) at which an ISO date or timestamp is over.
 * A date-only value (`2026-12-31`) lasts its whole UTC day, so it ends at the
 * next midnight UTC; a full timestamp ends at that instant. Throws on anything else.
 */
export function isoDateEnd(value: string): number {
  const m = DATE_ONLY.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const start = Date.UTC(y, mo - 1, d);
    const check = new Date(start);
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) {
      throw new Error(`invalid date ${JSON.stringify(value)}`);
    }
    return Date.UTC(y, mo - 1, d + 1);
  }
  const t = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new Error(`invalid date ${JSON.stringify(value)} (expected YYYY-MM-DD or an ISO timestamp)`);
  return t;
}

/**
 * Whether a user without any factor may defer enrollment once more.
 * Allowed until the end of the `grace_until` day (UTC) and while fewer than
 * `max_deferrals` have been used. `remaining` is how many deferrals are left
 * now, before using one.
 */
export function deferralAllowed(
  state: { deferrals: number },
  rollout: RolloutConfig,
  now: number,
): { allowed: boolean; remaining: number; reason: string } {
  const used = Math.max(0, state.deferrals);
  const remaining = Math.max(0, rollout.max_deferrals - used);
  if (!rollout.grace_until) return { allowed: false, remaining: 0, reason: 'no grace period: enrollment is required now' };
  let end: number;
  try {
    end = isoDateEnd(rollout.grace_until);
  } catch {
    // A bad date here means the config loader let it through: fail closed.
    return { allowed: false, remaining: 0, reason: `grace period date ${JSON.stringify(rollout.grace_until)} is invalid` };
  }
  if (now >= end) return { allowed: false, remaining: 0, reason: `grace period ended (${rollout.grace_until})` };
  if (remaining === 0) {
    return { allowed: false, remaining: 0, reason: `all ${rollout.max_deferrals} deferrals used` };
  }
  return {
    allowed: true,
    remaining,
    reason: `may defer ${remaining} more time${remaining === 1 ? '' : 's'} until ${rollout.grace_until}`,
  };
}
