// Session handling for the gateway's own pages: an anonymous session carries
// the CSRF token of the sign-in form; every change is re-sealed and sent back;
// a sign-in replaces the browser's session.

import { timingSafeEqual } from 'node:crypto';
import type { RequestContext } from './context.ts';
import { anonymousSession, type SessionData } from '../session/session-data.ts';
import { signIn, type SignIn, type SignInParty, type SignInResult } from '../session/sign-in.ts';
import { deviceLabel, rememberedDevice } from './remembered-device.ts';

/** The current session, or a new anonymous one (its cookie is returned to set). */
export async function ensureSession(ctx: RequestContext): Promise<{ session: SessionData; setCookie?: string }> {
  if (ctx.session) return { session: ctx.session };
  const session = anonymousSession(ctx.svc.now());
  ctx.session = session;
  return { session, setCookie: await commitSession(ctx, session) };
}

/** Seals a changed session; returns the Set-Cookie header value. A change is activity: `seen` moves to now. */
export async function commitSession(ctx: RequestContext, changed: SessionData): Promise<string> {
  const session = { ...changed, seen: ctx.svc.now() };
  ctx.session = session;
  const value = await ctx.svc.sessions.seal(session);
  ctx.cookie = value;
  return ctx.svc.sessions.setCookie(value);
}

/**
 * For a proxied request of a signed-in user: the Set-Cookie that keeps the
 * session inside idle_timeout while it is in use (due only now and then, see
 * needsTouch), or undefined. Not being able to refresh is no reason to fail
 * the request: the session simply ages as if idle.
 */
export function refreshedSessionCookie(ctx: RequestContext): Promise<string | undefined> | undefined {
  const s = ctx.session;
  if (!s?.user) return undefined;
  // Undefined (no promise) when no fresh cookie is due: the usual case costs no microtask.
  const pending = ctx.svc.sessions.touch(s);
  return pending?.then(
    (value) => ctx.svc.sessions.setCookie(value),
    (err: unknown) => {
      ctx.svc.log.warn({ err, req_id: ctx.requestId }, 'session refresh failed');
      return undefined;
    },
  );
}

/**
 * CSRF: the form's token must equal the session's, and a browser-sent Origin
 * and Sec-Fetch-Site (when present) must say the post came from our own pages.
 * SameSite=Lax already keeps the cookie off cross-site POSTs; this is the second lock.
 */
export function csrfOk(ctx: RequestContext, token: string | undefined): boolean {
  // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` on our own form posts;
  // then the Fetch Metadata header says whether the post came from our origin.
  const origin = ctx.req.headers.origin;
  if (origin !== undefined && origin !== 'null' && origin !== ctx.snap.publicOrigin) return false;
  const site = ctx.req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const expected = ctx.session?.csrf;
  if (!expected || typeof token !== 'string' || token.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(expected));
}

/** This request as a party to a sign-in (the user it names, its address and id). */
export function signInParty(ctx: RequestContext, user: string): SignInParty {
  return { user, ip: ctx.client.ip, requestId: ctx.requestId };
}

/**
 * The sign-in sequence (session/sign-in.ts) for this browser: its previous
 * session is revoked, its remembered device vouches when it has one, and the
 * new session becomes the request's. Returns the result to answer with.
 */
export async function signInBrowser(ctx: RequestContext, s: Omit<SignIn, keyof SignInParty | 'previous' | 'device'> & { user: string }): Promise<SignInResult> {
  const device = await rememberedDevice(ctx, s.user);
  const label = deviceLabel(String(ctx.req.headers['user-agent'] ?? ''));
  const r = await signIn(ctx.svc, { ...s, ...signInParty(ctx, s.user), label, previous: { session: ctx.session, cookie: ctx.cookie }, ...(device ? { device } : {}) });
  if (!r.ok) {
    ctx.session = null;
    return r;
  }
  ctx.session = r.session;
  ctx.cookie = r.sealed;
  ctx.log.user = s.user;
  return r;
}
