// What the challenge and enrollment pages say of a request kept across the
// challenge ("your POST to /billing/pay"); http/stash.ts keeps and replays it.

import type { RequestContext } from './context.ts';

/** Whose stash this request may see: the signed-in user of this sign-in (a stash is bound to it). */
export function stashOwner(ctx: RequestContext): { user: string; created: number } | null {
  return ctx.session?.user ? { user: ctx.session.user, created: ctx.session.created } : null;
}

/** What a waiting stash will send, for the challenge page ("your POST to /billing/pay"); null when none is this session's. */
export async function pendingRequest(ctx: RequestContext, id: string | null): Promise<{ method: string; path: string } | null> {
  const w = stashOwner(ctx);
  if (!id || !w) return null;
  const stash = await ctx.svc.stashes.peek(id, ctx.snap.config.session.secret, w);
  if (!stash) return null;
  const q = stash.p.indexOf('?');
  return { method: stash.m, path: q === -1 ? stash.p : stash.p.slice(0, q) };
}
