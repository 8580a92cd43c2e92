// /.gatehouse/login: the first factor (file identity source). Unknown user,
// wrong password and disabled account get the same answer; failures are
// throttled per user and per address; success starts a new session (new id,
// new CSRF token: no fixation) and returns to the safe target.

import type { RequestContext } from '../web/context.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, redirect, sendPage } from '../web/respond.ts';
import { msg } from '../identity/translate.ts';
import { safeReturnTarget } from '../policy/return-target.ts';
import { priorFailures, throttleKeys } from '../identity/throttle.ts';
import { csrfOk, ensureSession, signInBrowser, signInParty } from '../web/page-session.ts';
import { failSignIn, reserveSignIn } from '../session/sign-in.ts';
import { breakGlassSignIn } from './break-glass.ts';
import { oidcLogin, usesOidc } from './oidc-pages.ts';
import { lockedPage, refusedPage, throttledPage } from './login-refusals.ts';
import { passkeySignInOffered } from './passkey-signin.ts';
import { riskRefusal } from '../web/risk-refusal.ts';

export async function loginPage(ctx: RequestContext): Promise<void> {
  // identity.source oidc: the first factor is the IdP's (a GET redirect there).
  if (usesOidc(ctx)) return oidcLogin(ctx, ctx.svc.oidc!);
  if (ctx.req.method === 'POST') return loginSubmit(ctx);
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const rd = returnTarget(ctx, new URLSearchParams(ctx.query).get('rd'));
  if (ctx.session?.user) return redirect(ctx, rd);
  const { session, setCookie } = await ensureSession(ctx);
  sendPage(ctx, 200, 'login', { rd, csrf: session.csrf, passkey: passkeySignInOffered(ctx) }, setCookie ? { 'set-cookie': setCookie } : {});
}

function returnTarget(ctx: RequestContext, rd: string | null | undefined): string {
  return safeReturnTarget(rd, ctx.snap.publicOrigin) ?? '/';
}

async function loginSubmit(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  let form: Record<string, string>;
  try {
    form = await readForm(ctx.req);
  } catch (err) {
    return errorPage(ctx, err instanceof BodyError ? err.status : 400);
  }
  const rd = returnTarget(ctx, form.rd);
  const username = (form.username ?? '').trim().toLowerCase().slice(0, 64);
  const password = form.password ?? '';
  if (!csrfOk(ctx, form.csrf)) {
    const { session, setCookie } = await ensureSession(ctx);
    return sendPage(ctx, 403, 'login', { rd, csrf: session.csrf, passkey: passkeySignInOffered(ctx), username, error: msg('login.form_expired') }, setCookie ? { 'set-cookie': setCookie } : {});
  }
  const bg = ctx.snap.config.identity.break_glass;
  if (bg && username === bg.user) return breakGlassSignIn(ctx, bg, password, rd);
  const who = signInParty(ctx, username);
  const reserved = await reserveSignIn(svc, svc.throttle, throttleKeys('pwd', username || '-', ctx.client.ip), who);
  if (!reserved.ok) return reserved.locked ? lockedPage(ctx, rd, username) : throttledPage(ctx, rd, username, reserved.waitMs);
  const result = username && password ? await svc.identity.authenticate(username, password) : { ok: false as const, reason: 'invalid' as const };
  if (!result.ok) {
    const { waitMs, locked } = await failSignIn(svc, svc.throttle, reserved.attempt, who, 'invalid credentials', { message: 'sign-in failed' });
    if (locked) return lockedPage(ctx, rd, username);
    if (waitMs > 0) return throttledPage(ctx, rd, username, waitMs);
    return refusedPage(ctx, rd, username);
  }
  const signedIn = await signInBrowser(ctx, { user: result.user.id, amr: ['pwd'], method: (device) => (device ? 'pwd+device' : 'pwd'), failures: priorFailures(reserved.attempt) });
  if (!signedIn.ok) {
    // Not counted, yet the failures before it stand: cleared, they would no longer raise
    // recent_failures, and the same password at once would pass the rule they triggered.
    await svc.throttle.release(reserved.attempt);
    return signedIn.by === 'risk' ? riskRefusal(ctx) : errorPage(ctx, 403);
  }
  await svc.throttle.succeed(reserved.attempt);
  redirect(ctx, rd, { 'set-cookie': signedIn.setCookie }, 303);
}
