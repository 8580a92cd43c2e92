// /.gatehouse/enroll: the guided enrollment. Step 1 chooses a
// method (passkey first: most secure), step 2 sets it up, step 3 shows the
// recovery codes once, then a confirmation page and email. Within the rollout
// grace period a user without factors may choose "Set up later".
// Adding a factor when one exists already needs a second factor from the last
// five minutes (the same rule as the account page); the first one, with
// rollout.verify_email_first, an emailed code from the last five minutes.

import { currentUser } from '../web/current-user.ts';
import type { FactorKind } from '../config/types.ts';
import type { RequestContext } from '../web/context.ts';
import { pendingRequest } from '../web/pending-request.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, redirect, sendPage } from '../web/respond.ts';
import { csrfOk, commitSession } from '../web/page-session.ts';
import { deferralAllowed } from '../policy/rollout.ts';
import { isInRollout } from '../policy/rollout.ts';
import { factorCheck, factorKindInfo } from '../factors/types.ts';
import { normalizePhone } from '../factors/registry.ts';
import { enrollmentCompleteMessage, factorAddedMessage } from '../identity/messages.ts';
import { msg } from '../identity/translate.ts';
import { messageContext, requestTranslator } from '../web/request-language.ts';
import { acceptedKinds, confirmChallenge, freshCheckFor, kindAllowed, needsPhishingResistant, notifyUser, passFactor, reserveFactorAttempt } from './second-factor.ts';
import type { Attempt } from '../identity/throttle.ts';
import type { FactorCheck } from '../policy/types.ts';
import { UnknownSealingKeyError } from '../store/secret-box.ts';
import type { TotpFinishResult } from '../factors/totp.ts';
import { ceremonyBinding } from '../session/session-data.ts';
import { releaseHeldCookies } from '../web/upstream-form-login.ts';
import { afterChallenge, flowQuery, readFlow, type Flow } from './challenge-page.ts';
import { cleanPushId } from '../factors/push.ts';
import { parseSubscription } from '../factors/web-push.ts';
import { deviceLabel } from '../web/remembered-device.ts';
import { pushFailureMessage, pushRefused, pushStarted } from './push-pages.ts';
import { passkeySignInOffered } from './passkey-signin.ts';

const STEPS = 3;

/**
 * First enrollment: the password session is enough (with rollout.verify_email_first,
 * a fresh emailed code: firstEnrollCheck). Later ones: a fresh second
 * factor; for another passkey or security key (`kind` webauthn) while the user has
 * one, a fresh phishing-resistant one (a phished code must not buy a passkey).
 */
export async function enrollAllowed(ctx: RequestContext, kind?: FactorKind | null): Promise<boolean> {
  return (await enrollCheck(ctx, kind)) === 'ok';
}

/**
 * What adding `kind` needs of this session: nothing more ('ok'), any fresh factor ('factor'),
 * a fresh passkey check ('passkey'), or, for a first factor under rollout.verify_email_first,
 * a fresh emailed code ('email'; 'no-email' when the user has no address on file).
 */
export async function enrollCheck(ctx: RequestContext, kind?: FactorKind | null): Promise<EnrollNeed> {
  const kinds = await ctx.svc.factors.enrolledKinds(ctx.session!.user!);
  if (kinds.filter((k) => k !== 'recovery').length === 0) {
    return firstEnrollCheck(ctx.snap.config.rollout.verify_email_first === true, Boolean(currentUser(ctx)?.email), ctx.session!.factors ?? [], ctx.svc.now());
  }
  const strong = needsPhishingResistant(kind, kinds);
  if (freshCheckFor(ctx.session!.factors ?? [], strong, ctx.svc.now())) return 'ok';
  return strong ? 'passkey' : 'factor';
}

export type EnrollNeed = 'ok' | 'factor' | 'passkey' | 'email' | 'no-email';

/**
 * Pure: what a first factor needs. By default the password session is enough
 * (README "Explicit rules bind everyone"); with `verifyEmail` (rollout.verify_email_first)
 * a code mailed to the address on file must have been passed in the last five
 * minutes, so a stolen password alone enrolls nothing. No address: only an admin can help.
 */
export function firstEnrollCheck(verifyEmail: boolean, hasEmail: boolean, checks: readonly FactorCheck[], now: number): 'ok' | 'email' | 'no-email' {
  if (!verifyEmail) return 'ok';
  if (!hasEmail) return 'no-email';
  return freshCheckFor(checks.filter((c) => c.kind === 'email'), false, now) ? 'ok' : 'email';
}

/** flow.why of that check: the challenge page offers the email code to a user without factors only then. */
export const VERIFY_EMAIL_WHY = 'verify-email';

/** The emailed-code check a first enrollment asks for under rollout.verify_email_first, then `rd`. */
export function verifyEmailChallenge(rd: string): string {
  return confirmChallenge('email', rd, { why: VERIFY_EMAIL_WHY });
}

/**
 * Pure: what the enrollment page asks for before showing `method`'s setup. A first
 * factor's emailed code is asked for at a method's setup only: the list of methods
 * (with "Set up later" in the grace period) sets nothing up.
 */
export function atSetup(need: EnrollNeed, method: string | null): EnrollNeed {
  return (need === 'email' || need === 'no-email') && !method ? 'ok' : need;
}

/** Where a session that may not enroll yet goes ('no-email' has nowhere to go: the caller refuses). */
export function enrollConfirmUrl(need: 'factor' | 'passkey' | 'email', rd: string): string {
  return need === 'email' ? verifyEmailChallenge(rd) : confirmChallenge(need, rd);
}

/**
 * After a factor is added: recovery codes when the user has none, else the
 * confirmation. The first real factor always leads to a fresh set: codes from
 * before it (made on the password alone) die here, so step=recovery issues the
 * owner's own (README "Policy semantics": codes come only with the first real factor).
 */
export async function afterEnrollment(ctx: RequestContext, flow: Flow): Promise<string> {
  const user = ctx.session!.user!;
  if (isFirstFactor(await ctx.svc.factors.listFactors(user))) await dropEarlierRecoveryCodes(ctx, user);
  const remaining = await ctx.svc.factors.recovery.remaining(user);
  return `/.gatehouse/enroll?${flowQuery(flow, { step: remaining === 0 ? 'recovery' : 'done' })}`;
}

/** Pure: the factor just added is the user's only real one (recovery codes are kept apart from factors). */
export function isFirstFactor(factors: readonly unknown[]): boolean {
  return factors.length === 1;
}

/**
 * Pure: what step=recovery does. Codes only for a user with a real factor:
 * before one exists the password alone opens this page, and codes minted then
 * would be a lasting way in that the owner never saw. Shown once: made only
 * when none are left (afterEnrollment empties the set on the first factor).
 */
export function recoveryStep(realFactors: number, remaining: number): 'pick' | 'done' | 'show' {
  if (realFactors === 0) return 'pick';
  return remaining > 0 ? 'done' : 'show';
}

/** Every code of the user dies (as on an MFA reset); logged when there were any, as they predate the first factor. */
async function dropEarlierRecoveryCodes(ctx: RequestContext, user: string): Promise<void> {
  const earlier = await ctx.svc.factors.recovery.remaining(user);
  if (earlier === 0) return;
  await ctx.svc.store.replaceRecoveryCodes(user, []);
  ctx.svc.log.warn({ req_id: ctx.requestId, user, codes: earlier }, 'recovery codes made before the first factor dropped; a fresh set follows');
}

function methodCards(flow: Flow, accepted: FactorKind[] | null, hasEmail: boolean, webauthn: boolean, sms = false, push = false) {
  const kinds: FactorKind[] = [...(webauthn ? ['webauthn' as const] : []), ...(push ? ['push' as const] : []), 'totp', 'email', ...(sms ? ['sms' as const] : [])];
  return kinds
    .filter((k) => kindAllowed(k, accepted) && (k !== 'email' || hasEmail))
    .map((kind, i) => {
      const info = factorKindInfo(kind);
      return {
        kind,
        title: msg(`factor.${kind}.label`),
        description: msg(`factor.${kind}.description`),
        badge: msg(`factor.${kind}.badge`),
        recommended: i === 0,
        tone: kind === 'webauthn' ? 'strong' : info.weak ? 'warn' : 'info',
        href: `/.gatehouse/enroll?${flowQuery(flow, { method: kind })}`,
      };
    });
}

export async function enrollPage(ctx: RequestContext): Promise<void> {
  if (!ctx.session?.user) return redirect(ctx, `/.gatehouse/login?rd=${encodeURIComponent(`/.gatehouse/enroll${ctx.query}`)}`);
  if (ctx.req.method === 'POST') return enrollSubmit(ctx);
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const q = new URLSearchParams(ctx.query);
  const flow = readFlow(ctx, q);
  const step = q.get('step');
  const needs = step ? undefined : await missingKinds(ctx, flow);
  const need = atSetup(await enrollCheck(ctx, step ? null : q.get('method') as FactorKind | null), q.get('method'));
  if (need === 'no-email') return errorPage(ctx, 403, { message: msg('enroll.no_email') });
  if (need !== 'ok') {
    const confirm = enrollConfirmUrl(need, `/.gatehouse/enroll${ctx.query}`);
    // Sent here by a rule the user's methods don't satisfy: say why before asking for a check.
    if (needs) return sendPage(ctx, 200, 'enroll', { mode: 'needs', flow, needs, confirm_url: confirm });
    return redirect(ctx, confirm);
  }
  const user = ctx.session.user;
  if (step === 'recovery') {
    const next = recoveryStep((await ctx.svc.factors.listFactors(user)).length, await ctx.svc.factors.recovery.remaining(user));
    if (next === 'pick') return redirect(ctx, `/.gatehouse/enroll?${flowQuery(flow)}`);
    if (next === 'done') return redirect(ctx, `/.gatehouse/enroll?${flowQuery(flow, { step: 'done' })}`);
    const codes = await ctx.svc.factors.recovery.generate(user);
    await ctx.svc.audit.write({ event: 'recovery.regenerated', user, count: codes.length, ip: ctx.client.ip, request_id: ctx.requestId });
    await markEnrolled(ctx, 'recovery');
    return sendPage(ctx, 200, 'enroll', { mode: 'recovery', flow, query: flowQuery(flow), codes, username: user, step: { current: 3, total: STEPS, label: msg('enroll.step.recovery') }, download: recoveryDownload(ctx, codes), scripts: ['recovery.js'] });
  }
  if (step === 'done') {
    return sendPage(ctx, 200, 'enroll', { mode: 'done', flow, continue_url: afterChallenge(flow) });
  }
  const method = q.get('method');
  const accepted = acceptedKinds(ctx, flow.rule);
  const email = currentUser(ctx)?.email;
  // "Choose a different method" only where the rule leaves a choice.
  const others = methodCards(flow, accepted, Boolean(email), ctx.svc.webauthn.rpId !== '', ctx.svc.factors.sms !== undefined, pushOffered(ctx, Boolean(email))).length > 1;
  if (method === 'totp' && kindAllowed('totp', accepted)) {
    return sendPage(ctx, 200, 'enroll', await totpPage(ctx, flow, { needs, others }));
  }
  if (method === 'webauthn' && kindAllowed('webauthn', accepted)) {
    return sendPage(ctx, 200, 'enroll', {
      mode: 'webauthn', flow, query: flowQuery(flow), needs, others, step: { current: 2, total: STEPS, label: msg('enroll.webauthn_title') },
      scripts: ['simplewebauthn-browser.js', 'webauthn.js'],
      // A passkey is registered discoverable (residentKey required): say that it signs in on its own.
      passkey_signin: passkeySignInOffered(ctx),
    });
  }
  if (method === 'sms' && kindAllowed('sms', accepted) && ctx.svc.factors.sms) {
    return sendPage(ctx, 200, 'enroll', smsPage(ctx, flow, {}));
  }
  if (method === 'push' && kindAllowed('push', accepted) && pushOffered(ctx, Boolean(email))) {
    return sendPage(ctx, 200, 'enroll', await pushPage(ctx, flow, { needs, others }));
  }
  if (method === 'email' && kindAllowed('email', accepted) && email) {
    return sendPage(ctx, 200, 'enroll', await emailPage(ctx, flow, { needs, others, email }));
  }
  const state = await ctx.svc.store.getUserState(user);
  const u = currentUser(ctx);
  const noFactors = (await ctx.svc.factors.enrolledKinds(user)).length === 0;
  const deferral = noFactors && u && isInRollout(u.groups, ctx.snap.config.rollout) && followsRollout(ctx, flow.rule)
    ? deferralAllowed({ deferrals: state?.deferrals ?? 0 }, ctx.snap.config.rollout, ctx.svc.now())
    : undefined;
  const methods = methodCards(flow, accepted, Boolean(email), ctx.svc.webauthn.rpId !== '', ctx.svc.factors.sms !== undefined, pushOffered(ctx, Boolean(email)));
  // A rule that leaves one way to satisfy it: nothing to choose.
  if (flow.rule && methods.length === 1) return redirect(ctx, methods[0].href);
  sendPage(ctx, 200, 'enroll', {
    mode: 'pick', flow, query: flowQuery(flow), step: { current: 1, total: STEPS, label: msg('enroll.step.pick') }, needs,
    methods, pending: await pendingRequest(ctx, flow.stash),
    deferral: deferral?.allowed ? { remaining: deferral.remaining, until: ctx.snap.config.rollout.grace_until } : undefined,
    first: noFactors,
    // A user past the second step can always go back where they came from.
    cancel_url: (ctx.session.factors ?? []).length > 0 ? afterChallenge(flow) : undefined,
    after_recovery: flow.why === 'recovery-used' ? { remaining: await ctx.svc.factors.recovery.remaining(user) } : undefined,
  });
}

/**
 * When the flow's rule accepts only kinds the user has none of (while the user
 * has other methods): the kinds it needs and the kinds the user has.
 */
async function missingKinds(ctx: RequestContext, flow: Flow): Promise<{ needed: FactorKind[]; has: FactorKind[] } | undefined> {
  const accepted = acceptedKinds(ctx, flow.rule);
  if (!accepted) return undefined;
  const has = (await ctx.svc.factors.enrolledKinds(ctx.session!.user!)).filter((k) => k !== 'recovery');
  if (has.length === 0 || has.some((k) => kindAllowed(k, accepted))) return undefined;
  return { needed: accepted.filter((k) => k !== 'recovery'), has };
}

/**
 * The authenticator-app setup step. The pending secret is kept across reloads
 * and wrong codes (the user may have scanned it already); `fresh` replaces it.
 * code_error / renewed pick the message the template shows.
 */
async function totpPage(ctx: RequestContext, flow: Flow, extra: { fresh?: boolean; renewed?: boolean; code_error?: 'wrong' | 'expired'; needs?: unknown; others?: boolean }): Promise<Record<string, unknown>> {
  const { fresh, ...shown } = extra;
  const e = await ctx.svc.factors.totp.beginEnrollment({ id: ctx.session!.user!, email: currentUser(ctx)?.email }, ceremonyBinding(ctx.session!), { fresh });
  return {
    mode: 'totp', flow, query: flowQuery(flow), step: { current: 2, total: STEPS, label: msg('enroll.totp_title') },
    qr: `data:image/svg+xml;base64,${Buffer.from(e.qrSvg).toString('base64')}`, secret: e.groupedSecret, plain_secret: e.secret, uri: e.uri,
    scripts: ['autosubmit.js', 'copy.js'], ...shown,
  };
}

function smsPage(ctx: RequestContext, flow: Flow, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    mode: 'sms', flow, query: flowQuery(flow), code_length: ctx.snap.config.factors.sms_otp?.length ?? 6,
    step: { current: 2, total: STEPS, label: msg('enroll.sms_title') }, scripts: ['autosubmit.js'], ...extra,
  };
}

/** The email confirmation step; a code sent moments ago (this answer or a reload of it) puts it in its "we sent a code" state. */
async function emailPage(ctx: RequestContext, flow: Flow, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const resendMs = await ctx.svc.factors.resendWait('email', ctx.session!.user!);
  return {
    mode: 'email', code_length: ctx.snap.config.factors.email_otp.length, flow, query: flowQuery(flow), email: currentUser(ctx)?.email,
    step: { current: 2, total: STEPS, label: msg('enroll.email_title') }, scripts: ['autosubmit.js', 'resend-countdown.js'],
    code_sent: resendMs > 0, resend_seconds: Math.ceil(resendMs / 1000), ...extra,
  };
}

/** Push needs a way to the phone: Web Push, or approval links to the user's address (the notifier). */
function pushOffered(ctx: RequestContext, hasEmail: boolean): boolean {
  const push = ctx.svc.factors.push;
  return push !== undefined && (push.webPush !== undefined || hasEmail);
}

async function pushPage(ctx: RequestContext, flow: Flow, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const webPush = ctx.svc.factors.push?.webPush;
  return {
    mode: 'push', flow, query: flowQuery(flow), email: currentUser(ctx)?.email,
    step: { current: 2, total: STEPS, label: msg('push.enroll.step') },
    ...(webPush && !extra.push ? { web_push_key: await webPush.publicKey() } : {}),
    scripts: extra.push ? ['push-wait.js'] : webPush ? ['push-subscribe.js'] : [], ...extra,
  };
}

/**
 * Push: the approval link goes to the user's address; approving it there with
 * the number this page shows proves the link reaches the user, and the
 * channel becomes a factor.
 */
async function pushEnrollSubmit(ctx: RequestContext, flow: Flow, form: Record<string, string>): Promise<void> {
  const push = ctx.svc.factors.push;
  const u = currentUser(ctx);
  if (!push || !u) return errorPage(ctx, 400);
  if (form.action === 'push-send' || form.action === 'push-subscribe') {
    let channel: Record<string, unknown>;
    if (form.action === 'push-send') {
      if (!u.email) return errorPage(ctx, 400);
      channel = { channel: 'link', destination: u.email };
    } else {
      const parsed = push.webPush ? parseSubscription(form.subscription, ctx.snap.config.factors.push?.web_push?.push_services ?? []) : { ok: false as const, reason: 'web push is off' };
      if (!parsed.ok) {
        ctx.log = { ...ctx.log, reason: `push subscription refused: ${parsed.reason}` };
        return sendPage(ctx, 400, 'enroll', await pushPage(ctx, flow, { error: msg('push.error.web_push_refused') }));
      }
      channel = push.webPush!.channelData(parsed.sub);
    }
    const context = { app: new URL(ctx.snap.publicOrigin).host, action: requestTranslator(ctx).t('push.enroll.action'), ip: ctx.client.ip };
    const started = await push.start({ id: u.id, email: u.email }, context, { channel }, messageContext(ctx));
    const error = await pushStarted(ctx, u.id, started, 'enroll', context.action);
    if (!started.ok) return sendPage(ctx, 429, 'enroll', await pushPage(ctx, flow, { error }));
    return sendPage(ctx, 200, 'enroll', await pushPage(ctx, flow, { push: { id: started.id, number: started.number, expires_in: Math.ceil((started.expires - ctx.svc.now()) / 1000) } }));
  }
  const id = cleanPushId(form.push_id);
  if (!id) return errorPage(ctx, 400);
  const attempt = await confirmationAttempt(ctx);
  if (!attempt) return;
  const done = await push.complete(u.id, id);
  if (done.ok && done.req.purpose === 'enroll' && done.req.channel) {
    // Named after where requests go, so a user with several tells them apart (renamable on the account page).
    const { t } = requestTranslator(ctx);
    const name = form.name || (done.req.channel.channel === 'web_push'
      ? t('push.name.web_push', { device: deviceLabel(String(ctx.req.headers['user-agent'] ?? '')) })
      : t('push.name.link', { destination: String(done.req.channel.destination) }));
    const factor = await push.addChannel(u.id, done.req.channel, name);
    return enrolled(ctx, flow, 'push', factor.id, factor.name, attempt);
  }
  if (!done.ok && done.reason === 'pending' && done.req) {
    await ctx.svc.throttle.release(attempt);
    return sendPage(ctx, 200, 'enroll', await pushPage(ctx, flow, {
      push: { id, number: done.req.number, expires_in: Math.max(0, Math.ceil((done.req.expires - ctx.svc.now()) / 1000)) }, notice: pushFailureMessage('pending'),
    }));
  }
  ctx.svc.throttle.failed(attempt);
  if (!done.ok) await pushRefused(ctx, u.id, done.refusal, done.reason);
  return sendPage(ctx, 400, 'enroll', await pushPage(ctx, flow, { error: pushFailureMessage(done.ok ? 'gone' : done.reason) }));
}

async function markEnrolled(ctx: RequestContext, kind: FactorKind): Promise<string | undefined> {
  const s = ctx.session!;
  if (s.enrolled?.includes(kind)) return undefined;
  return commitSession(ctx, { ...s, enrolled: [...(s.enrolled ?? []), kind] });
}

/** The codes as a text file (a data: URL), with a heading in the user's language. */
export function recoveryDownload(ctx: RequestContext, codes: string[]): string {
  const { t } = requestTranslator(ctx);
  const text = `${t('enroll.recovery_file', { product: ctx.snap.config.branding.product_name, user: ctx.session!.user! })}\n${t('enroll.recovery_file_note')}\n\n${codes.join('\n')}\n`;
  return `data:text/plain;charset=utf-8;base64,${Buffer.from(text).toString('base64')}`;
}

async function enrollSubmit(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch (err) { return errorPage(ctx, err instanceof BodyError ? err.status : 400); }
  if (!csrfOk(ctx, form.csrf)) return errorPage(ctx, 403, { message: msg('form.expired') });
  const flow = readFlow(ctx, { get: (k: string) => form[k] });
  const user = ctx.session!.user!;
  const action = form.action;

  if (action === 'defer') {
    const state = await svc.store.getUserState(user);
    const u = currentUser(ctx);
    const noFactors = (await svc.factors.enrolledKinds(user)).length === 0;
    const d = deferralAllowed({ deferrals: state?.deferrals ?? 0 }, ctx.snap.config.rollout, svc.now());
    if (!noFactors || !u || !isInRollout(u.groups, ctx.snap.config.rollout) || !d.allowed) {
      return errorPage(ctx, 403, { message: msg('enroll.later_closed') });
    }
    await svc.store.putUserState({ user, deferrals: (state?.deferrals ?? 0) + 1, last_factor: state?.last_factor ?? null, mfa_reset_at: state?.mfa_reset_at ?? null, updated_at: svc.now() });
    svc.log.info({ req_id: ctx.requestId, user, deferrals: (state?.deferrals ?? 0) + 1 }, 'enrollment deferred');
    const deferred = { ...ctx.session!, deferred: true };
    const setCookie = await commitSession(ctx, deferred);
    // upstream_form: "set up later" satisfies routine MFA, so the app's held-back cookies go out now.
    return redirect(ctx, flow.rd, { 'set-cookie': [setCookie, ...await releaseHeldCookies(ctx, deferred)] }, 303);
  }

  const need = await enrollCheck(ctx);
  if (need === 'no-email') return errorPage(ctx, 403, { message: msg('enroll.no_email') });
  if (need !== 'ok') return redirect(ctx, enrollConfirmUrl(need, `/.gatehouse/enroll?${flowQuery(flow)}`), {}, 303);

  if (action === 'totp') {
    const attempt = await confirmationAttempt(ctx);
    if (!attempt) return;
    const r = await finishTotpEnrollment(ctx, form);
    // A wrong code keeps the entry the user scanned; only an expired setup gets a new one.
    if (!r.ok) return sendPage(ctx, 400, 'enroll', await totpPage(ctx, flow, { code_error: r.reason === 'expired' ? 'expired' : 'wrong' }));
    return enrolled(ctx, flow, 'totp', r.factor.id, r.factor.name, attempt);
  }
  if (action === 'totp-new') return sendPage(ctx, 200, 'enroll', await totpPage(ctx, flow, { fresh: true, renewed: true }));
  if (action === 'sms-send' && svc.factors.sms) {
    const phone = normalizePhone(form.phone);
    if (!phone) return sendPage(ctx, 400, 'enroll', smsPage(ctx, flow, { error: msg('enroll.sms_phone_bad', { example: '+44 7700 900123' }), phone: form.phone?.slice(0, 32) }));
    const sent = await svc.factors.beginCodeEnrollment('sms', { id: user }, phone, messageContext(ctx));
    return sendPage(ctx, sent.ok ? 200 : 429, 'enroll', smsPage(ctx, flow, sent.ok
      ? { code_sent: true, phone, notice: msg('enroll.sms_sent', { phone }) }
      : { phone, error: msg('enroll.sms_wait') }));
  }
  if (action === 'sms-confirm' && svc.factors.sms) {
    const attempt = await confirmationAttempt(ctx);
    if (!attempt) return;
    const r = await svc.factors.finishCodeEnrollment('sms', user, form.code ?? '');
    if (!r.ok) return sendPage(ctx, 400, 'enroll', smsPage(ctx, flow, { code_sent: true, error: msg('enroll.code_wrong') }));
    return enrolled(ctx, flow, 'sms', r.factor.id, r.factor.name, attempt);
  }
  if (action === 'email-send') {
    const u = currentUser(ctx)!;
    const sent = await svc.factors.beginCodeEnrollment('email', { id: user, email: u.email }, undefined, messageContext(ctx));
    return sendPage(ctx, sent.ok ? 200 : 429, 'enroll', await emailPage(ctx, flow, {
      code_sent: true, ...(sent.ok ? {} : { error: msg('enroll.email_wait') }),
    }));
  }
  if (action === 'email-confirm') {
    const attempt = await confirmationAttempt(ctx);
    if (!attempt) return;
    const r = await svc.factors.finishCodeEnrollment('email', user, form.code ?? '');
    if (!r.ok) {
      return sendPage(ctx, 400, 'enroll', await emailPage(ctx, flow, { code_sent: true, error: msg('enroll.code_wrong') }));
    }
    return enrolled(ctx, flow, 'email', r.factor.id, r.factor.name, attempt);
  }
  if (action === 'push-send' || action === 'push-subscribe' || action === 'push-confirm') return pushEnrollSubmit(ctx, flow, form);
  if (action === 'recovery-done') {
    notifyUser(ctx, user, (c) => enrollmentCompleteMessage(c, { label: c.tr.t('email.enrolled.new_method') }));
    return redirect(ctx, `/.gatehouse/enroll?${flowQuery(flow, { step: 'done' })}`, {}, 303);
  }
  return errorPage(ctx, 400);
}

/**
 * A setup begun on an instance with another factors.encryption_key cannot be
 * finished here: logged for the operator, and the user gets a fresh setup
 * (as when it took too long), never a 503.
 */
async function finishTotpEnrollment(ctx: RequestContext, form: Record<string, string>): Promise<TotpFinishResult> {
  const user = ctx.session!.user!;
  try {
    return await ctx.svc.factors.totp.finishEnrollment(user, ceremonyBinding(ctx.session!), form.code ?? '', form.name);
  } catch (err) {
    if (!(err instanceof UnknownSealingKeyError)) throw err;
    ctx.svc.log.error({ req_id: ctx.requestId, user, factor: 'totp', key_id: err.kid }, err.message);
    return { ok: false, reason: 'expired' };
  }
}

/**
 * A confirmation code is guessed like any second factor: counted before it is
 * checked (a wrong one stays counted). Undefined when refused (429 sent).
 */
async function confirmationAttempt(ctx: RequestContext): Promise<Attempt | undefined> {
  const reserved = await reserveFactorAttempt(ctx);
  if (reserved.ok) return reserved.attempt;
  if (reserved.locked) errorPage(ctx, 403, { message: msg('lockout.account_locked') });
  else errorPage(ctx, 429, { waitSeconds: Math.ceil(reserved.waitMs / 1000), message: msg('enroll.too_many') });
  return undefined;
}

/** A factor was added: it counts as a passed check now; audit, count, notify, then on to recovery codes. */
async function enrolled(ctx: RequestContext, flow: Flow, kind: FactorKind, id: string, name: string, attempt: Attempt): Promise<void> {
  const user = ctx.session!.user!;
  await ctx.svc.audit.write({ event: 'factor.enrolled', user, factor: kind, factor_id: id, label: name, ip: ctx.client.ip, request_id: ctx.requestId });
  ctx.svc.metrics.enrolled(kind);
  notifyUser(ctx, user, (c) => factorAddedMessage(c, { label: c.tr.t(`factor.${kind}.label`), name }));
  const setCookie = await passFactor(ctx, { check: factorCheck(kind, ctx.svc.now()), factorId: id }, null, attempt);
  redirect(ctx, await afterEnrollment(ctx, flow), { 'set-cookie': setCookie }, 303);
}

/** Grace (deferral) governs the default policy and rules with `rollout: follow` only. */
function followsRollout(ctx: RequestContext, rule: string | null | undefined): boolean {
  return !rule || ctx.snap.config.policy.rules.some((r) => r.id === rule && r.rollout === 'follow');
}
