// /.gatehouse/authz: forward-auth for a proxy that keeps the app
// behind itself and only asks the gateway "may this request through?":
// nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`.
//
// What the proxy tells us (believed ONLY when the socket peer is inside
// server.trusted_proxies; from anyone else the answer is 403, whatever it sent):
//   nginx (auth_request):   X-Original-URI, X-Original-Method
//   Traefik / Caddy:        X-Forwarded-Uri, X-Forwarded-Method (+ -Proto, -Host)
// Both URI headers at once is ambiguous (a client slipped one past its proxy):
// 403. The forwarded request is decided by the same function as a proxied one
// (policy/decide.ts, `via: forward-auth`); any target it refuses is 403, a dot
// segment included (the app gets the proxy's version of the target, not
// gatehouse's canonical one), and a target no route describes is still judged.
//
// How a challenge is answered (nginx cannot follow a 302 from auth_request and
// turns any status but 2xx/401/403 into a 500; Traefik and Caddy hand the
// answer to the client as it is):
//   - X-Original-URI present (nginx): 401, `Location` = absolute challenge URL,
//     the same URL in the JSON body; for browser navigations also
//     `X-Gatehouse-Redirect` = that URL, so the nginx snippet can
//     `error_page 401 = @gatehouse_challenge` and 302 browsers there while API
//     clients get a 401 JSON (examples/nginx/gatehouse.conf).
//   - X-Forwarded-Uri (Traefik, Caddy): 302 to the challenge URL for browser
//     navigations, 401 JSON `{error, challenge_url}` for API clients.
//   - `?mode=401` / `?mode=302` on the authz URL (set in the proxy's config,
//     not by clients) forces the nginx style / the redirect style.
// The challenge URL is absolute on server.public_url, with `rd` = the forwarded
// path (GET/HEAD) or, for other methods, the same-origin Referer (the page the
// form was on), else '/'. Nothing is stashed: the gateway never sees the body.
//
// Allowed: 200 with the identity headers under their configured names (for
// auth_request_set / authResponseHeaders / copy_headers), present but empty
// for anonymous requests that the policy lets through. The proxy must overwrite
// those headers on the way to the app, so a client's own copy never gets
// through (the snippets in examples/ do). It overwrites the names as written;
// the app may read another spelling as the same header (`X_Gatehouse_User`,
// `X.Gatehouse.User` under CGI or PHP), and `X-Original-URL` routes some apps:
// a request carrying a header the gateway owns under any name but the
// configured identity names is refused (403), since the gateway cannot strip
// it as it does when it proxies.
//
// Fail closed: a policy, signing or other backend error answers 403 — never
// 200, and not 503, which nginx would turn into a 500.
// A 403 is worded like the gateway's pages, in the request's language (the
// proxies pass the client's Accept-Language on); JSON errors stay English. (The session is read
// by the pipeline before this handler runs: on AUTHZ_PATH its backend error
// must be a 403 too; test/scale/fail-closed.test.ts checks it.)

import type { IncomingHttpHeaders } from 'node:http';
import { canonicalHeaderName } from '../policy/app-field-names.ts';
import type { RequestContext, Snapshot } from '../web/context.ts';
import { RESERVED_PREFIX } from '../policy/decide.ts';
import { isNavigation } from '../web/client-kind.ts';
import { errorPage, redirect, sendJson } from '../web/respond.ts';
import { decide, hostOnly } from '../policy/decide.ts';
import { headerOverrides } from '../policy/method-override.ts';
import { refererPage } from '../policy/return-target.ts';
import type { HeaderNames } from '../config/types.ts';
import type { Decision } from '../policy/types.ts';
import type { Route } from '../policy/route-table.ts';
import { requestIdentityHeaders, requestSubject } from '../web/current-user.ts';
import { apiChallengeBody, challengeUrl } from '../web/challenge-links.ts';
import { msg, type Msg } from '../identity/translate.ts';

export const AUTHZ_PATH = `${RESERVED_PREFIX}/authz`;

/** How a challenge is answered: nginx style (always 401) or redirect style (302 for navigations). */
export type AnswerStyle = 'status401' | 'redirect';

export type ForwardedRequest =
  | { ok: true; style: AnswerStyle; uri: string; method: string }
  | { ok: false; reason: string };

const METHOD = /^[A-Z][A-Z0-9-]{0,31}$/;

function one(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) return v.length === 1 ? v[0] : undefined;
  return v;
}

/**
 * Pure: what the proxy asks about, and in which style to answer, from the
 * authz request's headers and query ('' or '?mode=…'). The caller has already
 * checked that the peer is a trusted proxy.
 */
export function readForwardedRequest(h: IncomingHttpHeaders, query: string): ForwardedRequest {
  const original = h['x-original-uri'];
  const forwarded = h['x-forwarded-uri'];
  if (original !== undefined && forwarded !== undefined) return { ok: false, reason: 'both X-Original-URI and X-Forwarded-Uri sent' };
  const nginx = original !== undefined;
  const uri = one(nginx ? original : forwarded);
  const rawMethod = one(nginx ? h['x-original-method'] : h['x-forwarded-method']);
  if (uri === undefined) return { ok: false, reason: 'no (single) X-Original-URI or X-Forwarded-Uri' };
  if (!uri.startsWith('/')) return { ok: false, reason: 'forwarded URI is not origin-form' };
  if (rawMethod === undefined) return { ok: false, reason: `no (single) ${nginx ? 'X-Original-Method' : 'X-Forwarded-Method'}` };
  const method = rawMethod.trim().toUpperCase();
  if (!METHOD.test(method)) return { ok: false, reason: 'bad forwarded method' };
  const mode = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query).get('mode');
  if (mode !== null && mode !== '401' && mode !== '302') return { ok: false, reason: 'mode must be 401 or 302' };
  const style: AnswerStyle = mode === '401' ? 'status401' : mode === '302' ? 'redirect' : nginx ? 'status401' : 'redirect';
  return { ok: true, style, uri, method };
}

/**
 * Pure: the first header name among `raw` that is, in canonical form, one the
 * gateway owns, other than the identity names as configured (any case), which
 * the proxy overwrites.
 */
export function ownedHeaderIn(raw: readonly string[], isOwned: (canonical: string) => boolean, names: HeaderNames): string | undefined {
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k];
    if (!isOwned(canonicalHeaderName(name))) continue;
    const lower = name.toLowerCase();
    if (!Object.values(names).some((n) => n.toLowerCase() === lower)) return name;
  }
  return undefined;
}

/** Pure: where to come back to after the challenge. */
export function returnTargetFor(method: string, forwardedTarget: string, referer: string | undefined, publicOrigin: string): string {
  if (method === 'GET' || method === 'HEAD') return forwardedTarget;
  return refererPage(referer, publicOrigin) ?? '/';
}

function deny(ctx: RequestContext, reason: string, message?: Msg, rule?: string): void {
  ctx.log.decision = 'deny';
  ctx.log.reason = `forward-auth: ${reason}`;
  if (rule !== undefined) ctx.log.rule = rule;
  errorPage(ctx, 403, { message, rule });
}

export async function authzHandler(ctx: RequestContext): Promise<void> {
  try {
    await authorize(ctx);
  } catch (err) {
    ctx.svc.log.error({ err, req_id: ctx.requestId }, 'forward-auth failed: failing closed');
    ctx.log.rule = undefined;
    deny(ctx, 'backend error', msg('error.unavailable_short'));
  }
}

async function authorize(ctx: RequestContext): Promise<void> {
  const { snap, req } = ctx;
  if (!ctx.client.viaTrustedProxy) {
    return deny(ctx, `peer ${ctx.client.ip} is not in server.trusted_proxies: forwarded headers ignored`);
  }
  const fwd = readForwardedRequest(req.headers, ctx.query);
  if (!fwd.ok) return deny(ctx, fwd.reason);
  const owned = ownedHeaderIn(req.rawHeaders, snap.isOwned, snap.config.headers.names);
  if (owned !== undefined) return deny(ctx, `the request carries ${owned}, a header the gateway owns: the app could read it as the gateway's`);
  const host = hostOnly(ctx.client.host);
  // The one decision (policy/decide.ts), for the request the proxy describes.
  // The proxy never sends the body: rules that read form fields decide it as unread (the most demanding applies).
  const verdict = decide(snap, {
    target: fwd.uri, host, via: 'forward-auth', method: fwd.method, overrides: headerOverrides(req.headers), ip: ctx.client.ip,
    body: fwd.method === 'GET' || fwd.method === 'HEAD' ? undefined : 'unread',
  }, requestSubject(ctx), ctx.svc.now());
  ctx.path = verdict.kind === 'decided' ? verdict.target.path : verdict.path;
  if (verdict.kind === 'refused') return deny(ctx, verdict.reason);
  // The gateway's own pages (sign-in, challenge) check for themselves; a proxy that
  // asks about them must let them through or the user could never sign in.
  if (verdict.kind === 'reserved') {
    ctx.log.decision = 'allow';
    ctx.log.reason = 'forward-auth: gatehouse page';
    return allowAnswer(ctx, []);
  }
  const { decision, route, target } = verdict;
  if (decision.action === 'allow' && decision.breakglass) {
    ctx.svc.log.warn({ req_id: ctx.requestId, user: ctx.session?.user, path: ctx.path, rule: decision.rule }, 'break-glass request: challenge bypassed');
  }
  ctx.log.rule = decision.rule;
  ctx.log.decision = decision.action;
  ctx.log.reason = `forward-auth ${fwd.method}: ${decision.reason}`;
  switch (decision.action) {
    case 'deny':
      return deny(ctx, decision.reason, undefined, decision.rule);
    case 'challenge':
      return challengeAnswer(ctx, decision, fwd.style, returnTargetFor(fwd.method, target.forwardPath + target.query, one(req.headers.referer), snap.publicOrigin));
    case 'report':
      ctx.svc.wouldChallenge.record(decision.rule);
      return allowAnswer(ctx, identityFor(ctx, route));
    case 'allow':
      return allowAnswer(ctx, identityFor(ctx, route));
  }
}

/**
 * The assertion's audience: the configured route's upstream when one matches,
 * else the public origin the app is reached at (with the assertion as headers.jwt says).
 */
function identityFor(ctx: RequestContext, route: Route | null): readonly string[] {
  return requestIdentityHeaders(ctx, route ?? { upstreamOrigin: ctx.snap.publicOrigin, assertion: ctx.snap.config.headers.jwt });
}

/**
 * Pure: the 200 answer's headers. Every configured identity name is present,
 * empty when there is no identity: Caddy 2.6's copy_headers would otherwise set
 * the literal text of its placeholder ("{http.reverse_proxy.header.…}") on the
 * request to the app, and nginx and Traefik treat an empty value as absent.
 */
export function allowHeaders(names: HeaderNames, identity: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  for (const name of Object.values(names)) headers[name.toLowerCase()] = '';
  for (let i = 0; i < identity.length; i += 2) headers[identity[i].toLowerCase()] = identity[i + 1];
  return headers;
}

function allowAnswer(ctx: RequestContext, identity: readonly string[]): void {
  if (ctx.session?.user) ctx.log.user = ctx.session.user;
  if (ctx.res.headersSent || ctx.res.destroyed) return;
  ctx.res.writeHead(200, { ...allowHeaders(ctx.snap.config.headers.names, identity), 'content-length': '0' });
  ctx.res.end();
}

function challengeAnswer(ctx: RequestContext, d: Extract<Decision, { action: 'challenge' }>, style: AnswerStyle, returnTo: string): void {
  const url = ctx.snap.publicOrigin + challengeUrl(d, returnTo);
  const navigation = isNavigation(ctx.req.headers);
  if (style === 'redirect' && navigation) return redirect(ctx, url);
  const extra: Record<string, string> = { 'www-authenticate': 'Gatehouse realm="gatehouse"' };
  if (style === 'status401') {
    extra.location = url;
    if (navigation) extra['x-gatehouse-redirect'] = url;
  }
  sendJson(ctx, 401, apiChallengeBody(d, url), extra);
}
