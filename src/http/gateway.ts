// The request pipeline (docs/architecture.md, "The pipeline"), in order: normalize → reserved routes →
// session → decide → log → allow (proxy) / challenge / deny. Every step that
// can fail for reasons outside the request (store, shared state, policy)
// fails closed with the 503 page.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolveClient } from '../web/client-address.ts';
import { isNavigation } from '../web/client-kind.ts';
import type { RequestContext, Services, Snapshot } from '../web/context.ts';
import { errorPage, redirect, sendJson } from '../web/respond.ts';
import { msg } from '../identity/translate.ts';
import { BodyError, readBody, readBodyPrefix } from '../web/form-body.ts';
import { discardRest } from '../web/discard-body.ts';
import { handleReserved } from './reserved-routes.ts';
import { upstreamTarget, urlTranslation, type Route } from '../policy/route-table.ts';
import { hostOnly, judge, needsBody, resolveTarget, RESERVED_PREFIX, type Resolved } from '../policy/decide.ts';
import { formKind, formOverrides, headerOverrides, isEncodedBody, isFormBody, joinOverrides } from '../policy/method-override.ts';
import { refererPage } from '../policy/return-target.ts';
import { buildUpstreamHeaders } from '../proxy/upstream-headers.ts';
import { forwardRequest, type ForwardHandle, type ForwardListener, type UpstreamFailure } from '../proxy/forward.ts';
import { answerAndClose, proxyUpgrade } from '../proxy/websocket.ts';
import { readCookie } from '../proxy/cookies.ts';
import { refreshedSessionCookie } from '../web/page-session.ts';
import type { Decision } from '../policy/types.ts';
import { currentUser, requestIdentityHeaders, requestSubject } from '../web/current-user.ts';
import { apiChallengeBody, challengeUrl } from '../web/challenge-links.ts';
import { restoreStash, stashAndRedirect, stashBodyFacts, stashFields, takeStash, usedStashTarget, type Stash } from './stash.ts';
import { splitResume } from '../policy/resume-marker.ts';
import { appLoginRedirect, endGatewaySession, isLogoutRequest, readAppForm, strayCredentials, upstreamFormLogin } from '../web/upstream-form-login.ts';
import { appCookieHeaders, expireAppCookies, rememberReleased } from '../web/app-cookies.ts';
import { SIGN_IN_RULE } from '../policy/compile.ts';
import { parseParams } from '../policy/param-match.ts';


/** GET, HEAD, OPTIONS and TRACE carry no body: one that does would be read by a lenient upstream as the next request (smuggling). */
export function bodyWhereNoneBelongs(req: IncomingMessage): boolean {
  const m = req.method;
  if (m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS' && m !== 'TRACE') return false;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * More than one Content-Type: the gateway reads a body by the first, and the
 * app (or a server in front of it) may read it by another, finding fields the
 * rules never saw. Node rejects two Content-Lengths itself.
 */
export function ambiguousContentType(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 12 || raw[i].toLowerCase() !== 'content-type') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

export function newRequestId(req: IncomingMessage, viaTrustedProxy: boolean): string {
  const incoming = req.headers['x-request-id'];
  if (viaTrustedProxy && typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming)) return incoming;
  return `${BOOT_ID}-${(++requestCounter).toString(36)}`;
}

// Request ids: a random per-process prefix and a counter: unique across instances, no crypto per request.
const BOOT_ID = randomBytes(6).toString('base64url');
let requestCounter = 0;

/** What a request's close (its log line, an exchange still running) needs, filled in as the request goes. */
interface Track { routeId: string | undefined; bytes: number; exchange: ForwardHandle | undefined }

/** What the upstream exchange of one request reports to (proxy/forward.ts): one object, no closures per request. */
class UpstreamListener implements ForwardListener {
  readonly #started = performance.now();
  readonly #ctx: RequestContext;
  readonly #route: Route;
  readonly #track: Track;
  readonly onHeaders: ForwardListener['onHeaders'];

  constructor(ctx: RequestContext, route: Route, track: Track, onHeaders: ForwardListener['onHeaders']) {
    this.#ctx = ctx;
    this.#route = route;
    this.#track = track;
    this.onHeaders = onHeaders;
  }

  discardRest(): void {
    discardRest(this.#ctx);
  }

  onDone(r: { status: number; bytes: number; failure?: UpstreamFailure; error?: Error }): void {
    this.#track.bytes = r.bytes;
    const { svc, requestId } = this.#ctx;
    const m = svc.metrics.forRoute(this.#route.id);
    m.upstreamSeconds((performance.now() - this.#started) / 1000);
    if (r.failure) {
      m.upstreamError(r.failure);
      svc.log.warn({ req_id: requestId, route: this.#route.id, failure: r.failure, err: r.error?.message }, 'upstream failure');
    }
  }

  onFailure(_res: unknown, failure: UpstreamFailure): void {
    errorPage(this.#ctx, failure === 'timeout' ? 504 : 502);
  }
}

export function createGateway(svc: Services, current: () => Snapshot) {
  function logLine(ctx: RequestContext, status: number, route: string | undefined, bytes: number): void {
    const ms = performance.now() - ctx.started;
    svc.metrics.forRoute(route ?? 'gatehouse').request(status);
    if (ctx.log.rule !== undefined && ctx.log.decision !== undefined) {
      svc.metrics.forRule(ctx.log.rule).decision(ctx.log.decision as 'allow' | 'challenge' | 'deny' | 'report');
    }
    svc.requestLog.write({
      req_id: ctx.requestId, ip: ctx.client.ip, method: ctx.req.method, path: ctx.path, route,
      user: ctx.log.user ?? ctx.session?.user, rule: ctx.log.rule, decision: ctx.log.decision, reason: ctx.log.reason,
      status, bytes, ms: Math.round(ms * 100) / 100,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const snap = current();
    const cfg = snap.config;
    const client = resolveClient(req.socket.remoteAddress ?? '', req.headers, snap.trusted, snap.ownProto);
    const ctx: RequestContext = {
      req, res, snap, svc, client,
      requestId: newRequestId(req, client.viaTrustedProxy),
      path: '', query: '', session: null, cookie: undefined,
      started: performance.now(), log: {},
    };
    const track: Track = { routeId: undefined, bytes: 0, exchange: undefined };
    // One listener per request (`on`, not `once`: a response closes once, and `once` costs a wrapper).
    res.on('close', () => {
      // Whatever answered (the app, a page, Node itself), a body left unread is discarded within bounds.
      if (res.writableFinished) discardRest(ctx);
      logLine(ctx, res.statusCode, track.routeId, track.bytes);
      track.exchange?.clientClosed();
    });

    if (req.rawHeaders.length > cfg.server.max_header_count * 2) return errorPage(ctx, 431);
    const twoTypes = ambiguousContentType(req.rawHeaders);
    if (twoTypes || bodyWhereNoneBelongs(req)) {
      ctx.path = (req.url ?? '').slice(0, 200);
      ctx.log = { decision: 'deny', reason: twoTypes ? 'bad request: two Content-Types' : `bad request: ${req.method} with a body` };
      res.shouldKeepAlive = false;
      return errorPage(ctx, 400);
    }
    // The host the app is sent (preserve_host: the client's, from X-Forwarded-Host behind a trusted proxy) is the one decided on.
    const host = hostOnly(client.host);
    const target = resolveTarget(snap, { target: req.url ?? '', host, via: 'proxy' });
    ctx.path = target.path;
    if (target.kind === 'refused') {
      track.routeId = target.route?.id;
      if (target.status === 404) return errorPage(ctx, 404);
      ctx.log = { decision: 'deny', reason: target.reason };
      return errorPage(ctx, target.status);
    }
    ctx.query = target.query;

    try {
      ctx.cookie = readCookie(req.headers.cookie, svc.sessions.cookieName);
      const found = svc.sessions.lookup(ctx.cookie);
      // A warm session is answered without a promise (no await on the hot path).
      ctx.session = found instanceof Promise ? await found : found;
      if (ctx.session?.user !== undefined && !currentUser(ctx)) ctx.session = null;
    } catch (err) {
      svc.log.error({ err, req_id: ctx.requestId }, 'session check failed: failing closed');
      ctx.log = { decision: 'deny', reason: 'session backend unavailable' };
      // Forward-auth answers only 200/401/302/403: nginx turns a 503 into a 500.
      if (target.path === `${RESERVED_PREFIX}/authz`) return errorPage(ctx, 403, { message: msg('error.unavailable_short') });
      return errorPage(ctx, 503);
    }

    if (target.kind === 'reserved') {
      track.routeId = 'gatehouse';
      try {
        return await handleReserved(ctx);
      } catch (err) {
        // A page whose backend failed: fail closed with the 503 page, never a half-done answer.
        svc.log.error({ err, req_id: ctx.requestId, path: ctx.path }, 'gateway page failed: failing closed');
        if (!res.headersSent) return errorPage(ctx, 503);
        res.destroy();
        return;
      }
    }

    const route = target.route!;
    track.routeId = route.id;
    const norm = target;
    const resume = splitResume(norm.query);
    let stash: Stash | null = null;
    if (resume.id !== undefined) {
      ctx.query = resume.query;
      try {
        // Honoured only on the exact target (path and query) the stash was made for.
        stash = await takeStash(ctx, resume.id, route.index, norm.forwardPath + resume.query);
      } catch (err) {
        svc.log.error({ err, req_id: ctx.requestId }, 'stash backend unavailable: failing closed');
        return errorPage(ctx, 503);
      }
      // Gone, used, not this user's or not this target: nothing is replayed; a reload lands on the form's page.
      if (!stash) {
        const back = await usedStashTarget(ctx, resume.id).catch(() => null);
        return redirect(ctx, back ?? norm.forwardPath + ctx.query);
      }
    }

    try {
      // upstream_form: a small form posted to the app's login/logout path is read first, so login_match can see its fields.
      const reading = stash ? undefined : readAppForm(ctx, route);
      if (reading !== undefined) await reading;
    } catch (err) {
      return errorPage(ctx, err instanceof BodyError ? (err.status === 408 ? 400 : err.status) : 400);
    }
    if (!stash && !ctx.form && req.method === 'POST' && route.method_override !== 'pass') {
      // The app may read `_method` from the form (Rails, Laravel, Symfony): read it before deciding.
      const kind = formKind(req.headers['content-type']);
      if (kind === 'ambiguous') {
        ctx.log = { decision: 'deny', reason: 'a Content-Type apps read differently, on a route that judges _method' };
        res.shouldKeepAlive = false;
        return errorPage(ctx, 400);
      }
      if ((kind === 'form' || (kind === 'untyped' && hasRequestBody(req))) && !(await readFormFirst(ctx))) return;
    }
    if (!stash && !ctx.form && hasRequestBody(req) && needsBody(snap, target, { host, method: req.method ?? 'GET', ip: ctx.client.ip, overrides: headerOverrides(req.headers) })) {
      // A rule reads this request's form fields (match.params): read the body first, then forward exactly these bytes.
      if (!(await readInspectedBody(ctx))) return;
    }

    let decision: Decision;
    try {
      const j = decideFor(ctx, stash ? { ...target, query: resume.query } : target, host, stash);
      if (j.kind === 'refused') {
        ctx.log = { decision: 'deny', reason: j.reason };
        return errorPage(ctx, j.status);
      }
      decision = j.decision;
    } catch (err) {
      svc.log.error({ err, req_id: ctx.requestId }, 'policy evaluation failed: failing closed');
      ctx.log = { decision: 'deny', reason: 'policy error' };
      return errorPage(ctx, 503);
    }
    ctx.log.rule = decision.rule;
    ctx.log.reason = decision.reason;
    ctx.log.decision = decision.action;
    // identity.source upstream_form: the sign-in (the POST the implicit login rule allowed) is judged by the gateway (web/upstream-form-login.ts).
    if (decision.rule === SIGN_IN_RULE && decision.action === 'allow' && ctx.req.method === 'POST' && !stash) return upstreamFormLogin(ctx, route, norm.forwardPath + ctx.query);
    if (decision.action !== 'deny' && strayCredentials(ctx, route)) {
      ctx.log = { ...ctx.log, decision: 'deny', reason: 'upstream_form: a username outside the sign-in' };
      return errorPage(ctx, 400, { message: msg('error.use_app_form') });
    }

    switch (decision.action) {
      case 'deny':
        return errorPage(ctx, 403, { rule: decision.rule });
      case 'challenge':
        try {
          if (stash) {
            // Still not enough (e.g. the challenge took too long): keep the request for the next round.
            const id = await restoreStash(ctx, stash);
            if (id === null) return redirect(ctx, `${challengeUrl(decision, stash.p)}&resubmit=1`);
            return redirect(ctx, challengeUrl(decision, stash.p, id));
          }
          return await challenge(ctx, decision, route, norm.forwardPath);
        } catch (err) {
          if (err instanceof BodyError) return errorPage(ctx, err.status);
          svc.log.error({ err, req_id: ctx.requestId }, 'stash backend unavailable: failing closed');
          ctx.log.reason = 'stash backend unavailable';
          return errorPage(ctx, 503);
        }
      case 'report':
        svc.wouldChallenge.record(decision.rule);
        // falls through: report-only rules let the request pass
      case 'allow':
        if (stash) {
          svc.log.info({ req_id: ctx.requestId, user: stash.u, method: stash.m }, 'replaying stashed request');
          const refreshed = await refreshedSessionCookie(ctx);
          return proxy(ctx, route, stash.p, track, stash, refreshed ? { 'set-cookie': refreshed } : undefined);
        }
        {
          // upstream_form: the app's logout_path ends the gateway session too (the app still gets its cookie to end its own).
          // Otherwise an active session slides its idle deadline (re-sealed about once a minute, not per request).
          const refreshing = isLogoutRequest(ctx, route) ? endGatewaySession(ctx) : refreshedSessionCookie(ctx);
          const cookie = refreshing === undefined ? undefined : await refreshing;
          return proxy(ctx, route, norm.forwardPath + ctx.query, track, undefined, cookie && cookie.length > 0 ? { 'set-cookie': cookie } : undefined);
        }
    }
  }

  /** The one decision (policy/decide.ts) for this request, or for the stashed request it replays. */
  function decideFor(ctx: RequestContext, target: Resolved, host: string, stash: Stash | null) {
    const j = judge(ctx.snap, target, stash
      // A replay is decided as the stashed request: its method, path, query and form.
      ? { host, method: stash.m, overrides: stash.o ?? [], ip: ctx.client.ip, form: stashFields(stash), body: stashBodyFacts(stash) }
      : {
          host,
          method: ctx.req.method ?? 'GET',
          overrides: ctx.form ? joinOverrides(headerOverrides(ctx.req.headers), formOverrides(ctx.req.headers['content-type'], ctx.form.body)) : headerOverrides(ctx.req.headers),
          ip: ctx.client.ip,
          form: ctx.form?.fields,
          body: ctx.form ? { contentType: String(ctx.req.headers['content-type'] ?? ''), bytes: ctx.form.body } : ctx.bodyUnread !== undefined ? 'unread' : undefined,
        }, requestSubject(ctx), svc.now());
    if (j.kind === 'decided' && j.decision.action === 'allow' && j.decision.breakglass) {
      svc.log.warn({ req_id: ctx.requestId, user: ctx.session?.user, path: ctx.path, rule: j.decision.rule }, 'break-glass request: challenge bypassed');
    }
    return j;
  }

  async function challenge(ctx: RequestContext, d: Extract<Decision, { action: 'challenge' }>, route: Route, forwardPath: string): Promise<void> {
    const target = ctx.req.method === 'GET' || ctx.req.method === 'HEAD' ? originalTarget(ctx) : refererTarget(ctx);
    const url = appLoginRedirect(ctx, d) ?? challengeUrl(d, target);
    if (!isNavigation(ctx.req.headers)) {
      return sendJson(ctx, 401, apiChallengeBody(d, ctx.snap.publicOrigin + url), { 'www-authenticate': 'Gatehouse realm="gatehouse"' });
    }
    if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD' && ctx.session?.user) {
      return stashAndRedirect(ctx, d, route, forwardPath);
    }
    return redirect(ctx, url);
  }

  /**
   * Proxies the request (or a replayed stash) to the route's upstream. `target` is path + query.
   * No promise unless the headers need shared state (upstream_form's app cookies): the usual
   * allowed request goes out without a microtask.
   */
  function proxy(ctx: RequestContext, route: Route, target: string, track: Track, stash?: Stash, extraHeaders?: Record<string, string | string[]>): void | Promise<void> {
    const { req, snap } = ctx;
    const stashBody = stash ? Buffer.from(stash.b, 'base64') : ctx.form?.body;
    let built: string[] | Promise<string[]>;
    try {
      built = appCookieHeaders(ctx, buildUpstreamHeaders({
        rawHeaders: stash ? replayHeaders(req.rawHeaders, stash, stashBody!.length) : req.rawHeaders,
        isOwned: snap.isOwned,
        sessionCookieName: svc.sessions.cookieName,
        upstreamHost: route.upstreamHost,
        transportHost: route.upstreamHost,
        preserveHost: route.preserve_host,
        strip: route.stripHeaders,
        forwardedFor: ctx.client.forwardedFor,
        forwardedProto: ctx.client.proto,
        forwardedHost: ctx.client.host,
        requestId: ctx.requestId,
        identity: requestIdentityHeaders(ctx, route),
      }), route);
    } catch (err) {
      return headersFailed(ctx, err);
    }
    if (built instanceof Promise) return built.then((headers) => send(ctx, route, target, track, headers, stashBody, stash, extraHeaders), (err: unknown) => headersFailed(ctx, err));
    send(ctx, route, target, track, built, stashBody, stash, extraHeaders);
  }

  function headersFailed(ctx: RequestContext, err: unknown): void {
    svc.log.error({ err, req_id: ctx.requestId }, 'app cookie check failed: failing closed');
    ctx.log.reason = 'shared state unavailable';
    errorPage(ctx, 503);
  }

  /** Sends the request with its upstream headers built. */
  function send(ctx: RequestContext, route: Route, target: string, track: Track, headers: string[], stashBody: Buffer | undefined, stash?: Stash, extraHeaders?: Record<string, string | string[]>): void {
    const { req, res, snap } = ctx;
    const hasBody = !stashBody && hasRequestBody(req);
    if (hasBody && !admitBody(ctx)) return;
    const exchange = forwardRequest(res, {
      pool: svc.pools.get(route.upstreamOrigin),
      method: stash?.m ?? req.method ?? 'GET',
      path: upstreamTarget(route, target),
      headers,
      body: stashBody ?? (hasBody ? req : null),
      bodyPrefix: hasBody ? ctx.bodyUnread?.prefix : undefined,
      headersTimeout: route.timeout,
      upstreamOrigin: route.upstreamOrigin,
      publicOrigin: snap.publicOrigin,
      sessionCookieName: svc.sessions.cookieName,
      translate: urlTranslation(route),
      extraHeaders,
      privateAnswer: ctx.session?.user !== undefined,
      listener: new UpstreamListener(ctx, route, track, snap.config.identity.source === 'upstream_form' ? (out) => appCookiesFollowSession(ctx, out) : undefined),
    });
    track.exchange = exchange;
    if (hasBody) watchBody(ctx, exchange);
  }

  /**
   * Reads a form body into ctx.form, bounded by policy.stash_max_body (what the gateway
   * holds of a body); false when it answered instead (too large, too slow, broken).
   */
  async function readFormFirst(ctx: RequestContext): Promise<boolean> {
    const cfg = ctx.snap.config;
    if (!admitBody(ctx)) return false;
    if (isEncodedBody(ctx.req.headers['content-encoding'])) {
      // Its `_method` cannot be read here, and the app may decode it and find one: refused, not guessed.
      ctx.res.shouldKeepAlive = false;
      ctx.log = { decision: 'deny', reason: 'encoded form on a route that judges _method' };
      errorPage(ctx, 400, { message: msg('error.compressed_form', { settings: 'routes[].method_override' }) });
      return false;
    }
    return readFormInto(ctx, cfg.policy.stash_max_body, { reason: 'form too large to check for _method (policy.stash_max_body)', settings: 'routes[].method_override, policy.stash_max_body' });
  }

  /** Reads a form body of at most `limit` bytes into ctx.form; false when it answered instead (too large: 413 naming `settings`; broken or slow: 400). */
  async function readFormInto(ctx: RequestContext, limit: number, tooLarge: { reason: string; settings: string }): Promise<boolean> {
    try {
      const body = await readBody(ctx.req, limit, ctx.snap.config.server.body_timeout || 10_000);
      ctx.form = formOf(ctx, body);
      return true;
    } catch (err) {
      return refuseBody(ctx, err, tooLarge);
    }
  }

  /** Answers a body that could not be read before deciding (413 naming `settings`; broken or slow: 400); false. */
  function refuseBody(ctx: RequestContext, err: unknown, tooLarge?: { reason: string; settings: string }): false {
    const status = err instanceof BodyError ? err.status : 400;
    ctx.res.shouldKeepAlive = false;
    if (status === 413 && tooLarge) {
      ctx.log = { decision: 'deny', reason: tooLarge.reason };
      errorPage(ctx, 413, { message: msg('error.form_too_large', { settings: tooLarge.settings }) });
    } else {
      ctx.log = { decision: 'deny', reason: 'form body unreadable' };
      errorPage(ctx, 400);
    }
    return false;
  }

  /**
   * Reads the body of a request that a `params` rule judges, up to
   * policy.inspect_body_max, into ctx.form (forwarded from there). A body of
   * another content type, or larger than the limit (declared or found so while
   * reading), is decided as unread (the most demanding of those rules
   * applies): what was read of it is kept in ctx.bodyUnread and goes out first,
   * the rest streams on (or is kept with it for a step-up). False when it
   * answered (a broken or stalled body).
   */
  async function readInspectedBody(ctx: RequestContext): Promise<boolean> {
    const { req, res, snap } = ctx;
    if (!admitBody(ctx)) return false;
    // Another type, or an encoded form (its bytes are not the fields the app will read): decided unread.
    if (!isFormBody(req.headers['content-type']) || isEncodedBody(req.headers['content-encoding'])) {
      ctx.bodyUnread = { prefix: Buffer.alloc(0) };
      return true;
    }
    try {
      const got = await readBodyPrefix(req, snap.config.policy.inspect_body_max, snap.config.server.body_timeout || 10_000);
      if (got.complete) {
        ctx.form = formOf(ctx, got.bytes);
        return true;
      }
      // Answered without forwarding (deny, challenge): the answer discards the rest (web/discard-body.ts).
      ctx.bodyUnread = { prefix: got.bytes };
      return true;
    } catch (err) {
      return refuseBody(ctx, err);
    }
  }

  /**
   * upstream_form: app cookies the app sets for a signed-in session are
   * remembered as released to it; a request still carrying a gateway cookie
   * whose session has ended (revoked, expired) also gets the browser's app
   * cookies expired, ahead of whatever the app sets now.
   */
  function appCookiesFollowSession(ctx: RequestContext, out: Record<string, string | string[] | undefined>): void {
    const set = out['set-cookie'];
    const list = set === undefined ? [] : Array.isArray(set) ? set : [set];
    if (ctx.session?.user) {
      if (list.length > 0) rememberReleased(ctx, ctx.session, list).catch(() => {});
      return;
    }
    if (ctx.cookie === undefined || ctx.session !== null) return;
    const expired = expireAppCookies(ctx);
    if (expired.length > 0) out['set-cookie'] = [svc.sessions.clearCookie(), ...expired, ...list];
  }

  /** A body read before deciding; its urlencoded fields for the rules that read `form` (the sign-in). */
  function formOf(ctx: RequestContext, body: Buffer): NonNullable<RequestContext['form']> {
    const urlencoded = isFormBody(ctx.req.headers['content-type']) && !String(ctx.req.headers['content-type']).toLowerCase().includes('multipart');
    return { body, fields: urlencoded ? parseParams(body.toString('utf8')) : [] };
  }

  function hasRequestBody(req: IncomingMessage): boolean {
    return req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  }

  /** A body declared over max_body_bytes gets 413 at once and is never forwarded; the rest is discarded. */
  function admitBody(ctx: RequestContext): boolean {
    const max = ctx.snap.config.server.max_body_bytes;
    const declared = Number(ctx.req.headers['content-length'] ?? NaN);
    if (max > 0 && declared > max) {
      ctx.res.shouldKeepAlive = false;
      errorPage(ctx, 413);
      return false;
    }
    return true;
  }

  /**
   * While the body streams: a stall longer than body_timeout cuts the connection, and a
   * chunked body that grows past max_body_bytes gets 413 and the upstream exchange is aborted.
   */
  function watchBody(ctx: RequestContext, exchange: ForwardHandle): void {
    const { req, res, snap } = ctx;
    // Captured: req.socket may be gone by the time the timer fires.
    const socket = req.socket;
    const stall = snap.config.server.body_timeout;
    if (stall > 0) {
      // One listener per request, removed when the body is done: keep-alive sockets carry many requests.
      const cut = () => socket.destroy();
      const clear = () => {
        socket.setTimeout(0);
        socket.off('timeout', cut);
      };
      socket.setTimeout(stall);
      socket.on('timeout', cut);
      req.once('end', clear);
      req.once('close', clear);
    }
    const max = snap.config.server.max_body_bytes;
    if (max > 0 && req.headers['content-length'] === undefined) {
      let seen = ctx.bodyUnread?.prefix.length ?? 0;
      const count = (chunk: Buffer) => {
        seen += chunk.length;
        if (seen <= max) return;
        req.off('data', count);
        res.shouldKeepAlive = false;
        errorPage(ctx, 413); // does nothing if the upstream has answered already
        exchange.abort(new Error('body too large'));
      };
      req.on('data', count);
    }
  }

  /** A replayed request: the stash's headers and body, with this request's cookies. */
  function replayHeaders(raw: readonly string[], stash: Stash, length: number): string[] {
    const out = [...stash.h, 'content-length', String(length)];
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'cookie') out.push(raw[i], raw[i + 1]);
    return out;
  }

  function originalTarget(ctx: RequestContext): string {
    return (ctx.req.url?.startsWith('/') ? ctx.req.url : ctx.path + ctx.query) || '/';
  }

  /** After a challenge on a non-GET without a session, return to the page the form was on. */
  function refererTarget(ctx: RequestContext): string {
    return refererPage(ctx.req.headers.referer, ctx.snap.publicOrigin) ?? '/';
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const snap = current();
    // A refused handshake is answered and its connection closed within these bounds (proxy/websocket.ts).
    const linger = { maxBytes: snap.config.server.max_body_bytes, timeoutMs: snap.config.server.body_timeout };
    const reject = (status: number, text: string) => {
      answerAndClose(socket, `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, linger);
    };
    void (async () => {
      const client = resolveClient(req.socket.remoteAddress ?? '', req.headers, snap.trusted, snap.ownProto);
      const host = hostOnly(client.host);
      const target = resolveTarget(snap, { target: req.url ?? '', host, via: 'proxy' });
      // RFC 6455 §4.1: the handshake is a GET, and the app is sent a GET: any other method is refused, never decided as itself.
      if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || bodyWhereNoneBelongs(req)) return reject(400, 'Bad Request');
      if (target.kind === 'reserved') return reject(404, 'Not Found');
      if (target.kind === 'refused') return target.status === 404 || !target.route?.websocket ? reject(404, 'Not Found') : reject(400, 'Bad Request');
      const route = target.route!;
      if (!route.websocket) return reject(404, 'Not Found');
      const ctx: RequestContext = {
        req, res: undefined as never, snap, svc, client, requestId: newRequestId(req, client.viaTrustedProxy),
        path: target.path, query: target.query, session: null, cookie: undefined, started: performance.now(), log: {},
      };
      try {
        ctx.cookie = readCookie(req.headers.cookie, svc.sessions.cookieName);
        ctx.session = await svc.sessions.read(ctx.cookie);
        if (ctx.session?.user !== undefined && !currentUser(ctx)) ctx.session = null;
      } catch {
        return reject(503, 'Service Unavailable');
      }
      let d: Decision;
      try {
        const j = decideFor(ctx, target, host, null);
        if (j.kind === 'refused') return reject(400, 'Bad Request');
        d = j.decision;
      } catch {
        return reject(503, 'Service Unavailable');
      }
      svc.requestLog.write({ req_id: ctx.requestId, ip: client.ip, method: 'GET', path: ctx.path, route: route.id, user: ctx.session?.user, rule: d.rule, decision: d.action, reason: d.reason, status: 101, bytes: 0, ms: 0, upgrade: 'websocket' });
      if (d.action === 'deny') return reject(403, 'Forbidden');
      if (d.action === 'challenge') return reject(401, 'Unauthorized');
      const headers = await appCookieHeaders(ctx, buildUpstreamHeaders({
        rawHeaders: req.rawHeaders, isOwned: snap.isOwned, sessionCookieName: svc.sessions.cookieName,
        upstreamHost: route.upstreamHost, preserveHost: route.preserve_host, strip: route.stripHeaders,
        forwardedFor: client.forwardedFor,
        forwardedProto: client.proto, forwardedHost: client.host, requestId: ctx.requestId,
        identity: requestIdentityHeaders(ctx, route), upgrade: true,
      }), route);
      proxyUpgrade(socket, head, {
        origin: route.upstreamOrigin,
        path: upstreamTarget(route, target.forwardPath + target.query),
        headers,
        timeout: route.timeout,
        publicOrigin: snap.publicOrigin,
        sessionCookieName: svc.sessions.cookieName,
        onError: (err) => svc.log.warn({ req_id: ctx.requestId, err: err.message }, 'websocket upstream failure'),
        linger,
      });
    })().catch((err) => {
      svc.log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): void {
      handle(req, res).catch((err) => {
        svc.log.error({ err }, 'unhandled request error');
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error');
        } else {
          res.destroy();
        }
      });
    },
    handleUpgrade,
  };
}
