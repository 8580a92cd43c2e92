// Which users' sessions must end after the user directory changed (a users-file
// reload): removed, newly disabled, or given a new password. Revoking (not only
// refusing while disabled) matters: re-enabling an account must not bring its
// old sessions back, and a password reset must end sessions an attacker holds.

import type { UserRecord } from '../identity/types.ts';

export function usersToRevoke(before: Iterable<UserRecord>, after: Iterable<UserRecord>): string[] {
  const next = new Map<string, UserRecord>();
  for (const u of after) next.set(u.id, u);
  const out: string[] = [];
  for (const old of before) {
    const now = next.get(old.id);
    if (now === undefined || (now.disabled && !old.disabled) || now.password_hash !== old.password_hash) out.push(old.id);
  }
  return out;
}
