// identity.source upstream_form: the app's session cookies follow the gateway
// session. The gateway remembers (as digests, in shared state) which values of
// the configured app cookies (`identity.upstream_form.app_cookies`) it let
// reach each gateway session's browser: the ones held back at sign-in and
// released after the second factor, and the ones the app set later in answers
// to that session. Any other value of those cookies is stripped before the
// app sees it, so an app session stolen from (or left behind by) another user
// is worth nothing through the gateway. When the gateway session ends
// (sign-out, revocation, another user signing in) the browser's app cookies
// are expired too.
//
// Pure parts first, then the shell over shared state.

import { createHash } from 'node:crypto';
import type { RequestContext } from '../web/context.ts';
import type { SessionData } from '../session/session-data.ts';

const RELEASED_PREFIX = 'uf:rel:';
/** Digests kept per gateway session (apps that rotate their cookie often keep only the recent ones alive). */
const MAX_RELEASED = 64;

// ---------------------------------------------------------------- pure core

/** Whether `name` is one of the configured app cookies (`DW*` matches every name starting with DW). */
export function isAppCookie(name: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p) return true;
  }
  return false;
}

/** What is remembered of one released value: never the value itself. */
export function cookieDigest(name: string, value: string): string {
  return createHash('sha256').update(name).update('\0').update(value).digest('base64url').slice(0, 22);
}

/** The name and value a Set-Cookie sets, and whether it deletes the cookie instead (empty value, Max-Age <= 0, past Expires). */
export function parseSetCookie(sc: string, now: number): { name: string; value: string; deletes: boolean } | null {
  const [pair, ...attrs] = sc.split(';');
  const eq = pair.indexOf('=');
  if (eq === -1) return null;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  let deletes = value === '';
  for (const a of attrs) {
    const aeq = a.indexOf('=');
    const key = (aeq === -1 ? a : a.slice(0, aeq)).trim().toLowerCase();
    const av = aeq === -1 ? '' : a.slice(aeq + 1).trim();
    if (key === 'max-age' && /^-?\d+$/.test(av) && Number(av) <= 0) deletes = true;
    if (key === 'expires') {
      const at = Date.parse(av);
      if (!Number.isNaN(at) && at <= now) deletes = true;
    }
  }
  return { name, value, deletes };
}

/**
 * The value the last Set-Cookie for `name` leaves in the browser, or undefined
 * when none sets it or the last one deletes it.
 */
export function liveCookieValue(setCookies: readonly string[], name: string, now: number): string | undefined {
  let value: string | undefined;
  for (const sc of setCookies) {
    const c = parseSetCookie(sc, now);
    if (c?.name === name) value = c.deletes ? undefined : c.value;
  }
  return value;
}

/** Digests of the app-cookie values these Set-Cookie headers put in the browser. */
export function releasedDigests(setCookies: readonly string[], patterns: readonly string[], now: number): string[] {
  const out: string[] = [];
  for (const sc of setCookies) {
    const c = parseSetCookie(sc, now);
    if (c && !c.deletes && isAppCookie(c.name, patterns)) out.push(cookieDigest(c.name, c.value));
  }
  return out;
}

/** A Cookie header without the app cookies whose values were not released (`released` null: none were). */
export function filterCookieHeader(header: string, patterns: readonly string[], released: ReadonlySet<string> | null): string {
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq).trim();
    if (isAppCookie(name, patterns) && (released === null || !released.has(cookieDigest(name, eq === -1 ? '' : pair.slice(eq + 1).trim())))) continue;
    kept.push(pair);
  }
  return kept.join('; ');
}

/** The app-cookie names present in a Cookie header. */
export function appCookieNamesIn(header: string | undefined, patterns: readonly string[]): string[] {
  if (!header) return [];
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim();
    if (name && isAppCookie(name, patterns)) names.add(name);
  }
  return [...names];
}

/**
 * Set-Cookie values that expire the app's cookies in the browser: every exact
 * name configured (unless `onlySent`), and the names the browser sent, on `/` and
 * on the login path's directory (apps often scope their cookies to it).
 */
export function expiryCookies(patterns: readonly string[], sent: string | undefined, loginPath: string, onlySent = false): string[] {
  const names = new Set([...(onlySent ? [] : patterns.filter((p) => !p.endsWith('*'))), ...appCookieNamesIn(sent, patterns)]);
  const dir = loginPath.slice(0, loginPath.lastIndexOf('/') + 1);
  const paths = dir === '/' ? ['/'] : ['/', dir];
  const out: string[] = [];
  for (const name of names) for (const path of paths) out.push(`${name}=; Path=${path}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
  return out;
}

/** The shared-state key of what was released to one gateway session (its user and creation time survive id rotation). */
export function releasedKey(session: Pick<SessionData, 'user' | 'created'>): string {
  return `${RELEASED_PREFIX}${session.created}:${session.user}`;
}

// ---------------------------------------------------------- imperative shell

function patternsOf(ctx: RequestContext): readonly string[] {
  const id = ctx.snap.config.identity;
  return id.source === 'upstream_form' ? id.upstream_form?.app_cookies ?? [] : [];
}

// Writes for one key run one after another, and a request of the same session waits for them:
// the browser's next request must not race the record of the value it carries.
const pending = new Map<string, Promise<void>>();

/** Remembers the app-cookie values these Set-Cookie headers give the session's browser. */
export function rememberReleased(ctx: RequestContext, session: SessionData, setCookies: readonly string[]): Promise<void> {
  const patterns = patternsOf(ctx);
  if (!session.user || patterns.length === 0) return Promise.resolve();
  const digests = releasedDigests(setCookies, patterns, ctx.svc.now());
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
 */
export async function appCookieHeaders(ctx: RequestContext, headers: string[]): Promise<string[]> {
  const id = ctx.snap.config.identity;
  if (id.source !== 'upstream_form') return headers;
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
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!isCookieName(headers[i])) {
      out.push(headers[i], headers[i + 1]);
      continue;
    }
    const kept = filterCookieHeader(headers[i + 1], patterns, released);
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
  return expiryCookies(id.upstream_form.app_cookies, sent, id.upstream_form.login_path, !all);
}
