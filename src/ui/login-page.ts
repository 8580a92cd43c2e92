// /.gatehouse/login: the first factor (file identity source). Unknown user,
// wrong password and disabled account get the same answer; failures are
// throttled per user and per address; success starts a new session (new id,
// new CSRF token: no fixation) and returns to the safe target.

import type { RequestContext } from '../http/context.ts';
import { readForm, BodyError } from '../http/form-body.ts';
import { errorPage, redirect, sendPage } from '../http/respond.ts';
import { safeReturnTarget } from '../http/return-target.ts';
import { throttleKeys } from '../identity/throttle.ts';
import { commitSession, csrfOk, ensureSession } from '../session/page-session.ts';
import { signedInSession } from '../session/session-data.ts';
import { rememberedDevice } from './remembered-device.ts';
import { breakGlassSignIn } from './break-glass.ts';
import type { FactorKind } from '../config/types.ts';
import { oidcLogin, usesOidc } from './oidc-pages.ts';

export async function loginPage(ctx: RequestContext): Promise<void> {
  // identity.source oidc: the first factor is the IdP's (a GET redirect there).
  if (usesOidc(ctx)) return oidcLogin(ctx, ctx.svc.oidc!);
  if (ctx.req.method === 'POST') return loginSubmit(ctx);
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const rd = returnTarget(ctx, new URLSearchParams(ctx.query).get('rd'));
  if (ctx.session?.user) return redirect(ctx, rd);
  const { session, setCookie } = await ensureSession(ctx);
  sendPage(ctx, 200, 'login', { rd, csrf: session.csrf }, setCookie ? { 'set-cookie': setCookie } : {});
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
    return sendPage(ctx, 403, 'login', { rd, csrf: session.csrf, username, error: 'Your sign-in form expired. Please try again.' }, setCookie ? { 'set-cookie': setCookie } : {});
  }
  const bg = ctx.snap.config.identity.break_glass;
  if (bg && username === bg.user) return breakGlassSignIn(ctx, bg, password, rd);
  const keys = throttleKeys('pwd', username || '-', ctx.client.ip);
  const reserved = await svc.throttle.reserve(keys);
  if (!reserved.ok) {
    const wait = reserved.waitMs;
    await svc.audit.write({ event: 'signin.lockout', user: username, ip: ctx.client.ip, request_id: ctx.requestId, until: new Date(svc.now() + wait).toISOString() });
    return sendPage(ctx, 429, 'login', { rd, csrf: ctx.session!.csrf, username, wait_seconds: Math.ceil(wait / 1000) }, { 'retry-after': String(Math.ceil(wait / 1000)) });
  }
  const result = username && password ? await svc.identity.authenticate(username, password) : { ok: false as const, reason: 'invalid' as const };
  if (!result.ok) {
    const { waitMs, locked, failures } = svc.throttle.failed(reserved.attempt);
    await svc.audit.write({ event: 'signin.failure', user: username, ip: ctx.client.ip, request_id: ctx.requestId, reason: 'invalid credentials' });
    svc.log.warn({ req_id: ctx.requestId, user: username, ip: ctx.client.ip, wait_ms: waitMs, locked }, 'sign-in failed');
    if (waitMs > 0) {
      svc.metrics.lockouts.inc();
      await svc.audit.write({ event: 'signin.lockout', user: username, ip: ctx.client.ip, request_id: ctx.requestId, until: new Date(svc.now() + waitMs).toISOString(), failures });
      return sendPage(ctx, 429, 'login', { rd, csrf: ctx.session!.csrf, username, wait_seconds: Math.ceil(waitMs / 1000) }, { 'retry-after': String(Math.ceil(waitMs / 1000)) });
    }
    return sendPage(ctx, 401, 'login', { rd, csrf: ctx.session!.csrf, username, error: 'Wrong username or password.' });
  }
  await svc.throttle.succeed(reserved.attempt);
  const user = result.user;
  const factors = await svc.store.listFactors(user.id);
  const enrolled = [...new Set(factors.map((f) => f.kind))] as FactorKind[];
  if (await svc.store.countRecoveryCodes(user.id) > 0) enrolled.push('recovery');
  const session = signedInSession(user.id, ['pwd'], enrolled, svc.now());
  const device = await rememberedDevice(ctx, user.id);
  if (device) session.device = device;
  // The pre-sign-in session dies with its id (fixation).
  if (ctx.session) await svc.sessions.revokeSession(ctx.session, ctx.cookie);
  const setCookie = await commitSession(ctx, session);
  await svc.audit.write({ event: 'signin.success', user: user.id, ip: ctx.client.ip, request_id: ctx.requestId, method: device ? 'pwd+device' : 'pwd' });
  ctx.log.user = user.id;
  redirect(ctx, rd, { 'set-cookie': setCookie }, 303);
}
