// Session handling for the gateway's own pages: an anonymous session carries
// the CSRF token of the sign-in form; every change is re-sealed and sent back;
// a sign-in replaces the browser's session.

import { timingSafeEqual } from 'node:crypto';
import type { RequestContext } from './context.ts';
import { anonymousSession, type SessionData } from '../session/session-data.ts';
import { signIn, type SignIn, type SignInParty, type SignInResult } from '../session/sign-in.ts';
import { seenNetwork, SESSIONS_LISTED, sessionRecord } from '../session/session-registry.ts';
import { deviceLabel, rememberedDevice } from './remembered-device.ts';
import { assessSignIn, type SignInRisk } from '../session/risk-observer.ts';
import { newCountryMessage } from '../identity/messages.ts';
import { notifyUser } from './notify-user.ts';

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
  if (s.rid === undefined) return registerUnlistedSession(ctx, s);
  // Undefined (no promise) when no fresh cookie is due: the usual case costs no microtask.
  const pending = ctx.svc.sessions.touch(s);
  // The session list's "last seen" moves with the cookie: at most once per slide interval, never on the request's path.
  if (pending && s.rid) {
    ctx.svc.store.touchSession(s.rid, ctx.svc.now(), seenNetwork(ctx.client.ip)).catch((err: unknown) => {
      ctx.svc.log.warn({ err, req_id: ctx.requestId }, 'session list: last seen not recorded');
    });
  }
  return pending?.then(
    (value) => ctx.svc.sessions.setCookie(value),
    (err: unknown) => {
      ctx.svc.log.warn({ err, req_id: ctx.requestId }, 'session refresh failed');
      return undefined;
    },
  );
}

/**
 * A signed-in session sealed before the session registry existed (no rid) is
 * not on the security page's list: on its next proxied request or visit to the
 * security page it gets a registry id and an entry (README "Signed-in
 * browsers"), and a cookie carrying the id. Once per process per cookie
 * (SessionManager.adoptRegistryId); an entry that cannot be written is logged,
 * and the session stays unlisted but still ends with "sign out everywhere".
 * Returns the Set-Cookie of the new cookie, or undefined.
 */
export async function registerUnlistedSession(ctx: RequestContext, s: SessionData): Promise<string | undefined> {
  const { svc } = ctx;
  const user = s.user;
  if (user === undefined || s.rid !== undefined) return undefined;
  const registered = { ...svc.sessions.adoptRegistryId(s, ctx.cookie), seen: svc.now() };
  ctx.session = registered;
  const label = deviceLabel(String(ctx.req.headers['user-agent'] ?? ''));
  try {
    await svc.store.addSession(sessionRecord({ ...registered, rid: s.sid, user }, label, ctx.client.ip, svc.sessions.maxAge), SESSIONS_LISTED);
  } catch (err) {
    // Another instance may have added it first (the same cookie reached it too): the id is taken, by this session.
    const listed = await svc.store.listSessions(user, svc.now()).catch(() => []);
    if (!listed.some((r) => r.id === s.sid)) {
      svc.log.warn({ err, req_id: ctx.requestId, user }, 'session list: a session from before the list could not be added');
      return undefined;
    }
  }
  return commitSession(ctx, registered).catch((err: unknown) => {
    svc.log.warn({ err, req_id: ctx.requestId, user }, 'session refresh failed');
    return undefined;
  });
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
export async function signInBrowser(
  ctx: RequestContext,
  s: Omit<SignIn, keyof SignInParty | 'previous' | 'device' | 'risk'> & { user: string; /** failed first-factor attempts just before (recent_failures) */ failures?: number },
): Promise<SignInResult> {
  const device = await rememberedDevice(ctx, s.user);
  const { failures, ...rest } = s;
  const risk = await signInRisk(ctx, s.user, failures ?? 0, device !== undefined);
  const label = deviceLabel(String(ctx.req.headers['user-agent'] ?? ''));
  const r = await signIn(ctx.svc, { ...rest, ...signInParty(ctx, s.user), label, previous: { session: ctx.session, cookie: ctx.cookie }, ...(device ? { device } : {}), ...(risk ? { risk } : {}) });
  if (!r.ok) {
    // A risk refusal leaves the browser's session as it was (its sign-in form still works); a source's refusal revoked it.
    if (r.by === 'source') ctx.session = null;
    else {
      ctx.log.user = s.user;
      // The user hears of a sign-in from a new country that was refused too.
      if (risk?.newCountry) notifyNewCountry(ctx, s.user, risk, rest.profile?.email);
    }
    return r;
  }
  ctx.session = r.session;
  ctx.cookie = r.sealed;
  ctx.log.user = s.user;
  if (risk?.newCountry) notifyNewCountry(ctx, s.user, risk);
  return r;
}

/** The risk assessment of this browser's sign-in (session/risk-observer.ts), when the risk section is on. */
async function signInRisk(ctx: RequestContext, user: string, failures: number, deviceKnown: boolean): Promise<(SignInRisk & { forgetBefore: number }) | undefined> {
  const { snap, svc } = ctx;
  if (snap.risk === null || snap.geo === null) return undefined;
  const now = svc.now();
  const risk = await assessSignIn(
    { store: svc.store, geo: snap.geo, compiled: snap.risk, config: snap.config.risk },
    { user, ip: ctx.client.ip, failures, deviceKnown, now },
  );
  return { ...risk, forgetBefore: now - snap.config.risk.remember_networks };
}

/** A sign-in from a country none of the user's remembered sign-ins was from: the user hears of it (sent in the background). */
function notifyNewCountry(ctx: RequestContext, userId: string, risk: SignInRisk, email?: string): void {
  const country = risk.newCountry;
  if (country === null) return;
  notifyUser(ctx, userId, (c) => newCountryMessage(c, { country, ip: ctx.client.ip, at: ctx.svc.now(), refused: risk.refused }), email);
}
