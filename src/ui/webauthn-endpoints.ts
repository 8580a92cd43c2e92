// JSON endpoints behind views/static/webauthn.js: passkey / security-key
// registration and authentication ceremonies. CSRF travels in a header; every
// answer is { ok, ... } so the page can show a plain message.

import { currentUser } from '../web/current-user.ts';
import type { RequestContext } from '../web/context.ts';
import { sendJson } from '../web/respond.ts';
import { readCeremony, type CeremonyBody } from '../web/ceremony-request.ts';
import type { WebAuthnKind } from '../factors/webauthn.ts';
import { factorAddedMessage } from '../identity/messages.ts';
import type { FactorKind } from '../config/types.ts';
import { commitSession } from '../web/page-session.ts';
import { requestTranslator } from '../web/request-language.ts';
import { acceptedKinds, confirmChallenge, failFactor, factorThrottle, kindAllowed, notifyUser, passFactor, reserveFactorAttempt } from './second-factor.ts';
import { afterChallenge, flowQuery, readFlow } from './challenge-page.ts';
import { enrollAllowed, enrollCheck, enrollConfirmUrl, afterEnrollment } from './enroll-page.ts';
import { rememberDevice } from '../web/remembered-device.ts';
import { ceremonyBinding, type SessionData } from '../session/session-data.ts';


function flowOf(ctx: RequestContext, b: CeremonyBody) {
  const q = new URLSearchParams(typeof b.query === 'string' ? b.query.slice(0, 4096) : '');
  return readFlow(ctx, q);
}

export async function authOptions(ctx: RequestContext): Promise<void> {
  const b = await readCeremony(ctx);
  if (!b) return;
  const wait = await ctx.svc.throttle.waiting(factorThrottle(ctx));
  if (wait > 0) return sendJson(ctx, 429, { ok: false, error: requestTranslator(ctx).tn('webauthn.too_many', Math.ceil(wait / 1000)) });
  const options = await ctx.svc.webauthn.authenticationOptions({ id: ctx.session!.user! }, ceremonyBinding(ctx.session!));
  sendJson(ctx, 200, { ok: true, options });
}

export async function authVerify(ctx: RequestContext): Promise<void> {
  const b = await readCeremony(ctx);
  if (!b) return;
  const flow = flowOf(ctx, b);
  if (!kindAllowed('webauthn', acceptedKinds(ctx, flow.rule))) return sendJson(ctx, 400, { ok: false, error: requestTranslator(ctx).t('webauthn.not_accepted') });
  const reserved = await reserveFactorAttempt(ctx);
  if (!reserved.ok) {
    return reserved.locked
      ? sendJson(ctx, 403, { ok: false, error: requestTranslator(ctx).t('lockout.account_locked') })
      : sendJson(ctx, 429, { ok: false, error: requestTranslator(ctx).tn('webauthn.too_many', Math.ceil(reserved.waitMs / 1000)) });
  }
  const r = await ctx.svc.webauthn.finishAuthentication({ id: ctx.session!.user! }, ceremonyBinding(ctx.session!), b.response);
  if (!r.ok) {
    await failFactor(ctx, reserved.attempt, 'webauthn', r.reason, flow.rule);
    return sendJson(ctx, 401, { ok: false, error: requestTranslator(ctx).t('webauthn.not_verified') });
  }
  const cookies = await passFactor(ctx, r.verified, flow.rule, reserved.attempt);
  if (b.remember === '1' && ctx.snap.config.session.remember_device > 0 && !flow.rule) cookies.push(await rememberDevice(ctx, ctx.session!.user!));
  sendJson(ctx, 200, { ok: true, redirect: afterChallenge(flow) }, { 'set-cookie': cookies });
}

export async function registerOptions(ctx: RequestContext): Promise<void> {
  const b = await readCeremony(ctx);
  if (!b) return;
  if (!(await registrationAllowed(ctx, b))) return;
  const user = currentUser(ctx)!;
  const kind: WebAuthnKind = b.kind === 'security-key' ? 'security-key' : 'passkey';
  const options = await ctx.svc.webauthn.registrationOptions({ id: user.id, name: user.id, displayName: user.display_name || user.id }, ceremonyBinding(ctx.session!), kind);
  sendJson(ctx, 200, { ok: true, options });
}

export async function registerVerify(ctx: RequestContext): Promise<void> {
  const b = await readCeremony(ctx);
  if (!b) return;
  if (!(await registrationAllowed(ctx, b))) return;
  const flow = flowOf(ctx, b);
  const user = ctx.session!.user!;
  const kind: WebAuthnKind = b.kind === 'security-key' ? 'security-key' : 'passkey';
  const name = typeof b.name === 'string' && b.name.trim() ? b.name : requestTranslator(ctx).t(kind === 'passkey' ? 'factor.passkey_name' : 'factor.security_key_name');
  const r = await ctx.svc.webauthn.finishRegistration({ id: user }, ceremonyBinding(ctx.session!), b.response, name);
  if (!r.ok) {
    ctx.svc.log.warn({ req_id: ctx.requestId, user, reason: r.reason }, 'webauthn registration refused');
    return sendJson(ctx, 400, { ok: false, error: requestTranslator(ctx).t('webauthn.not_registered') });
  }
  await ctx.svc.audit.write({ event: 'factor.enrolled', user, factor: 'webauthn', factor_id: r.factor.id, label: r.factor.name, ip: ctx.client.ip, request_id: ctx.requestId });
  ctx.svc.metrics.enrolled('webauthn');
  notifyUser(ctx, user, (c) => factorAddedMessage(c, { label: c.tr.t('factor.webauthn.label'), name: r.factor.name }));
  // Registered, not used: no webauthn check is recorded. A registration proves only that the
  // session may add a factor (any fresh one, or none yet), so counting it would let a phished
  // code buy a pass of a `factors: [webauthn]` rule (README "Security model"). The session
  // learns the kind, so rules challenge for it instead of sending the user to enroll again.
  const setCookie = await commitSession(ctx, withEnrolled(ctx.session!, 'webauthn'));
  const next = await afterEnrollment(ctx, flow);
  // A first factor: the enrollment goes on after one use of it, asked for at once.
  const redirect = (await enrollAllowed(ctx)) ? next : proveFirst(next);
  sendJson(ctx, 200, { ok: true, redirect }, { 'set-cookie': setCookie });
}

/**
 * Registering a key needs what enrolling one does (enroll-page.ts enrollCheck): with a
 * key already there, a fresh passkey check, not just any factor. Refused: 403 with
 * where to confirm (the passkey challenge when that is what is missing, then back to
 * the enrollment), which views/static/webauthn.js follows.
 */
async function registrationAllowed(ctx: RequestContext, b: CeremonyBody): Promise<boolean> {
  const need = await enrollCheck(ctx, 'webauthn');
  if (need === 'ok') return true;
  const { t } = requestTranslator(ctx);
  if (need === 'no-email') {
    sendJson(ctx, 403, { ok: false, error: t('enroll.no_email') });
    return false;
  }
  const rd = `/.gatehouse/enroll?${flowQuery(flowOf(ctx, b), { method: 'webauthn' })}`;
  sendJson(ctx, 403, { ok: false, error: t('webauthn.confirm_first'), redirect: enrollConfirmUrl(need, rd) });
  return false;
}

/** The session with `kind` among its enrolled kinds (what the policy reads to challenge rather than enroll). */
export function withEnrolled(s: SessionData, kind: FactorKind): SessionData {
  return s.enrolled?.includes(kind) ? s : { ...s, enrolled: [...(s.enrolled ?? []), kind] };
}

/** The WebAuthn challenge, then `next`: where a just-registered first key is used once before the enrollment goes on. */
export function proveFirst(next: string): string {
  return confirmChallenge('passkey', next, { why: 'new-passkey' });
}
