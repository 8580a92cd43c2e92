// Who the session's user is. File users come from the identity source (so a
// disabled user is refused on the next request); users of an external source
// (OIDC, the app's own login form) carry their profile inside the sealed
// session, so every instance knows them without a lookup.

import type { IdentitySource, UserRecord } from '../identity/types.ts';
import type { SessionData } from './session-data.ts';

export type UserDirectory = Pick<IdentitySource, 'getUser'>;

export function userOf(identity: UserDirectory, s: SessionData | null): UserRecord | undefined {
  if (!s?.user) return undefined;
  if (s.profile) {
    return { id: s.user, display_name: s.profile.display_name, email: s.profile.email, groups: s.profile.groups, password_hash: '', disabled: false };
  }
  return identity.getUser(s.user);
}

/** The session's signed-in user (undefined when anonymous, unknown or disabled). */
export function signedInUser(identity: UserDirectory, s: SessionData | null): UserRecord | undefined {
  const u = userOf(identity, s);
  return u && !u.disabled ? u : undefined;
}
