// identity.source: upstream_form (SPEC §3): the legacy app keeps its own login
// page. Its form is passed through; the sign-in (a POST to login_path that
// matches login_match, allowed by the implicit policy rule upstream_form-login)
// is read by the gateway: the username the app will read (login-form.ts:
// repeated or query copies refused, one canonical form), the form forwarded,
// the app's answer judged by the configured success rule (and, optionally,
// confirmed by the app naming the same user). On success it starts the gateway
// session for that username and HOLDS BACK the app's Set-Cookie headers
// (sealed, in shared state, bound to the new session) until the routine second
// factor is done: released at once when nothing is due, else by passFactor
// after the challenge or enrollment. Which app-cookie values each gateway
// session may send on is app-cookies.ts's business.
//
// Pure parts first (table-tested), then the imperative login interception.

import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sealData, unsealData } from 'iron-session';
import type { Dispatcher } from 'undici';
import type { FactorKind, FormRequestMatch, UpstreamFormIdentityConfig } from '../config/types.ts';
import type { RequestContext } from '../web/context.ts';
import { BodyError, readBody } from '../web/form-body.ts';
import { errorPage, redirect } from '../web/respond.ts';
import { safeReturnTarget } from '../web/return-target.ts';
import { decideAfterAppSignIn, hostOnly } from '../policy/decide.ts';
import { parseParams, type ParamList } from '../policy/param-match.ts';
import { matchPath } from '../policy/path-pattern.ts';
import { compileRequestMatch, matchRequest } from '../policy/request-match.ts';
import type { Decision } from '../policy/types.ts';
import type { Route } from '../policy/route-table.ts';
import { buildClientHeaders, buildUpstreamHeaders, rewriteLocation } from '../proxy/upstream-headers.ts';
import { readCookie } from '../session/cookies.ts';
import { signInBrowser, signInParty } from '../web/page-session.ts';
import { failSignIn, reserveSignIn } from '../session/sign-in.ts';
import type { SessionData } from '../session/session-data.ts';
import { requestSubject } from '../web/current-user.ts';
import { challengeUrl } from '../web/challenge-links.ts';
import { expireAppCookies, forgetReleased, liveCookieValue, parseSetCookie, rememberReleased } from './app-cookies.ts';
import { canonicalUsername, namesSameUser, readLoginUsername, whoamiUser } from './login-form.ts';
import { throttleKeys, type Attempt, type ThrottleKey } from './throttle.ts';

/** The login form is small: buffered (to read the username) up to this size. */
export const LOGIN_FORM_LIMIT = 64 * 1024;
const HELD_PREFIX = 'uf:held:';

// ---------------------------------------------------------------- pure core

/** What the judge looks at in the app's answer to the login POST. */
export interface LoginAnswer {
  status: number;
  /** Same-origin path (+ query) the app redirects to; null when absent or pointing elsewhere. */
  target: string | null;
  setCookies: readonly string[];
}

/**
 * Whether the app's answer means "signed in". Every condition the rule names
 * must hold. `set_cookie` needs the app to set that cookie to a live value
 * different from the one the browser sent: an app that merely redirects an
 * already signed-in (perhaps stolen) session away from its login page sets
 * nothing new, so it cannot pass for a fresh login.
 */
export function judgeLogin(
  rule: UpstreamFormIdentityConfig['success'],
  answer: LoginAnswer,
  sentCookieHeader: string | undefined,
  now: number,
): boolean {
  if (rule.status === undefined && rule.location === undefined && rule.set_cookie === undefined) return false;
  if (rule.status !== undefined && answer.status !== rule.status) return false;
  if (rule.location !== undefined) {
    if (answer.target === null) return false;
    const q = answer.target.indexOf('?');
    const path = q === -1 ? answer.target : answer.target.slice(0, q);
    try {
      if (!matchPath(rule.location, path)) return false;
    } catch {
      return false; // an invalid pattern never means success
    }
  }
  if (rule.set_cookie !== undefined) {
    // A trailing * names a prefix (DokuWiki's DW<hash>): some cookie of that name must be newly set.
    const names = rule.set_cookie.endsWith('*')
      ? [...new Set(answer.setCookies.map((sc) => parseSetCookie(sc, now)?.name).filter((n): n is string => n !== undefined && n.startsWith(rule.set_cookie!.slice(0, -1))))]
      : [rule.set_cookie];
    const fresh = names.some((name) => {
      const set = liveCookieValue(answer.setCookies, name, now);
      return set !== undefined && set !== readCookie(sentCookieHeader, name);
    });
    if (!fresh) return false;
  }
  return true;
}

/**
 * Where the app's Location sends the browser, as a same-origin relative target
 * of the public site, or null (absent, another site, or unsafe). Relative
 * Locations resolve against the login URL, the way the browser would.
 */
export function appTarget(location: string | undefined, upstreamOrigin: string, publicOrigin: string, requestTarget: string): string | null {
  if (!location) return null;
  const rewritten = rewriteLocation(location, upstreamOrigin, publicOrigin);
  let url: URL;
  try {
    url = new URL(rewritten, publicOrigin + requestTarget);
  } catch {
    return null;
  }
  if (url.origin !== new URL(publicOrigin).origin) return null;
  return safeReturnTarget(url.pathname + url.search, publicOrigin);
}

/** The shared-state key of the cookies held for one gateway session (its user and creation time survive id rotation). */
export function heldKey(user: string, created: number): string {
  return `${HELD_PREFIX}${created}:${user}`;
}

/** A flat upstream header list without any Cookie header (anonymous requests in this mode). */
export function withoutCookies(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 6 && headers[i].toLowerCase() === 'cookie') continue;
    out.push(headers[i], headers[i + 1]);
  }
  return out;
}

/** True when `path` (the normalized request path) is `configured`, folding case on case-insensitive routes. */
export function samePath(path: string, configured: string, caseInsensitive: boolean): boolean {
  return caseInsensitive ? path.toLowerCase() === configured.toLowerCase() : path === configured;
}

/** The app's login page: login_path with login_match's literal query values (DokuWiki: /doku.php?do=login). */
export function loginPageUrl(loginPath: string, match: FormRequestMatch | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...match?.params, ...match?.query })) if (!v.includes('*')) q.set(k, v);
  const qs = q.toString();
  return qs ? `${loginPath}?${qs}` : loginPath;
}

// ---------------------------------------------------------- imperative shell

function formConfig(ctx: RequestContext): UpstreamFormIdentityConfig | undefined {
  const id = ctx.snap.config.identity;
  return id.source === 'upstream_form' ? id.upstream_form : undefined;
}

/**
 * Reads a small urlencoded POST to login_path or logout_path before the
 * policy decides (into ctx.form), so login_match / logout_match can see its
 * fields. Anything else (another path, not a form, larger than
 * LOGIN_FORM_LIMIT, no declared length) is left to stream: it is then never a
 * sign-in that login_match names fields for.
 */
export async function readAppForm(ctx: RequestContext, route: Route): Promise<void> {
  const uf = formConfig(ctx);
  if (!uf || ctx.req.method !== 'POST') return;
  if (!samePath(ctx.path, uf.login_path, route.case_insensitive) && !(uf.logout_path !== undefined && samePath(ctx.path, uf.logout_path, route.case_insensitive))) return;
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const declared = Number(ctx.req.headers['content-length'] ?? NaN);
  if (type !== 'application/x-www-form-urlencoded' || !(declared >= 0 && declared <= LOGIN_FORM_LIMIT)) return;
  const body = await readBody(ctx.req, LOGIN_FORM_LIMIT, ctx.snap.config.server.body_timeout || 10_000);
  ctx.form = { body, fields: parseParams(body.toString('utf8')) };
}

/**
 * A request to login_path that names a user (username_field in its query, or
 * in the form the gateway read) without being the sign-in. Apps such as
 * DokuWiki accept credentials on any request to their script: passed on, such a
 * request would sign in whoever it names without the gateway's checks. Refused.
 */
export function strayCredentials(ctx: RequestContext, route: Route): boolean {
  const uf = formConfig(ctx);
  if (!uf || !samePath(ctx.path, uf.login_path, route.case_insensitive)) return false;
  const field = uf.username_field;
  const query = ctx.query.startsWith('?') ? ctx.query.slice(1) : ctx.query;
  if (query.includes(field) && parseParams(query).some(([k]) => k === field)) return true;
  return ctx.form?.fields.some(([k]) => k === field) ?? false;
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
    // Store or shared state down (throttle, session, held cookies): fail closed (SPEC §8).
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
  return errorPage(ctx, 400, { message: 'The gateway cannot accept this sign-in form: its username is missing, repeated or not allowed here.' });
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
    if (!ctx.form) req.resume();
    ctx.log.reason = 'upstream_form: login form not urlencoded';
    return errorPage(ctx, 400, { message: 'The sign-in form could not be read by the gateway.' });
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
    return errorPage(ctx, 429, { waitSeconds: Math.ceil(reserved.waitMs / 1000), message: 'Too many failed sign-ins. Please wait before trying again.' });
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
      path: route.upstreamBase + target, method: 'POST', headers, body,
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
    return errorPage(ctx, 400, { message: 'The gateway could not read the username from the sign-in form.' });
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
    return errorPage(ctx, 403, { message: 'The application signed in a different user than the one named in the form.' });
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
    path: route.upstreamBase + uf.whoami.path, method: 'GET', headers, headersTimeout: route.timeout, bodyTimeout: route.timeout,
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
    return errorPage(ctx, 403, { message: 'This account is disabled at the gateway.' });
  }
  await svc.throttle.succeed(attempt);
  // The pre-sign-in session (or another user's) dies with its id (fixation), and so do its app cookies.
  const previous = ctx.session;
  const expired = expireAppCookies(ctx);
  const signedIn = await signInBrowser(ctx, {
    user, amr: ['pwd'], method: (device) => (device ? 'upstream_form+device' : 'upstream_form'),
    ...(known ? {} : { profile: { email: '', groups: [], display_name: user } }),
  });
  if (!signedIn.ok) return errorPage(ctx, 403);
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
