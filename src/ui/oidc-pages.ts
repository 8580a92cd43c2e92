// The browser side of `identity.source: oidc` (design in identity/oidc.ts):
// /.gatehouse/login hands off to the IdP (a GET redirect: the page CSP's
// form-action 'self' would block a cross-origin redirect after a form POST),
// /.gatehouse/oidc/callback turns the IdP's answer into a gateway session, and
// /.gatehouse/oidc/backchannel-logout ends sessions the IdP ended.

import type { RequestContext, Services } from '../web/context.ts';
import { isNavigation } from '../web/client-kind.ts';
import { readForm } from '../web/form-body.ts';
import { errorPage, redirect, sendJson, sendPage } from '../web/respond.ts';
import { msg } from '../identity/translate.ts';
import { safeReturnTarget } from '../policy/return-target.ts';
import { BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, flowBinding, OidcError, type OidcClient, type OidcFailure } from '../identity/oidc.ts';
import { idpAuthentication, idpFactorCheck, mergeChecks, profileFromClaims, sessionAmrFor } from '../identity/oidc-claims.ts';
import { ensureSession, signInBrowser } from '../web/page-session.ts';
import { riskRefusal } from '../web/risk-refusal.ts';

/** Flow starts per address per minute: each one costs a shared-state entry for 10 minutes. */
const STARTS_PER_MINUTE = 30;
/** The longest session cookie SessionManager.read accepts (browsers keep about 4 KiB per cookie). */
const MAX_SEALED_COOKIE = 4096;

export function registerOidcPages(svc: Services): void {
  svc.pages.set(CALLBACK_PATH, oidcCallback);
  svc.pages.set(BACKCHANNEL_LOGOUT_PATH, backchannelLogout);
}

/** True when this request's sign-in goes to the IdP. */
export function usesOidc(ctx: RequestContext): boolean {
  return ctx.svc.oidc !== undefined && ctx.snap.config.identity.source === 'oidc';
}

/**
 * GET /.gatehouse/login with source oidc: to the IdP. `fresh=1` (a step-up
 * that needs a new primary sign-in) goes even when signed in, asking the IdP
 * for prompt=login and max_age=0.
 */
export async function oidcLogin(ctx: RequestContext, oidc: OidcClient): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const q = new URLSearchParams(ctx.query);
  const rd = safeReturnTarget(q.get('rd'), ctx.snap.publicOrigin) ?? '/';
  const fresh = q.get('fresh') === '1';
  if (ctx.session?.user && !fresh) return redirect(ctx, rd);
  const starts = await ctx.svc.shared.incr(`oidc:start:${ctx.client.ip}`, 60_000);
  if (starts > STARTS_PER_MINUTE) return errorPage(ctx, 429, { waitSeconds: 60 });
  const { session, setCookie } = await ensureSession(ctx);
  let url: URL;
  try {
    url = await oidc.authorizationUrl({ rd, fresh, binding: flowBinding(session.csrf) });
  } catch (err) {
    ctx.svc.log.error({ req_id: ctx.requestId, err: (err as Error).message }, 'cannot start an OIDC sign-in');
    return failurePage(ctx, 'unavailable', rd, setCookie);
  }
  redirect(ctx, url.href, setCookie ? { 'set-cookie': setCookie } : {});
}

// The words are in the catalog: oidc.<failure>.heading / .message / .hint.
const FAILURE_STATUS: Record<OidcFailure, number> = { expired: 400, mismatch: 400, denied: 400, rejected: 400, unavailable: 503 };

function failurePage(ctx: RequestContext, kind: OidcFailure, rd: string, setCookie?: string): void {
  const status = FAILURE_STATUS[kind];
  const retry = `/.gatehouse/login?rd=${encodeURIComponent(rd)}`;
  const message = msg(`oidc.${kind}.message`);
  if (!isNavigation(ctx.req.headers)) return errorPage(ctx, status, { message });
  sendPage(ctx, status, 'error', {
    status, heading: msg(`oidc.${kind}.heading`), message, hint: msg(`oidc.${kind}.hint`), retry_url: retry,
  }, setCookie ? { 'set-cookie': setCookie } : {});
}

/** GET /.gatehouse/oidc/callback: code → tokens → a signed-in session. */
async function oidcCallback(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  const oidc = svc.oidc;
  if (!oidc || !usesOidc(ctx)) return errorPage(ctx, 404);
  if (ctx.req.method !== 'GET') return errorPage(ctx, 405);
  const cfg = ctx.snap.config.identity.oidc!;
  const callbackUrl = new URL(CALLBACK_PATH + ctx.query, ctx.snap.publicOrigin);
  let result: Awaited<ReturnType<OidcClient['finish']>>;
  try {
    result = await oidc.finish(callbackUrl, ctx.session ? flowBinding(ctx.session.csrf) : undefined);
  } catch (err) {
    const kind: OidcFailure = err instanceof OidcError ? err.kind : 'rejected';
    await svc.audit.write({ event: 'signin.failure', reason: `oidc ${kind}: ${(err as Error).message}`.slice(0, 500), ip: ctx.client.ip, request_id: ctx.requestId });
    svc.log.warn({ req_id: ctx.requestId, ip: ctx.client.ip, kind, err: (err as Error).message }, 'OIDC sign-in failed');
    return failurePage(ctx, kind, '/');
  }
  const rd = safeReturnTarget(result.rd, ctx.snap.publicOrigin) ?? '/';
  const profile = profileFromClaims(result.claims, { usernameClaim: cfg.username_claim, groupsClaim: cfg.groups_claim });
  if ('error' in profile) {
    await svc.audit.write({ event: 'signin.failure', reason: `oidc: ${profile.error}`, ip: ctx.client.ip, request_id: ctx.requestId });
    return failurePage(ctx, 'rejected', rd);
  }
  const auth = idpAuthentication(result.idToken);
  const idpCheck = idpFactorCheck(auth, cfg.trust_idp_mfa);
  const old = ctx.session;
  // A fresh sign-in of the same user (step-up) keeps the gateway factors already passed in this session.
  const sameUser = old?.user === profile.user;
  const signedIn = await signInBrowser(ctx, {
    user: profile.user,
    amr: sessionAmrFor(auth),
    method: (device) => ['oidc', ...auth.amr].join(' ') + (idpCheck ? ` (idp ${idpCheck.amr} trusted as ${idpCheck.kind})` : '') + (device ? ' +device' : ''),
    profile: { email: profile.email, groups: profile.groups, display_name: profile.display_name },
    pwdAt: auth.authTime ?? svc.now(),
    factors: mergeChecks(sameUser ? old.factors : [], idpCheck ? [idpCheck] : []),
    alsoEnrolled: idpCheck ? [idpCheck.kind] : [],
    deferred: sameUser && old.deferred === true,
    confirm: async (sealed) => {
      if (sealed.length > MAX_SEALED_COOKIE) {
        // The profile travels in the cookie: one that cannot fit would be read back as no session (a sign-in loop).
        // Dropping groups instead could skip a group rule, so the sign-in is refused (fail closed).
        const reason = `oidc: profile too large for the session cookie (${profile.groups.length} groups); narrow groups_claim at the IdP`;
        svc.log.error({ req_id: ctx.requestId, user: profile.user, groups: profile.groups.length, cookie_bytes: sealed.length }, reason);
        return reason;
      }
      await oidc.rememberSubject(profile.user, result.idToken);
      return undefined;
    },
  });
  if (!signedIn.ok) return signedIn.by === 'risk' ? riskRefusal(ctx) : failurePage(ctx, 'rejected', rd, svc.sessions.clearCookie());
  const setCookie = signedIn.setCookie;
  ctx.log.user = profile.user;
  redirect(ctx, rd, { 'set-cookie': setCookie }, 303);
}

/**
 * POST /.gatehouse/oidc/backchannel-logout (server to server, authenticated by
 * the signed logout token, so no CSRF token): revokes every session of the
 * user the token names. Answers 200 or 400 with no-store, per the spec.
 */
async function backchannelLogout(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  const oidc = svc.oidc;
  if (!oidc || !usesOidc(ctx)) return errorPage(ctx, 404);
  if (ctx.req.method !== 'POST') return sendJson(ctx, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
  let token: string | undefined;
  try { token = (await readForm(ctx.req)).logout_token; } catch { token = undefined; }
  if (!token) return sendJson(ctx, 400, { error: 'invalid_request', error_description: 'logout_token is required' });
  let users: string[];
  try {
    users = await oidc.usersToLogOut(token);
  } catch (err) {
    const kind = err instanceof OidcError ? err.kind : 'rejected';
    svc.log.warn({ req_id: ctx.requestId, ip: ctx.client.ip, err: (err as Error).message }, 'back-channel logout refused');
    return sendJson(ctx, kind === 'unavailable' ? 503 : 400, { error: 'invalid_request', error_description: 'logout token refused' });
  }
  for (const user of users) {
    await svc.sessions.revokeUser(user);
    await svc.audit.write({ event: 'session.revoked', user, reason: 'identity provider back-channel logout', ip: ctx.client.ip, request_id: ctx.requestId });
  }
  sendJson(ctx, 200, {});
}
