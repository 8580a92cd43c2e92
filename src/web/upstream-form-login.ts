// The request-level shell of identity.source upstream_form (the pure parts
// are identity/upstream-form.ts, whose header tells the design): reading the
// app's login and logout forms before the policy decides, intercepting the
// sign-in, holding the app's cookies until the second factor is done.

import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sealData, unsealData } from 'iron-session';
import type { Dispatcher } from 'undici';
import type { UpstreamFormIdentityConfig } from '../config/types.ts';
import type { RequestContext } from './context.ts';
import { BodyError, readBody } from './form-body.ts';
import { errorPage, redirect } from './respond.ts';
import { msg } from '../identity/translate.ts';
import { decideAfterAppSignIn, hostOnly } from '../policy/decide.ts';
import { parseParams, type ParamList } from '../policy/param-match.ts';
import { bodyFields, decodeLoosely, encodedFields, readsAs } from '../policy/app-field-names.ts';
import { formKind } from '../policy/method-override.ts';
import { compileRequestMatch, matchRequest } from '../policy/request-match.ts';
import type { Decision } from '../policy/types.ts';
import { upstreamTarget, type Route } from '../policy/route-table.ts';
import { buildClientHeaders, buildUpstreamHeaders } from '../proxy/upstream-headers.ts';
import { signInBrowser, signInParty } from './page-session.ts';
import { riskRefusal } from './risk-refusal.ts';
import { failSignIn, reserveSignIn } from '../session/sign-in.ts';
import type { SessionData } from '../session/session-data.ts';
import { requestSubject } from './current-user.ts';
import { challengeUrl } from './challenge-links.ts';
import { liveCookieValue, parseSetCookie } from '../identity/app-cookies.ts';

import { expireAppCookies, forgetReleased, rememberReleased } from './app-cookies.ts';
import { canonicalUsername, namesSameUser, readLoginUsername, whoamiUser } from '../identity/login-form.ts';
import { priorFailures, throttleKeys, type Attempt, type ThrottleKey } from '../identity/throttle.ts';
import { LOGIN_FORM_LIMIT, judgeLogin, appTarget, heldKey, withoutCookies, samePath, loginPageUrl } from '../identity/upstream-form.ts';

function formConfig(ctx: RequestContext): UpstreamFormIdentityConfig | undefined {
  const id = ctx.snap.config.identity;
  return id.source === 'upstream_form' ? id.upstream_form : undefined;
}

/**
 * Reads a small urlencoded POST to login_path or logout_path before the
 * policy decides (into ctx.form), so login_match / logout_match can see its
 * fields. Any other POST to login_path whose body an app may read fields from
 * (larger, multipart, untyped) is read too, up to policy.inspect_body_max, but
 * only for strayCredentials: it is never a sign-in that login_match names
 * fields for. Anything else is left to stream.
 */
export function readAppForm(ctx: RequestContext, route: Route): Promise<void> | undefined {
  // Undefined (no promise) when there is no form to read: every other request awaits nothing here.
  const uf = formConfig(ctx);
  if (!uf || ctx.req.method !== 'POST') return undefined;
  const atLogin = samePath(ctx.path, uf.login_path, route.case_insensitive);
  if (!atLogin && !(uf.logout_path !== undefined && samePath(ctx.path, uf.logout_path, route.case_insensitive))) return undefined;
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const declared = Number(ctx.req.headers['content-length'] ?? NaN);
  const timeout = ctx.snap.config.server.body_timeout || 10_000;
  if (type === 'application/x-www-form-urlencoded' && declared >= 0 && declared <= LOGIN_FORM_LIMIT) {
    return readBody(ctx.req, LOGIN_FORM_LIMIT, timeout).then((body) => {
      ctx.form = { body, fields: parseParams(body.toString('utf8')) };
    });
  }
  const hasBody = declared > 0 || (Number.isNaN(declared) && ctx.req.headers['transfer-encoding'] !== undefined);
  if (!atLogin || !hasBody || formKind(ctx.req.headers['content-type']) === 'other') return undefined;
  return readBody(ctx.req, ctx.snap.config.policy.inspect_body_max, timeout).then((body) => {
    ctx.form = { body, fields: [] };
  });
}

/**
 * A request to login_path that names a user (username_field in its query,
 * its cookies or its form, under any spelling the app decodes to that name)
 * without being the sign-in. Apps such as DokuWiki accept credentials on any
 * request to their script (PHP's $_REQUEST, which may include cookies): passed
 * on, such a request would sign in whoever it names without the gateway's
 * checks. Refused, as is a form on login_path the gateway cannot read.
 */
export function strayCredentials(ctx: RequestContext, route: Route): boolean {
  const uf = formConfig(ctx);
  if (!uf || !samePath(ctx.path, uf.login_path, route.case_insensitive)) return false;
  const names = (k: string) => readsAs(k, uf.username_field, route.case_insensitive) !== 'no';
  const query = ctx.query.startsWith('?') ? ctx.query.slice(1) : ctx.query;
  if (encodedFields(query).some(([k]) => names(k))) return true;
  const cookie = ctx.req.headers.cookie;
  if (cookie !== undefined && cookie.split(';').some((c) => names(decodeLoosely(c.split('=', 1)[0].trim())))) return true;
  if (!ctx.form) return false;
  const type = ctx.req.headers['content-type'];
  const fields = bodyFields(formKind(type), type, ctx.form.body);
  return fields === null || fields.some(([k]) => names(k));
}

/** A request to the app's logout_path (and logout_match): it ends the gateway session too. */
export function isLogoutRequest(ctx: RequestContext, route: Route): boolean {
  const uf = formConfig(ctx);
  if (uf?.logout_path === undefined || !samePath(ctx.path, uf.logout_path, route.case_insensitive)) return false;
  if (!uf.logout_match) return true;
  const m = compileRequestMatch(uf.logout_match);
  return matchRequest(m, { query: ctx.query.replace(/^\?/, ''), form: ctx.req.method === 'GET' || ctx.req.method === 'HEAD' ? [] : ctx.form?.fields });
}

/** In this mode a sign-in challenge sends the browser to the app's own login page (undefined otherwise). */
export function appLoginRedirect(ctx: RequestContext, d: Extract<Decision, { action: 'challenge' }>): string | undefined {
  const uf = formConfig(ctx);
  return d.kind === 'login' && uf ? loginPageUrl(uf.login_path, uf.login_match) : undefined;
}

/** Ends the gateway session (every instance) for the app's logout; returns the Set-Cookie values that clear it and the app's cookies. */
export async function endGatewaySession(ctx: RequestContext): Promise<string[]> {
  const s = ctx.session;
  if (!s) return [];
  // What was released to it is kept until this answer is proxied (the app must see its cookie to end its own session); it expires with the session.
  await ctx.svc.sessions.revokeSession(s, ctx.cookie);
  if (s.user) await ctx.svc.audit.write({ event: 'signout', user: s.user, ip: ctx.client.ip, request_id: ctx.requestId });
  return [ctx.svc.sessions.clearCookie(), ...expireAppCookies(ctx)];
}

interface HeldCookies { u: string; t: number; c: string[] }

function heldTtl(ctx: RequestContext): number {
  const s = ctx.snap.config.session;
  return s.idle_timeout > 0 ? Math.min(s.idle_timeout, s.max_age) : s.max_age;
}

async function holdCookies(ctx: RequestContext, session: SessionData, cookies: string[]): Promise<void> {
  const ttl = heldTtl(ctx);
  const sealed = await sealData({ u: session.user!, t: session.created, c: cookies } satisfies HeldCookies, {
    password: ctx.snap.config.session.secret, ttl: Math.ceil(ttl / 1000),
  });
  await ctx.svc.shared.set(heldKey(session.user!, session.created), sealed, ttl);
}

/**
 * The app's Set-Cookie values held for this session, taken (so released
 * exactly once); [] when none are held or this is not upstream_form mode.
 */
export async function releaseHeldCookies(ctx: RequestContext, session: SessionData): Promise<string[]> {
  if (!formConfig(ctx) || !session.user) return [];
  const sealed = await ctx.svc.shared.take(heldKey(session.user, session.created));
  if (sealed === null) return [];
  const data = await unsealData<Partial<HeldCookies>>(sealed, {
    password: ctx.snap.config.session.secret, ttl: Math.ceil(heldTtl(ctx) / 1000),
  });
  if (data.u !== session.user || data.t !== session.created || !Array.isArray(data.c) || !data.c.every((c) => typeof c === 'string')) {
    ctx.svc.log.warn({ req_id: ctx.requestId, user: session.user }, 'held app cookies unreadable: not released');
    return [];
  }
  await rememberReleased(ctx, session, data.c);
  ctx.svc.log.info({ req_id: ctx.requestId, user: session.user, cookies: data.c.length }, 'app cookies released');
  return data.c;
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function upstreamFailure(err: Error & { code?: string }): 502 | 504 {
  return /TIMEOUT/.test(err.code ?? '') ? 504 : 502;
}

/**
 * Handles a POST to login_path: forward the form, judge the answer, and either
 * relay the app's own answer (failure, counted) or start the gateway session
 * with the app's cookies held back. `target` is the forwarded path + query.
 */
export async function upstreamFormLogin(ctx: RequestContext, route: Route, target: string): Promise<void> {
  try {
    await interceptLogin(ctx, route, target);
  } catch (err) {
    // Store or shared state down (throttle, session, held cookies): fail closed.
    ctx.svc.log.error({ err, req_id: ctx.requestId }, 'upstream_form login failed: failing closed');
    ctx.log = { ...ctx.log, decision: 'deny', reason: 'upstream_form: backend unavailable' };
    if (!ctx.res.headersSent) errorPage(ctx, 503);
    else ctx.res.destroy();
  }
}

/** A sign-in the gateway refuses before the app sees it: the form is ambiguous or names an unusable user. */
async function refuseLogin(ctx: RequestContext, reason: string, user = '-'): Promise<void> {
  await ctx.svc.audit.write({ event: 'signin.failure', user, ip: ctx.client.ip, request_id: ctx.requestId, reason });
  ctx.log = { ...ctx.log, decision: 'deny', reason: `upstream_form: ${reason}` };
  return errorPage(ctx, 400, { message: msg('error.upstream_form_bad') });
}

/** Throttle keys for a sign-in: the account and the address; the address alone when the form names nobody. */
function signInKeys(user: string | null, ip: string): ThrottleKey[] {
  const keys = throttleKeys('pwd', user ?? '-', ip);
  return user === null ? keys.filter((k) => !k.account) : keys;
}

async function interceptLogin(ctx: RequestContext, route: Route, target: string): Promise<void> {
  const { svc, snap, req } = ctx;
  const uf = formConfig(ctx)!;
  let body: Buffer;
  let fields: ParamList;
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    ctx.log.reason = 'upstream_form: login form not urlencoded';
    return errorPage(ctx, 400, { message: msg('error.upstream_form_unreadable') });
  }
  if (ctx.form) {
    if (ctx.form.body.length > LOGIN_FORM_LIMIT) return errorPage(ctx, 413);
    ({ body, fields } = ctx.form);
  } else {
    try {
      body = await readBody(req, LOGIN_FORM_LIMIT, snap.config.server.body_timeout || 10_000);
    } catch (err) {
      return errorPage(ctx, err instanceof BodyError ? (err.status === 408 ? 400 : err.status) : 400);
    }
    fields = parseParams(body.toString('utf8'));
  }
  // The username the app will read, or a refusal when the app could read another (repeated, or also in the query).
  const read = readLoginUsername(ctx.query.replace(/^\?/, ''), fields, uf.username_field);
  if (!read.ok) return refuseLogin(ctx, read.reason);
  let username: string | null = null;
  if (read.value !== null) {
    const c = canonicalUsername(read.value, uf);
    if (!c.ok) return refuseLogin(ctx, c.reason);
    username = c.value;
  }
  const keys = signInKeys(username, ctx.client.ip);
  const reserved = await reserveSignIn(svc, svc.throttle, keys, signInParty(ctx, username ?? '-'));
  if (!reserved.ok) {
    ctx.log = { ...ctx.log, decision: 'deny', reason: 'sign-in throttled' };
    return reserved.locked
      ? errorPage(ctx, 403, { message: msg('lockout.account_locked') })
      : errorPage(ctx, 429, { waitSeconds: Math.ceil(reserved.waitMs / 1000), message: msg('error.upstream_form_throttled') });
  }

  const sentCookies = typeof req.headers.cookie === 'string' ? req.headers.cookie : undefined;
  let headers = buildUpstreamHeaders({
    rawHeaders: req.rawHeaders, isOwned: snap.isOwned, sessionCookieName: svc.sessions.cookieName,
    upstreamHost: route.upstreamHost, preserveHost: route.preserve_host, forwardedFor: ctx.client.forwardedFor,
    forwardedProto: ctx.client.proto, forwardedHost: ctx.client.host, requestId: ctx.requestId, identity: [],
  });
  // Without a cookie to prove the login fresh, the browser's cookies could be a
  // signed-in (stolen) app session the app merely redirects: send none.
  if (uf.success.set_cookie === undefined) headers = withoutCookies(headers);
  headers = withoutNames(headers, ['content-length', 'expect', 'transfer-encoding']);
  headers.push('content-length', String(body.length));

  let answer: Dispatcher.ResponseData;
  try {
    answer = await svc.pools.get(route.upstreamOrigin).request({
      path: upstreamTarget(route, target), method: 'POST', headers, body,
      headersTimeout: route.timeout, bodyTimeout: route.timeout,
    });
  } catch (err) {
    svc.log.warn({ req_id: ctx.requestId, route: route.id, err: (err as Error).message }, 'upstream failure (login form)');
    await svc.throttle.release(reserved.attempt);
    return errorPage(ctx, upstreamFailure(err as Error));
  }
  const upstreamHeaders = answer.headers as IncomingHttpHeaders as Record<string, string | string[] | undefined>;
  const location = typeof upstreamHeaders.location === 'string' ? upstreamHeaders.location : undefined;
  const setCookies = asList(upstreamHeaders['set-cookie']);
  const next = appTarget(location, route.upstreamOrigin, snap.publicOrigin, ctx.path + ctx.query);
  const ok = judgeLogin(uf.success, { status: answer.statusCode, target: next, setCookies }, sentCookies, svc.now());

  if (!ok) return relayFailure(ctx, route, answer, username, reserved.attempt);
  answer.body.dump().catch(() => {});
  if (username === null) {
    await svc.throttle.release(reserved.attempt);
    svc.log.error({ req_id: ctx.requestId, field: uf.username_field }, 'upstream_form: the app accepted a login whose username field is missing or unusable (check identity.upstream_form.username_field)');
    await svc.audit.write({ event: 'signin.failure', user: '-', ip: ctx.client.ip, request_id: ctx.requestId, reason: 'username unreadable' });
    return errorPage(ctx, 400, { message: msg('error.upstream_form_no_user') });
  }
  // Optional: the app itself names who it signed in; it must be the form's user.
  const named = await appNamedUsers(ctx, route, uf, upstreamHeaders, setCookies).catch(async (err: unknown) => {
    await svc.throttle.release(reserved.attempt);
    throw err;
  });
  if (named.some((n) => !namesSameUser(username, n, uf))) {
    svc.throttle.failed(reserved.attempt);
    svc.log.warn({ req_id: ctx.requestId, user: username, app_user: named }, 'upstream_form: the app signed in another user than the form named: refused');
    await svc.audit.write({ event: 'signin.failure', user: username, ip: ctx.client.ip, request_id: ctx.requestId, reason: 'the app named another user' });
    ctx.log = { ...ctx.log, decision: 'deny', reason: 'upstream_form: app confirmation names another user' };
    return errorPage(ctx, 403, { message: msg('error.upstream_form_other_user') });
  }
  const clientHeaders = buildClientHeaders({ headers: upstreamHeaders, upstreamOrigin: route.upstreamOrigin, publicOrigin: snap.publicOrigin, sessionCookieName: svc.sessions.cookieName });
  return startSession(ctx, username, asList(clientHeaders['set-cookie']), next ?? '/', reserved.attempt);
}

/**
 * Who the app says it signed in, once per configured confirmation
 * (success.user_header in its answer; the whoami page fetched with the new
 * app cookies): [] when none is configured, null where the app named nobody.
 */
async function appNamedUsers(ctx: RequestContext, route: Route, uf: UpstreamFormIdentityConfig, answerHeaders: Record<string, string | string[] | undefined>, setCookies: string[]): Promise<(string | null)[]> {
  const named: (string | null)[] = [];
  if (uf.success.user_header !== undefined) {
    const v = answerHeaders[uf.success.user_header];
    named.push(typeof v === 'string' ? v : null);
  }
  if (uf.whoami === undefined) return named;
  const now = ctx.svc.now();
  const names = new Set(setCookies.map((sc) => parseSetCookie(sc, now)?.name).filter((n): n is string => n !== undefined));
  const cookie = [...names].flatMap((n) => {
    const v = liveCookieValue(setCookies, n, now);
    return v === undefined ? [] : [`${n}=${v}`];
  }).join('; ');
  const headers = ['host', route.preserve_host ? ctx.client.host : route.upstreamHost, 'accept', 'text/html,*/*', 'x-request-id', ctx.requestId];
  if (cookie) headers.push('cookie', cookie);
  const r = await ctx.svc.pools.get(route.upstreamOrigin).request({
    path: upstreamTarget(route, uf.whoami.path), method: 'GET', headers, headersTimeout: route.timeout, bodyTimeout: route.timeout,
  });
  const text = Buffer.from(await r.body.arrayBuffer()).subarray(0, 256 * 1024).toString('utf8');
  named.push(r.statusCode === 200 ? whoamiUser(text, new RegExp(uf.whoami.pattern)) : null);
  return named;
}

function withoutNames(headers: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (names.includes(headers[i].toLowerCase())) continue;
    out.push(headers[i], headers[i + 1]);
  }
  return out;
}

/** A wrong password (or anything else not judged a success): the app's own answer, counted toward throttling. */
async function relayFailure(ctx: RequestContext, route: Route, answer: Dispatcher.ResponseData, username: string | null, attempt: Attempt): Promise<void> {
  const { svc, snap, res } = ctx;
  // A server error is not a wrong password; everything else counts (by address only when the form named nobody).
  if (answer.statusCode < 500) {
    await failSignIn(svc, svc.throttle, attempt, signInParty(ctx, username ?? '-'), 'app refused the login', { message: 'sign-in failed (app login form)', fields: { status: answer.statusCode } });
  } else await svc.throttle.release(attempt);
  ctx.log.reason = 'upstream_form: login refused by the app';
  if (res.destroyed) {
    await answer.body.dump().catch(() => {});
    return;
  }
  const out = buildClientHeaders({
    headers: answer.headers as Record<string, string | string[] | undefined>,
    upstreamOrigin: route.upstreamOrigin, publicOrigin: snap.publicOrigin, sessionCookieName: svc.sessions.cookieName,
  });
  res.writeHead(answer.statusCode, out);
  await pipeline(answer.body, res).catch(() => {
    if (!res.destroyed) res.destroy();
  });
}

/** The app said yes: a new gateway session for `user`, the app's cookies held until the policy is satisfied. */
async function startSession(ctx: RequestContext, user: string, appCookies: string[], target: string, attempt: Attempt): Promise<void> {
  const { svc, snap } = ctx;
  // A users file, when configured, may describe the user (and may disable them).
  const known = snap.config.identity.file ? svc.identity.getUser(user) : undefined;
  if (known?.disabled) {
    await svc.throttle.release(attempt);
    await svc.audit.write({ event: 'signin.failure', user, ip: ctx.client.ip, request_id: ctx.requestId, reason: 'disabled' });
    return errorPage(ctx, 403, { message: msg('error.account_disabled') });
  }
  // The pre-sign-in session (or another user's) dies with its id (fixation), and so do its app cookies.
  const previous = ctx.session;
  const expired = expireAppCookies(ctx);
  const signedIn = await signInBrowser(ctx, {
    user, amr: ['pwd'], method: (device) => (device ? 'upstream_form+device' : 'upstream_form'), failures: priorFailures(attempt),
    ...(known ? {} : { profile: { email: '', groups: [], display_name: user } }),
  });
  if (!signedIn.ok) {
    // The failures before it stand, as on the password form (ui/login-page.ts): the retry is refused too.
    await svc.throttle.release(attempt);
    return signedIn.by === 'risk' ? riskRefusal(ctx) : errorPage(ctx, 403);
  }
  await svc.throttle.succeed(attempt);
  await forgetReleased(ctx, previous);
  const { session, setCookie } = signedIn;

  const d = signInDecision(ctx, target);
  if (d !== null && (d.action === 'allow' || d.action === 'report')) {
    // Nothing more is due for this user: the app's cookies go out now.
    await rememberReleased(ctx, session, appCookies);
    return redirect(ctx, target, { 'set-cookie': [setCookie, ...expired, ...appCookies] }, 303);
  }
  if (appCookies.length > 0) await holdCookies(ctx, session, appCookies);
  svc.log.info({ req_id: ctx.requestId, user, cookies: appCookies.length, next: d?.action ?? 'refused' }, 'app cookies held until the policy is satisfied');
  redirect(ctx, d?.action === 'challenge' ? challengeUrl(d, target) : target, { 'set-cookie': [setCookie, ...expired] }, 303);
}

/** The one decision (policy/decide.ts) for what the new session owes before the app's cookies go out; null when the gateway would refuse the target. */
function signInDecision(ctx: RequestContext, target: string): Decision | null {
  const host = hostOnly(ctx.req.headers.host);
  const v = decideAfterAppSignIn(ctx.snap, { target, host, via: 'proxy', method: 'GET', overrides: [], ip: ctx.client.ip }, requestSubject(ctx), ctx.svc.now());
  return v.kind === 'decided' ? v.decision : null;
}
