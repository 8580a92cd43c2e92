// Requests preserved across a challenge (README "Request handling"): a non-GET browser request
// that triggers a challenge is kept (session/stash-store.ts: sealed, bound to
// the sign-in, 10 minutes, single use, capped) and, once the challenge is
// passed, the browser comes back to the request's own target with a resume
// marker (policy/resume-marker.ts); the gateway takes the stash and replays it,
// decided for the stash's own method, path and parameters.
//
// Only same-origin requests are kept (Sec-Fetch-Site same-origin or none, or
// an Origin equal to the public origin): a form posted from another port or
// subdomain is same-site, so the session cookie comes along, but it is
// challenged without being kept, so nothing forged is ever replayed.

import type { RequestContext } from '../web/context.ts';
import { readBody, BodyError } from '../web/form-body.ts';
import { redirect } from '../web/respond.ts';
import { stashOwner } from '../web/pending-request.ts';
import type { Route } from '../policy/route-table.ts';
import type { Decision } from '../policy/types.ts';
import { formOverrides, isEncodedBody } from '../policy/method-override.ts';
import { markerHonoured } from '../policy/resume-marker.ts';
import { parseParams, type ParamList } from '../policy/param-match.ts';
import type { RequestBody } from '../policy/form-fields.ts';
import { STASH_TTL_MS, type Stash } from '../session/stash-store.ts';
import { challengeUrl } from '../web/challenge-links.ts';
import { refererPage, safeReturnTarget } from '../policy/return-target.ts';

export type { Stash };

// Headers worth replaying: what describes the body and the client's preferences.
const KEPT = new Set(['content-type', 'content-encoding', 'accept', 'accept-language', 'user-agent', 'origin', 'referer', 'x-requested-with']);

type Challenge = Extract<Decision, { action: 'challenge' }>;

/** Pure: whether the browser says the request comes from the gateway's own origin. */
export function sameOrigin(headers: { 'sec-fetch-site'?: string | string[]; origin?: string | string[] }, publicOrigin: string): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = headers.origin;
  return typeof origin === 'string' && origin === publicOrigin;
}

/** Keeps the request (when allowed) and sends the browser to the challenge. */
export async function stashAndRedirect(ctx: RequestContext, d: Challenge, route: Route, forwardPath: string): Promise<void> {
  const { svc, snap, req } = ctx;
  const formPage = refererPath(ctx) ?? '/';
  if (!sameOrigin(req.headers, snap.publicOrigin)) {
    svc.log.info({ req_id: ctx.requestId, user: ctx.session?.user, origin: req.headers.origin, site: req.headers['sec-fetch-site'] }, 'cross-origin request challenged, not stashed');
    return redirect(ctx, challengeUrl(d, formPage));
  }
  const resubmit = () => redirect(ctx, `${challengeUrl(d, formPage)}&resubmit=1`);
  let body: Buffer;
  try {
    // A form the gateway already read (method override check, upstream_form paths) is kept as read.
    if (ctx.form && ctx.form.body.length > snap.config.policy.stash_max_body) throw new BodyError(413, 'form too large to keep');
    // A body decided unread keeps what was read of it, then the rest of the stream.
    body = ctx.form?.body ?? await readBody(req, snap.config.policy.stash_max_body, undefined, ctx.bodyUnread?.prefix);
  } catch (err) {
    // Too large to keep: the user passes the check, then submits again.
    if (err instanceof BodyError && err.status === 413) return resubmit();
    throw err;
  }
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (KEPT.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const stash: Stash = {
    m: req.method ?? 'POST', p: forwardPath + ctx.query, h: headers, b: body.toString('base64'),
    u: ctx.session!.user!, c: ctx.session!.created, r: route.index,
  };
  const overrides = formOverrides(req.headers['content-type'], body);
  if (overrides.length > 0) stash.o = [...overrides];
  const put = await svc.stashes.put(stash, snap.config.session.secret, snap.config.policy.stash_total_max);
  if (!put.ok) {
    svc.log.warn({ req_id: ctx.requestId, user: stash.u, limit: put.reason, bytes: body.length }, 'stash limit reached: the user submits again after the check');
    return resubmit();
  }
  svc.log.info({ req_id: ctx.requestId, user: stash.u, stash: put.id, bytes: body.length }, 'request stashed for step-up');
  redirect(ctx, challengeUrl(d, stash.p, put.id));
}

/** Takes a stash (single use) if it belongs to this sign-in and the marker sits on the stash's own route and target. */
export async function takeStash(ctx: RequestContext, id: string, route: number, target: string): Promise<Stash | null> {
  const w = stashOwner(ctx);
  if (!w) return null;
  const stash = await ctx.svc.stashes.take(id, ctx.snap.config.session.secret, w, (s) => markerHonoured({ route: s.r, target: s.p }, { route, target }));
  // A reload of the replayed answer must not look like an error: remember where the form was.
  if (stash) await ctx.svc.shared.set(`stash:done:${id}`, formPageOf(stash, ctx.snap.publicOrigin) ?? '/', STASH_TTL_MS);
  return stash;
}

/** Where a reload of an already replayed request should land: the page the form was on. */
export async function usedStashTarget(ctx: RequestContext, id: string): Promise<string | null> {
  if (!/^[\w-]{10,64}$/.test(id)) return null;
  const page = await ctx.svc.shared.get(`stash:done:${id}`);
  // Checked again as read: an entry may come from an instance that stored the Referer path unchecked.
  return page === null ? null : safeReturnTarget(page, ctx.snap.publicOrigin) ?? '/';
}

/** Puts a taken stash back (the request needs yet another challenge); null when a cap refuses it. */
export async function restoreStash(ctx: RequestContext, stash: Stash): Promise<string | null> {
  const { k: _slots, ...rest } = stash;
  const put = await ctx.svc.stashes.put(rest, ctx.snap.config.session.secret, ctx.snap.config.policy.stash_total_max);
  return put.ok ? put.id : null;
}

/** A header of the stash (the first of that name, lower-case given). */
function keptHeader(stash: Stash, name: string): string | undefined {
  for (let i = 0; i < stash.h.length; i += 2) if (stash.h[i].toLowerCase() === name) return stash.h[i + 1];
  return undefined;
}

/** The fields of a stashed urlencoded form (what rules matching parameters see on the replay). */
export function stashFields(stash: Stash): ParamList | undefined {
  if (isEncodedBody(keptHeader(stash, 'content-encoding'))) return undefined;
  for (let i = 0; i < stash.h.length; i += 2) {
    if (stash.h[i].toLowerCase() !== 'content-type') continue;
    if (stash.h[i + 1].split(';')[0].trim().toLowerCase() !== 'application/x-www-form-urlencoded') return undefined;
    return parseParams(Buffer.from(stash.b, 'base64').toString('utf8'));
  }
  return undefined;
}

/** The stashed body as the rules with `params` conditions read it on the replay (the bytes the app gets, with their Content-Encoding). */
export function stashBodyFacts(stash: Stash): RequestBody {
  if (stash.b === '') return undefined;
  // An encoded body is decided unread on the replay too: the app may decode it to other fields.
  if (isEncodedBody(keptHeader(stash, 'content-encoding'))) return 'unread';
  return { contentType: keptHeader(stash, 'content-type') ?? '', bytes: Buffer.from(stash.b, 'base64') };
}

function formPageOf(stash: Stash, origin: string): string | undefined {
  for (let i = 0; i < stash.h.length; i += 2) {
    if (stash.h[i].toLowerCase() === 'referer' && stash.h[i + 1].startsWith(`${origin}/`)) return refererPage(stash.h[i + 1], origin);
  }
  return undefined;
}

function refererPath(ctx: RequestContext): string | undefined {
  return refererPage(ctx.req.headers.referer, ctx.snap.publicOrigin);
}
