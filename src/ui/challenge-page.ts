// /.gatehouse/challenge: the second factor and step-up. The
// user's last-used method is shown first; every method page links to the
// others ("Try another method"); a rule that names factor kinds offers only
// those. Passing records the check, rotates the session id and returns to the
// target, replaying a stashed request when one waits.

import { currentUser } from '../web/current-user.ts';
import type { FactorKind } from '../config/types.ts';
import type { RequestContext } from '../web/context.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, redirect, sendPage } from '../web/respond.ts';
import { safeReturnTarget } from '../policy/return-target.ts';
import { resumeTarget } from '../policy/resume-marker.ts';
import { pendingRequest } from '../web/pending-request.ts';
import { csrfOk } from '../web/page-session.ts';
import { factorKindInfo } from '../factors/types.ts';
import { UnknownSealingKeyError } from '../store/secret-box.ts';
import { recoveryCodeUsedMessage } from '../identity/messages.ts';
import { msg, plural, type Msg } from '../identity/translate.ts';
import { messageContext } from '../web/request-language.ts';
import { acceptedKinds, failFactor, factorThrottle, kindAllowed, notifyUser, passFactor, reserveFactorAttempt, returnsToEnroll } from './second-factor.ts';
import { rememberDevice } from '../web/remembered-device.ts';
import { cleanPushId } from '../factors/push.ts';
import { pushContextFor, pushFailureMessage, pushRefused, pushStarted } from './push-pages.ts';

const METHODS: FactorKind[] = ['webauthn', 'push', 'totp', 'email', 'sms', 'recovery'];

/** why: what asked for the check (a security-page change, the page itself); the page says it. */
export interface Flow { rd: string; rule: string | null; stash: string | null; resubmit: boolean; why?: string }

export function readFlow(ctx: RequestContext, src: { get(k: string): string | null | undefined }): Flow {
  const rule = src.get('rule') ?? null;
  const stash = src.get('stash') ?? null;
  return {
    rd: safeReturnTarget(src.get('rd'), ctx.snap.publicOrigin) ?? '/',
    rule: rule && /^[\w.:-]{1,128}$/.test(rule) ? rule : null,
    stash: stash && /^[\w-]{10,64}$/.test(stash) ? stash : null,
    resubmit: src.get('resubmit') === '1',
    ...(/^[a-z-]{1,32}$/.test(src.get('why') ?? '') ? { why: src.get('why')! } : {}),
  };
}

export function flowQuery(f: Flow, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ rd: f.rd });
  if (f.rule) q.set('rule', f.rule);
  if (f.stash) q.set('stash', f.stash);
  if (f.why) q.set('why', f.why);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

/** Where a passed challenge goes: the target, or the target with the stash to replay. */
export function afterChallenge(f: Flow): string {
  return f.stash ? resumeTarget(f.rd, f.stash) : f.rd;
}

function maskEmail(email: string): string {
  const [local, domain] = email.split('@');
  if (!domain) return email;
  return `${local.slice(0, 1)}${'•'.repeat(Math.max(1, Math.min(6, local.length - 1)))}@${domain}`;
}

interface MethodView { kind: FactorKind; title: Msg; description: Msg; badge?: Msg; tone?: string; href: string }

async function available(ctx: RequestContext, flow: Flow): Promise<{ methods: FactorKind[]; enrolled: FactorKind[]; accepted: FactorKind[] | null }> {
  const user = ctx.session!.user!;
  const enrolled = await ctx.svc.factors.enrolledKinds(user);
  const accepted = acceptedKinds(ctx, flow.rule);
  let methods = METHODS.filter((k) => enrolled.includes(k) && kindAllowed(k, accepted));
  if (!ctx.svc.factors.sms) methods = methods.filter((k) => k !== 'sms');
  if (!ctx.svc.factors.push) methods = methods.filter((k) => k !== 'push');
  // Email codes need no enrollment beyond a known address, but only as a fallback for users who have a factor.
  const email = currentUser(ctx)?.email;
  if (email && !methods.includes('email') && kindAllowed('email', accepted) && enrolled.length > 0 && accepted === null) methods.splice(methods.length - (methods.includes('recovery') ? 1 : 0), 0, 'email');
  // rollout.verify_email_first: before a first factor, the emailed code proves the address (enroll-page.ts firstEnrollCheck).
  if (email && !methods.includes('email') && accepted === null && verifyEmailOffered(ctx.snap.config.rollout.verify_email_first === true, flow, enrolled)) methods.push('email');
  return { methods, enrolled, accepted };
}

/**
 * Pure: the email code is offered to a user with no real factor only as the check
 * a first enrollment asks for under rollout.verify_email_first (why=verify-email,
 * back to the enrollment); elsewhere such a user is sent to enroll.
 */
export function verifyEmailOffered(verifyEmailFirst: boolean, flow: Pick<Flow, 'rd' | 'why'>, enrolled: readonly FactorKind[]): boolean {
  return verifyEmailFirst && flow.why === 'verify-email' && enrolled.every((k) => k === 'recovery')
    && returnsToEnroll(flow.rd);
}

function methodViews(methods: FactorKind[], flow: Flow, ctx: RequestContext): MethodView[] {
  const email = currentUser(ctx)?.email ?? '';
  return methods.map((kind) => {
    const info = factorKindInfo(kind);
    return {
      kind,
      title: msg(`factor.${kind}.label`),
      description: kind === 'email' ? msg('challenge.email_card', { email: maskEmail(email) }) : msg(`factor.${kind}.description`),
      badge: msg(`factor.${kind}.badge`),
      tone: kind === 'webauthn' ? 'strong' : info.weak ? 'warn' : 'info',
      href: `/.gatehouse/challenge?${flowQuery(flow, { method: kind })}`,
    };
  });
}

/** "Sign in again at your identity provider": when the IdP's second factor can count (trust_idp_mfa) for a user signed in there. */
function idpSigninUrl(ctx: RequestContext, flow: Flow): string | undefined {
  const trusted = ctx.snap.config.identity.oidc?.trust_idp_mfa ?? [];
  if (!ctx.svc.oidc || trusted.length === 0 || !ctx.session?.amr?.includes('ext')) return undefined;
  return `/.gatehouse/login?${new URLSearchParams({ rd: afterChallenge(flow), fresh: '1' })}`;
}

export async function challengePage(ctx: RequestContext): Promise<void> {
  if (!ctx.session?.user) {
    return redirect(ctx, `/.gatehouse/login?rd=${encodeURIComponent(`/.gatehouse/challenge${ctx.query}`)}`);
  }
  if (ctx.req.method === 'POST') return challengeSubmit(ctx);
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const q = new URLSearchParams(ctx.query);
  const flow = readFlow(ctx, q);
  const { methods, enrolled, accepted } = await available(ctx, flow);
  if (methods.length === 0) {
    // Nothing the rule accepts is enrolled: explain, and offer enrollment of what it accepts.
    return sendPage(ctx, 200, 'challenge', {
      mode: 'none', flow, query: flowQuery(flow), pending: await pendingRequest(ctx, flow.stash),
      needed: accepted ?? ['webauthn', 'totp'],
      // Recovery codes are a way back in, not a method anyone would count as "what I have".
      has: enrolled.filter((k) => k !== 'recovery'),
      enroll_url: `/.gatehouse/enroll?${flowQuery(flow)}${accepted?.length === 1 ? `&method=${accepted[0]}` : ''}`,
      idp_signin_url: idpSigninUrl(ctx, flow),
    });
  }
  let method = q.get('method') as FactorKind | 'pick' | null;
  if (method !== 'pick' && (!method || !methods.includes(method))) {
    const last = (await ctx.svc.store.getUserState(ctx.session.user))?.last_factor;
    method = last && methods.includes(last) && last !== 'recovery' && last !== 'email' ? last : methods[0];
  }
  return renderMethod(ctx, flow, method, methods, {});
}

async function renderMethod(ctx: RequestContext, flow: Flow, method: FactorKind | 'pick', methods: FactorKind[], extra: Record<string, unknown>, status = 200): Promise<void> {
  const keys = factorThrottle(ctx);
  const [wait, locked] = await Promise.all([ctx.svc.throttle.waiting(keys), ctx.svc.throttle.locked(keys)]);
  const rule = flow.rule ? ctx.snap.config.policy.rules.find((r) => r.id === flow.rule) : undefined;
  // Asked before adding a method (enroll-page.ts): say so (the user did not ask to sign in), and trust no browser here.
  const confirmEnroll = returnsToEnroll(flow.rd);
  // A code that just went out (this answer, or a reload of it): the page is in its "we sent a code" state with the resend wait.
  const resendMs = method === 'email' || method === 'sms' ? await ctx.svc.factors.resendWait(method, ctx.session!.user!) : 0;
  sendPage(ctx, locked ? 403 : wait > 0 && status === 200 ? 429 : status, 'challenge', {
    mode: method,
    flow,
    query: flowQuery(flow),
    // What passing completes: "After you confirm, your POST to /billing/pay is sent."
    pending: await pendingRequest(ctx, flow.stash),
    another_url: `/.gatehouse/challenge?${flowQuery(flow, { method: 'pick' })}`,
    methods: methodViews(methods, flow, ctx),
    has_others: methods.length > 1,
    confirm_enroll: confirmEnroll,
    // A way back for a user already signed in: to the security page for its changes, else the start page.
    cancel_url: (ctx.session?.factors ?? []).length === 0 ? undefined : flow.rd.startsWith('/.gatehouse/account') ? '/.gatehouse/account' : '/',
    step_up: rule !== undefined && (rule.max_age !== undefined || rule.factors !== undefined),
    remember_days: ctx.snap.config.session.remember_device > 0 && !flow.rule && !confirmEnroll ? Math.round(ctx.snap.config.session.remember_device / 86_400_000) : 0,
    wait_seconds: wait > 0 ? Math.ceil(wait / 1000) : undefined,
    email: maskEmail(currentUser(ctx)?.email ?? ''),
    // Email and text codes have a configured length (4-10 digits): the code box must take all of them.
    code_length: method === 'sms' ? ctx.snap.config.factors.sms_otp?.length ?? 6 : ctx.snap.config.factors.email_otp.length,
    scripts: method === 'webauthn' ? ['simplewebauthn-browser.js', 'webauthn.js'] : method === 'push' ? (extra.push ? ['push-wait.js'] : [])
      : method === 'email' || method === 'sms' ? ['autosubmit.js', 'resend-countdown.js'] : ['autosubmit.js'],
    idp_signin_url: idpSigninUrl(ctx, flow),
    code_sent: resendMs > 0,
    resend_seconds: Math.ceil(resendMs / 1000),
    ...extra,
    // 100 failures in a row: no wait to count down, an operator must unlock the account.
    ...(locked ? { error: msg('lockout.account_locked') } : {}),
  });
}

async function challengeSubmit(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch (err) { return errorPage(ctx, err instanceof BodyError ? err.status : 400); }
  const flow = readFlow(ctx, { get: (k: string) => form[k] });
  if (!csrfOk(ctx, form.csrf)) return errorPage(ctx, 403, { message: msg('form.expired') });
  const user = ctx.session!.user!;
  const { methods } = await available(ctx, flow);
  const method = form.method as FactorKind;
  if (!methods.includes(method)) return errorPage(ctx, 400);

  const wait = await svc.throttle.waiting(factorThrottle(ctx));
  if (wait > 0) return renderMethod(ctx, flow, method, methods, {}, 429);

  if ((method === 'email' || method === 'sms') && form.send === '1') {
    const u = currentUser(ctx)!;
    const sent = await svc.factors.sendCode(method, { id: user, email: u.email }, messageContext(ctx));
    if (!sent.ok) {
      const why = sent.reason === 'rate_limited' ? plural('challenge.resend_wait', Math.ceil(sent.retryAfterMs / 1000)) : msg('challenge.no_address');
      return renderMethod(ctx, flow, method, methods, { code_sent: sent.reason === 'rate_limited', error: why });
    }
    return renderMethod(ctx, flow, method, methods, { code_sent: true });
  }

  if (method === 'push') return pushSubmit(ctx, flow, methods, form);
  const reserved = await reserveFactorAttempt(ctx);
  if (!reserved.ok) return renderMethod(ctx, flow, method, methods, {}, reserved.locked ? 403 : 429);
  const code = form.code ?? '';
  let result: { ok: true; verified: import('../factors/types.ts').Verified; remaining?: number } | { ok: false; reason?: string };
  try {
    switch (method) {
      case 'totp': result = await svc.factors.totp.verify(user, code); break;
      case 'recovery': result = await svc.factors.recovery.verify(user, code); break;
      case 'email': case 'sms': result = await svc.factors.verifyCode(method, user, code); break;
      default: await svc.throttle.release(reserved.attempt); return errorPage(ctx, 400);
    }
  } catch (err) {
    if (!(err instanceof UnknownSealingKeyError)) throw err;
    await svc.throttle.release(reserved.attempt);
    return methodUnavailable(ctx, flow, method, methods, err);
  }
  if (!result.ok) {
    const { waitMs, left } = await failFactor(ctx, reserved.attempt, method, result.reason ?? 'invalid_code', flow.rule);
    const error = msg(result.reason === 'replayed' ? 'challenge.replayed' : method === 'recovery' ? 'challenge.recovery_wrong' : 'challenge.code_wrong');
    return renderMethod(ctx, flow, method, methods, {
      error: waitMs > 0 ? undefined : left > 0 && left <= 3 ? [error, plural('challenge.attempts_left', left)] : error,
      code_sent: method === 'email' || method === 'sms',
    }, waitMs > 0 ? 429 : 401);
  }
  const cookies = await passFactor(ctx, result.verified, flow.rule, reserved.attempt);
  if (method === 'recovery') {
    const remaining = result.remaining ?? 0;
    await svc.audit.write({ event: 'recovery.used', user, remaining, ip: ctx.client.ip, request_id: ctx.requestId });
    svc.metrics.recoveryCodesUsed.inc();
    notifyUser(ctx, user, (c) => recoveryCodeUsedMessage(c, { remaining }));
  }
  if (form.remember === '1' && ctx.snap.config.session.remember_device > 0 && !flow.rule) cookies.push(await rememberDevice(ctx, user));
  // Signed in with a recovery code: the phone or key may be gone, so offer a replacement first ("Not now" goes on).
  // A step-up with a kept request goes straight on: the user is in the middle of something.
  const offer = method === 'recovery' && !flow.rule && !flow.stash;
  const next = offer ? `/.gatehouse/enroll?${flowQuery(flow, { why: 'recovery-used' })}` : afterChallenge(flow);
  redirect(ctx, next, { 'set-cookie': cookies }, 303);
}

/**
 * Push: `send` sends a request to the phone and shows the number to tap there;
 * `push_id` takes the outcome (the waiting page submits it once the phone has
 * answered). A refusal or time-out counts as a failed attempt.
 */
async function pushSubmit(ctx: RequestContext, flow: Flow, methods: FactorKind[], form: Record<string, string>): Promise<void> {
  const { svc } = ctx;
  const push = svc.factors.push!;
  const user = ctx.session!.user!;
  if (form.send === '1') {
    const context = pushContextFor(ctx, flow.rd, await pendingRequest(ctx, flow.stash), flow.rule);
    const started = await push.start({ id: user, email: currentUser(ctx)?.email }, context, undefined, messageContext(ctx));
    const error = await pushStarted(ctx, user, started, 'challenge', context.action);
    if (!started.ok) return renderMethod(ctx, flow, 'push', methods, { error }, started.reason === 'no_channel' ? 400 : started.reason === 'undelivered' ? 502 : 429);
    return renderMethod(ctx, flow, 'push', methods, { push: waiting(ctx, started.id, started.number, started.expires) });
  }
  const id = cleanPushId(form.push_id);
  if (!id) return errorPage(ctx, 400);
  const reserved = await reserveFactorAttempt(ctx);
  if (!reserved.ok) return renderMethod(ctx, flow, 'push', methods, {}, reserved.locked ? 403 : 429);
  const done = await push.complete(user, id);
  if (done.ok) {
    const cookies = await passFactor(ctx, done.verified, flow.rule, reserved.attempt);
    if (form.remember === '1' && ctx.snap.config.session.remember_device > 0 && !flow.rule) cookies.push(await rememberDevice(ctx, user));
    return redirect(ctx, afterChallenge(flow), { 'set-cookie': cookies }, 303);
  }
  if (done.reason === 'pending' && done.req) {
    // Answered on no phone yet: not an attempt; keep waiting.
    await svc.throttle.release(reserved.attempt);
    return renderMethod(ctx, flow, 'push', methods, { push: waiting(ctx, id, done.req.number, done.req.expires), notice: pushFailureMessage('pending') });
  }
  await pushRefused(ctx, user, done.refusal, done.reason);
  const { waitMs } = await failFactor(ctx, reserved.attempt, 'push', done.reason, flow.rule);
  return renderMethod(ctx, flow, 'push', methods, { error: waitMs > 0 ? undefined : pushFailureMessage(done.reason) }, waitMs > 0 ? 429 : 401);
}

function waiting(ctx: RequestContext, id: string, number: number, expires: number): Record<string, unknown> {
  return {
    id, number,
    expires_in: Math.max(0, Math.ceil((expires - ctx.svc.now()) / 1000)),
    status_url: `/.gatehouse/push/status?${new URLSearchParams({ id })}`,
  };
}

/**
 * The method's secret is sealed under an encryption key this instance does not
 * have (instances configured with different factors.encryption_key values): an
 * operator's problem, not the user's. Log it for the operator; offer the user
 * the other methods.
 */
function methodUnavailable(ctx: RequestContext, flow: Flow, method: FactorKind, methods: FactorKind[], err: UnknownSealingKeyError): Promise<void> {
  ctx.svc.log.error({ req_id: ctx.requestId, user: ctx.session!.user, factor: method, key_id: err.kid }, err.message);
  ctx.log = { ...ctx.log, reason: `${method}: sealed with an unknown encryption key` };
  const others = methods.filter((k) => k !== method);
  return renderMethod(ctx, flow, 'pick', others, {
    error: msg(others.length > 0 ? 'challenge.unavailable_others' : 'challenge.unavailable_admin'),
  }, 200);
}
