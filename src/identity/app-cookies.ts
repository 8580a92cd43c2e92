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
// These are the pure parts; the shell over shared state, which works on one
// request, is web/app-cookies.ts.

import { createHash } from 'node:crypto';

const RELEASED_PREFIX = 'uf:rel:';
/** Digests kept per gateway session (apps that rotate their cookie often keep only the recent ones alive). */
export const MAX_RELEASED = 64;

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
export function releasedKey(session: { user?: string; created: number }): string {
  return `${RELEASED_PREFIX}${session.created}:${session.user}`;
}
