// The request-level shell of app-cookie release for identity.source
// upstream_form (the design and the pure parts are identity/app-cookies.ts):
// which app-cookie values each gateway session may send on, kept as digests
// in shared state.

import type { RequestContext, Snapshot } from './context.ts';
import type { SessionData } from '../session/session-data.ts';
import type { Route } from '../policy/route-table.ts';
import { releasedDigests, filterCookieHeader, expiryCookies, releasedKey, MAX_RELEASED } from '../identity/app-cookies.ts';

function patternsOf(ctx: RequestContext): readonly string[] {
  const id = ctx.snap.config.identity;
  return id.source === 'upstream_form' ? id.upstream_form?.app_cookies ?? [] : [];
}

/**
 * Whether app-cookie names are compared case-blind: on a `case_insensitive`
 * route (ASP.NET reads `APP_SESSION` as app_session). Without the route, when
 * any route is one: cookies reach every route of the host, and case-blind
 * only ever holds back (records, expires) more.
 */
function foldsCookieNames(snap: Snapshot, route?: Pick<Route, 'case_insensitive'>): boolean {
  return route ? route.case_insensitive : snap.routes.some((r) => r.case_insensitive);
}

// Writes for one key run one after another, and a request of the same session waits for them:
// the browser's next request must not race the record of the value it carries.
const pending = new Map<string, Promise<void>>();

/** Remembers the app-cookie values these Set-Cookie headers give the session's browser. */
export function rememberReleased(ctx: RequestContext, session: SessionData, setCookies: readonly string[]): Promise<void> {
  const patterns = patternsOf(ctx);
  if (!session.user || patterns.length === 0) return Promise.resolve();
  const digests = releasedDigests(setCookies, patterns, ctx.svc.now(), foldsCookieNames(ctx.snap));
  if (digests.length === 0) return Promise.resolve();
  const key = releasedKey(session);
  const ttl = ctx.snap.config.session.max_age;
  const write = async () => {
    const old = await ctx.svc.shared.get(key);
    const list = old ? (JSON.parse(old) as string[]) : [];
    const next = [...list.filter((d) => !digests.includes(d)), ...digests].slice(-MAX_RELEASED);
    await ctx.svc.shared.set(key, JSON.stringify(next), ttl);
  };
  const run = (pending.get(key) ?? Promise.resolve()).then(write);
  const settled = run.catch((err: Error) => {
    ctx.svc.log.warn({ req_id: ctx.requestId, user: session.user, err: err.message }, 'could not record released app cookies');
  }).finally(() => {
    if (pending.get(key) === settled) pending.delete(key);
  });
  pending.set(key, settled);
  return run;
}

/** Forgets what was released to a session that ended. */
export async function forgetReleased(ctx: RequestContext, session: SessionData | null): Promise<void> {
  if (session?.user && patternsOf(ctx).length > 0) await ctx.svc.shared.delete(releasedKey(session));
}

/**
 * The upstream header list with the app cookies this request may carry: for a
 * signed-in gateway session, only the values released to it; for anyone else,
 * no cookies at all (without a gateway session the app sees an anonymous visit).
 * `route`: the route it goes to (whether it reads cookie names case-blind).
 */
export function appCookieHeaders(ctx: RequestContext, headers: string[], route?: Route): string[] | Promise<string[]> {
  // Other identity sources: the list as it is, without a promise (the hot path awaits nothing here).
  return ctx.snap.config.identity.source === 'upstream_form' ? releasedAppCookieHeaders(ctx, headers, route) : headers;
}

async function releasedAppCookieHeaders(ctx: RequestContext, headers: string[], route: Route | undefined): Promise<string[]> {
  const session = ctx.session;
  const patterns = patternsOf(ctx);
  const hasCookie = headers.some((h, i) => i % 2 === 0 && h.length === 6 && h.toLowerCase() === 'cookie');
  if (!hasCookie) return headers;
  if (!session?.user) return headers.filter((_, i) => i % 2 === 0 ? !isCookieName(headers[i]) : !isCookieName(headers[i - 1]));
  if (patterns.length === 0) return headers;
  const key = releasedKey(session);
  await pending.get(key);
  const stored = await ctx.svc.shared.get(key);
  const released = stored ? new Set(JSON.parse(stored) as string[]) : null;
  const foldCase = foldsCookieNames(ctx.snap, route);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!isCookieName(headers[i])) {
      out.push(headers[i], headers[i + 1]);
      continue;
    }
    const kept = filterCookieHeader(headers[i + 1], patterns, released, foldCase);
    if (kept !== '') out.push(headers[i], kept);
  }
  return out;
}

function isCookieName(h: string): boolean {
  return h.length === 6 && h.toLowerCase() === 'cookie';
}

/**
 * Set-Cookie values expiring the browser's app cookies (the gateway session
 * ended): the ones this request carries, or with `all` every configured name
 * (a gateway page does not see cookies the app scoped to its own path).
 */
export function expireAppCookies(ctx: RequestContext, all = false): string[] {
  const id = ctx.snap.config.identity;
  if (id.source !== 'upstream_form' || !id.upstream_form) return [];
  const sent = typeof ctx.req.headers.cookie === 'string' ? ctx.req.headers.cookie : undefined;
  return expiryCookies(id.upstream_form.app_cookies, sent, id.upstream_form.login_path, !all, foldsCookieNames(ctx.snap));
}
