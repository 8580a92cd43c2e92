// The signed-in user of one request, and what the policy and the upstream are
// told about them: the request's values handed to session/ helpers.

import type { RequestContext } from './context.ts';
import type { UserRecord } from '../identity/types.ts';
import type { SubjectFacts } from '../policy/types.ts';
import type { Route } from '../policy/route-table.ts';
import { signedInUser } from '../session/current-user.ts';
import { identityHeaders, subjectFor } from '../session/subject.ts';

/** The signed-in user of this request (undefined when anonymous, unknown or disabled). */
export function currentUser(ctx: RequestContext): UserRecord | undefined {
  return signedInUser(ctx.svc.identity, ctx.session);
}

/** The subject the policy decides for (null when anonymous). */
export function requestSubject(ctx: RequestContext): SubjectFacts | null {
  return subjectFor(ctx.svc.identity, ctx.session, ctx.snap.config.rollout);
}

/** The identity headers for a route's upstream (its origin is the assertion's audience; the assertion only where the route wants it). */
export function requestIdentityHeaders(ctx: RequestContext, to: Pick<Route, 'upstreamOrigin' | 'assertion'>): readonly string[] {
  return identityHeaders({ identity: ctx.svc.identity, session: ctx.session, headers: ctx.snap.config.headers, signer: ctx.svc.signer, now: ctx.svc.now() }, to.upstreamOrigin, to.assertion);
}
