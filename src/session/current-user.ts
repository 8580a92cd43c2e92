// Who the session's user is. File users come from the identity source (so a
// disabled user is refused on the next request); users of an external source
// (OIDC, the app's own login form) carry their profile inside the sealed
// session, so every instance knows them without a lookup.

import type { RequestContext } from '../http/context.ts';
import type { UserRecord } from '../identity/types.ts';
import type { SessionData } from './session-data.ts';

export function userOf(ctx: Pick<RequestContext, 'svc'>, s: SessionData | null): UserRecord | undefined {
  if (!s?.user) return undefined;
  if (s.profile) {
    return { id: s.user, display_name: s.profile.display_name, email: s.profile.email, groups: s.profile.groups, password_hash: '', disabled: false };
  }
  return ctx.svc.identity.getUser(s.user);
}

/** The signed-in user of this request (undefined when anonymous, unknown or disabled). */
export function currentUser(ctx: RequestContext): UserRecord | undefined {
  const u = userOf(ctx, ctx.session);
  return u && !u.disabled ? u : undefined;
}
