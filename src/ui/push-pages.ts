// Push approval pages (README "Push approval"): the approval page the phone opens
// from the notification or link (no session there: the link's token is the
// capability), the status the waiting sign-in page polls, and what the
// challenge and enrollment pages share about a push they started.

import type { RequestContext } from '../web/context.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, sendJson, sendPage } from '../web/respond.ts';
import { hostOnly } from '../policy/decide.ts';
import { selectRoute } from '../policy/route-table.ts';
import { cleanPushId, pushRef, type PushStart, type Refusal } from '../factors/push.ts';
import type { PushContext, PushRequest } from '../factors/push-core.ts';
import { factorRemovedMessage, pushNotMeAlert } from '../identity/messages.ts';
import { msg, plural, translator, type Msg } from '../identity/translate.ts';
import { notifyUser } from './second-factor.ts';

/** What the approval page will show of a sign-in that waits for the step of `rd` (and a kept request). */
export function pushContextFor(ctx: RequestContext, rd: string, pending: { method: string; path: string } | null, rule: string | null): PushContext {
  const host = hostOnly(new URL(ctx.snap.publicOrigin).host);
  const path = rd.split('?')[0] || '/';
  const route = selectRoute(ctx.snap.routes, host, pending?.path ?? path);
  // The approximate place, when risk signals locate addresses (risk.geoip_db, risk.locations); none for private ones.
  const country = ctx.snap.geo?.locate(ctx.client.ip).country ?? undefined;
  return {
    app: `${host}${route ? route.prefix || '/' : ''}`,
    action: pending ? `${pending.method} ${pending.path}` : `GET ${path}`,
    ip: ctx.client.ip,
    ...(rule ? { rule } : {}),
    ...(country ? { country } : {}),
  };
}

/** Audits a push that went out; the page's words for one that did not. */
export async function pushStarted(ctx: RequestContext, user: string, started: PushStart, purpose: 'challenge' | 'enroll', action: string): Promise<Msg | undefined> {
  if (started.ok || started.reason === 'undelivered') {
    for (const f of started.gone) {
      await ctx.svc.audit.write({ event: 'factor.removed', user, factor: 'push', factor_id: f.id, by: 'push service (subscription gone)', ip: ctx.client.ip, request_id: ctx.requestId });
      notifyUser(ctx, user, (c) => factorRemovedMessage(c, { label: c.tr.t('factor.push.label'), name: f.name }));
    }
    if (started.failed.length > 0) ctx.svc.log.warn({ req_id: ctx.requestId, user, failed: started.failed }, started.ok ? 'push not delivered on every channel' : 'push delivered on no channel');
  }
  if (started.ok) {
    await ctx.svc.audit.write({ event: 'push.sent', user, push_id: pushRef(started.id), purpose, action, ip: ctx.client.ip, request_id: ctx.requestId });
    return undefined;
  }
  if (started.reason === 'suspended' && started.newly) await pushRefused(ctx, user, { suspended: true }, 'expired');
  const seconds = 'retryAfterMs' in started ? Math.ceil(started.retryAfterMs / 1000) : 0;
  switch (started.reason) {
    case 'suspended': return plural('push.error.suspended', Math.ceil(seconds / 60));
    case 'backoff': return plural('push.error.backoff', seconds);
    case 'too_many': return msg('push.error.too_many');
    case 'undelivered': return msg('push.error.undelivered');
    default: return msg('push.error.no_phone');
  }
}

/** A refusal that suspended push: audited. */
export async function pushRefused(ctx: RequestContext, user: string, refusal: Refusal | undefined, reason: string): Promise<void> {
  if (!refusal?.suspended) return;
  const push = ctx.svc.factors.push!;
  const until = new Date(ctx.svc.now() + push.config.suspend_for).toISOString();
  await ctx.svc.audit.write({ event: 'push.suspended', user, until, reason, ip: ctx.client.ip, request_id: ctx.requestId });
}

/** GET /.gatehouse/push/status?id=: the signed-in user's own push, as JSON. */
export async function pushStatusEndpoint(ctx: RequestContext): Promise<void> {
  const push = ctx.svc.factors.push;
  const user = ctx.session?.user;
  if (!push) return errorPage(ctx, 404);
  if (!user) return sendJson(ctx, 401, { error: 'signin_required' });
  const id = cleanPushId(new URLSearchParams(ctx.query).get('id'));
  const s = id ? await push.status(user, id) : undefined;
  if (!s) return sendJson(ctx, 404, { error: 'not_found' });
  if (s.refusal) await pushRefused(ctx, user, s.refusal, 'expired');
  sendJson(ctx, 200, { status: s.status, expires_in: Math.max(0, Math.ceil((s.expires - ctx.svc.now()) / 1000)) });
}

type Answer = { choice: number } | { deny: 'denied' | 'not_me' };

function readAnswer(v: string | undefined): Answer | undefined {
  if (v === 'deny') return { deny: 'denied' };
  if (v === 'not_me') return { deny: 'not_me' };
  return v !== undefined && /^[1-9][0-9]$/.test(v) ? { choice: Number(v) } : undefined;
}

/** /.gatehouse/push?t=TOKEN: what is being approved, three numbers, Deny, "I didn't try to sign in". */
export async function pushApprovePage(ctx: RequestContext): Promise<void> {
  const push = ctx.svc.factors.push;
  if (!push) return errorPage(ctx, 404);
  if (ctx.req.method === 'POST') return pushAnswer(ctx);
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') return errorPage(ctx, 405);
  const token = cleanPushId(new URLSearchParams(ctx.query).get('t'));
  // A GET changes nothing: link previews (chat apps, mail scanners) fetch it too.
  const req = token ? await push.view(token) : undefined;
  if (!req || req.status !== 'pending') return approvalPage(ctx, 410, { mode: 'gone', outcome: req?.status === 'expired' ? 'expired' : 'gone' });
  // The link's token stands in for the CSRF token of a session the phone does not have: unguessable, single-use.
  approvalPage(ctx, 200, { mode: 'ask', token, csrf: token, ...describe(ctx, req) });
}

function describe(ctx: RequestContext, req: PushRequest): Record<string, unknown> {
  const user = ctx.svc.identity.getUser(req.user);
  return {
    who: user?.display_name || req.user,
    enroll: req.purpose === 'enroll',
    app: req.context.app,
    action: req.context.action,
    ip: req.context.ip,
    country: req.context.country,
    at: req.created,
    choices: req.choices,
    expires_in: Math.max(0, Math.ceil((req.expires - ctx.svc.now()) / 1000)),
  };
}

function approvalPage(ctx: RequestContext, status: number, data: Record<string, unknown>): void {
  sendPage(ctx, status, 'push-approve', data, { 'cache-control': 'no-store' });
}

async function pushAnswer(ctx: RequestContext): Promise<void> {
  const push = ctx.svc.factors.push!;
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch (err) { return errorPage(ctx, err instanceof BodyError ? err.status : 400); }
  // No session on the phone: the token is the form's proof; a post from another site is refused all the same.
  const origin = ctx.req.headers.origin;
  const site = ctx.req.headers['sec-fetch-site'];
  if ((origin !== undefined && origin !== 'null' && origin !== ctx.snap.publicOrigin) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
    return errorPage(ctx, 403);
  }
  const token = cleanPushId(form.t);
  const answer = readAnswer(form.answer);
  if (!token || !answer) return errorPage(ctx, 400);
  const r = await push.answer(token, answer);
  if (!r.ok) return approvalPage(ctx, 410, { mode: 'gone', outcome: r.status === 'expired' ? 'expired' : 'gone' });
  const { req } = r;
  ctx.log = { ...ctx.log, user: req.user, reason: `push ${req.status}` };
  await ctx.svc.audit.write({
    event: 'push.answered', user: req.user, push_id: pushRef(req.id), outcome: req.status, action: req.context.action,
    signin_ip: req.context.ip, ip: ctx.client.ip, request_id: ctx.requestId,
  });
  await pushRefused(ctx, req.user, r.refusal, req.status);
  if (req.status === 'not_me') alertOperator(ctx, req);
  approvalPage(ctx, 200, { mode: 'answered', outcome: req.status, ...describe(ctx, req) });
}

/** "I didn't try to sign in": the operator's alert address hears of it (audit.alert_email). */
function alertOperator(ctx: RequestContext, req: PushRequest): void {
  const to = ctx.snap.config.audit.alert_email;
  if (!to) return;
  // To the operators, in ui.default_language (not the phone's).
  const operators = translator(ctx.snap.config.ui.default_language, ctx.snap.config.ui.catalogs);
  const alert = pushNotMeAlert({ product: ctx.snap.config.branding.product_name, tr: operators, timeZone: ctx.snap.config.ui.time_zone }, {
    user: req.user, ip: req.context.ip, action: `${req.context.app} ${req.context.action}`, at: req.created,
  });
  ctx.svc.notifier.send({ to, ...alert }).catch((err: Error) => ctx.svc.log.error({ err: err.message, user: req.user }, 'push alert to the operator not sent'));
}

/** The words for a push that ended without approval, for the page that waited for it. */
export function pushFailureMessage(reason: string): Msg {
  switch (reason) {
    case 'wrong_number': return msg('push.failure.wrong_number');
    case 'denied': return msg('push.failure.denied');
    case 'not_me': return msg('push.failure.not_me');
    case 'expired': return msg('push.failure.expired');
    case 'pending': return msg('push.failure.pending');
    default: return msg('push.failure.gone');
  }
}
