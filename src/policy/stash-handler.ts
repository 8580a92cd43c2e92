// Requests preserved across a step-up (SPEC §4.7): a non-GET request that
// triggers a challenge is sealed into shared state (bound to the user's
// sign-in, 10 minutes, single use) and, once the challenge is passed, the
// browser comes back to the original URL with a resume marker; the gateway
// takes the stash (exactly once) and sends the original request upstream, so
// the user sees the app's own answer at the app's own URL.

import { sealData, unsealData } from 'iron-session';
import type { RequestContext } from '../http/context.ts';
import { readBody, BodyError } from '../http/form-body.ts';
import { redirect } from '../http/respond.ts';
import type { Route } from './route-table.ts';
import { randomId } from '../session/session-data.ts';
import { challengeUrl } from '../ui/challenge-links.ts';
import type { Decision } from './types.ts';
import { formOverrides } from './method-override.ts';

export const RESUME_PARAM = '__gatehouse_resume';
const STASH_TTL_MS = 10 * 60_000;
// Headers worth replaying: what describes the body and the client's preferences.
const KEPT = new Set(['content-type', 'accept', 'accept-language', 'user-agent', 'origin', 'referer', 'x-requested-with']);

export interface Stash {
  m: string;              // method
  p: string;              // normalized path + query (what the upstream gets)
  h: string[];            // flat header pairs
  b: string;              // body, base64
  u: string;              // user
  c: number;              // session created (binds to this sign-in, survives sid rotation)
  r: number;              // route index
  o?: string[];           // method overrides the replayed body claims (`_method`)
}

type Challenge = Extract<Decision, { action: 'challenge' }>;

export async function stashAndRedirect(ctx: RequestContext, d: Challenge, route: Route, forwardPath: string): Promise<void> {
  const { svc, snap, req } = ctx;
  const formPage = refererPath(ctx) ?? '/';
  let body: Buffer;
  try {
    // A form the gateway already read (upstream_form login/logout paths) is kept as read.
    if (ctx.form && ctx.form.body.length > snap.config.policy.stash_max_body) throw new BodyError(413, 'form too large to keep');
    body = ctx.form?.body ?? await readBody(req, snap.config.policy.stash_max_body);
  } catch (err) {
    if (err instanceof BodyError && err.status === 413) {
      // Too large to keep: the user passes the check, then submits again.
      return redirect(ctx, `${challengeUrl(d, formPage)}&resubmit=1`);
    }
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
  const id = randomId();
  const sealed = await sealData(stash, { password: snap.config.session.secret, ttl: STASH_TTL_MS / 1000 });
  await svc.shared.set(`stash:${id}`, sealed, STASH_TTL_MS);
  svc.log.info({ req_id: ctx.requestId, user: stash.u, stash: id, bytes: body.length }, 'request stashed for step-up');
  redirect(ctx, challengeUrl(d, forwardPath + ctx.query, id));
}

/** Takes a stash (single use) if it belongs to this sign-in and was made for this route and target (path + query). */
export async function takeStash(ctx: RequestContext, id: string, route: number, target: string): Promise<Stash | null> {
  if (!/^[\w-]{10,64}$/.test(id) || !ctx.session?.user) return null;
  // Read and check before taking: another session naming this id must not destroy it.
  const sealed = await ctx.svc.shared.get(`stash:${id}`);
  if (!sealed) return null;
  let stash: Stash;
  try {
    stash = await unsealData<Stash>(sealed, { password: ctx.snap.config.session.secret, ttl: STASH_TTL_MS / 1000 });
  } catch {
    return null;
  }
  if (!stash || stash.u !== ctx.session.user || stash.c !== ctx.session.created) return null;
  if (stash.r !== route || stash.p !== target) return null;
  // Single use, also across instances: only the one who takes it replays it.
  if ((await ctx.svc.shared.take(`stash:${id}`)) === null) return null;
  // A reload of the replayed answer must not look like an error: remember where the form was.
  await ctx.svc.shared.set(`stash:done:${id}`, formPageOf(stash, ctx.snap.publicOrigin) ?? '/', STASH_TTL_MS);
  return stash;
}

/** Where a reload of an already replayed request should land: the page the form was on. */
export async function usedStashTarget(ctx: RequestContext, id: string): Promise<string | null> {
  if (!/^[\w-]{10,64}$/.test(id)) return null;
  return ctx.svc.shared.get(`stash:done:${id}`);
}

function formPageOf(stash: Stash, origin: string): string | undefined {
  for (let i = 0; i < stash.h.length; i += 2) {
    if (stash.h[i].toLowerCase() === 'referer' && stash.h[i + 1].startsWith(`${origin}/`)) return stash.h[i + 1].slice(origin.length);
  }
  return undefined;
}

/** Puts a taken stash back (the request needs yet another challenge). */
export async function restoreStash(ctx: RequestContext, stash: Stash): Promise<string> {
  const id = randomId();
  const sealed = await sealData(stash, { password: ctx.snap.config.session.secret, ttl: STASH_TTL_MS / 1000 });
  await ctx.svc.shared.set(`stash:${id}`, sealed, STASH_TTL_MS);
  return id;
}

/** Splits the resume marker off a query string. */
export function splitResume(query: string): { id: string | undefined; query: string } {
  if (!query.includes(RESUME_PARAM)) return { id: undefined, query };
  const params = new URLSearchParams(query.slice(1));
  const id = params.get(RESUME_PARAM) ?? undefined;
  params.delete(RESUME_PARAM);
  const rest = params.toString();
  return { id, query: rest ? `?${rest}` : '' };
}

/** Where to send the browser after a passed challenge when a stash waits. */
export function resumeTarget(rd: string, stash: string): string {
  return `${rd}${rd.includes('?') ? '&' : '?'}${RESUME_PARAM}=${encodeURIComponent(stash)}`;
}

function refererPath(ctx: RequestContext): string | undefined {
  const ref = ctx.req.headers.referer;
  const origin = ctx.snap.publicOrigin;
  return typeof ref === 'string' && ref.startsWith(`${origin}/`) ? ref.slice(origin.length) : undefined;
}
