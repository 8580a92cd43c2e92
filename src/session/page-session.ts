// Session handling for the gateway's own pages: an anonymous session carries
// the CSRF token of the sign-in form; every change is re-sealed and sent back.

import { timingSafeEqual } from 'node:crypto';
import type { RequestContext } from '../http/context.ts';
import { anonymousSession, type SessionData } from './session-data.ts';

/** The current session, or a new anonymous one (its cookie is returned to set). */
export async function ensureSession(ctx: RequestContext): Promise<{ session: SessionData; setCookie?: string }> {
  if (ctx.session) return { session: ctx.session };
  const session = anonymousSession(ctx.svc.now());
  ctx.session = session;
  return { session, setCookie: await commitSession(ctx, session) };
}

/** Seals a changed session; returns the Set-Cookie header value. */
export async function commitSession(ctx: RequestContext, session: SessionData): Promise<string> {
  ctx.session = session;
  const value = await ctx.svc.sessions.seal(session);
  ctx.cookie = value;
  return ctx.svc.sessions.setCookie(value);
}

/**
 * CSRF: the form's token must equal the session's, and a browser-sent Origin
 * (when present) must be our own. SameSite=Lax already keeps the cookie off
 * cross-site POSTs; this is the second lock.
 */
export function csrfOk(ctx: RequestContext, token: string | undefined): boolean {
  const origin = ctx.req.headers.origin;
  if (origin !== undefined && origin !== ctx.snap.publicOrigin) return false;
  const expected = ctx.session?.csrf;
  if (!expected || typeof token !== 'string' || token.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(expected));
}
