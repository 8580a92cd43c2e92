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
import { phpName } from '../policy/param-match.ts';

const RELEASED_PREFIX = 'uf:rel:';
/** Digests kept per gateway session (apps that rotate their cookie often keep only the recent ones alive). */
export const MAX_RELEASED = 64;

/** Whether `name` holds a character phpName changes (a leading space among them); one without reads as sent. */
function phpChanges(name: string): boolean {
  // A scan, not a regex: this runs for every cookie a signed-in request carries.
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 32 || c === 46 || c === 91 || c === 0) return true;
  }
  return false;
}

/**
 * The name an app may read a cookie under: as PHP registers it (phpName:
 * `app.session` and `app session` are $_COOKIE['app_session'], `app_session[k]`
 * an array of that name), and with `foldCase` any case of it (ASP.NET, a
 * `case_insensitive` route). Equal names read alike, so comparing readings
 * also serves apps that read names as sent.
 */
export function cookieNameReading(name: string, foldCase: boolean): string {
  const read = phpChanges(name) ? phpName(name).base : name;
  return foldCase ? read.toLowerCase() : read;
}

/** The readings of the configured names (cookieNameReading), kept per list (the config's): a request does not read them again. */
interface PatternReadings { exact: readonly string[]; prefixes: readonly string[] }
const readingsOf = [new WeakMap<readonly string[], PatternReadings>(), new WeakMap<readonly string[], PatternReadings>()];

function patternReadings(patterns: readonly string[], foldCase: boolean): PatternReadings {
  const cache = readingsOf[foldCase ? 1 : 0];
  let r = cache.get(patterns);
  if (r === undefined) {
    r = {
      exact: patterns.filter((p) => !p.endsWith('*')).map((p) => cookieNameReading(p, foldCase)),
      prefixes: patterns.filter((p) => p.endsWith('*')).map((p) => cookieNameReading(p.slice(0, -1), foldCase)),
    };
    cache.set(patterns, r);
  }
  return r;
}

/**
 * Whether the app may read the cookie `name` as one of the configured app
 * cookies (`DW*` matches every name starting with DW): compared as the app
 * reads names (cookieNameReading), so no spelling of a held cookie slips past.
 */
export function isAppCookie(name: string, patterns: readonly string[], foldCase = false): boolean {
  return readsAsOne(name, patternReadings(patterns, foldCase), foldCase);
}

function readsAsOne(name: string, readings: PatternReadings, foldCase: boolean): boolean {
  const read = cookieNameReading(name, foldCase);
  if (readings.exact.includes(read)) return true;
  for (const p of readings.prefixes) if (read.startsWith(p)) return true;
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
export function releasedDigests(setCookies: readonly string[], patterns: readonly string[], now: number, foldCase = false): string[] {
  const out: string[] = [];
  for (const sc of setCookies) {
    const c = parseSetCookie(sc, now);
    if (c && !c.deletes && isAppCookie(c.name, patterns, foldCase)) out.push(cookieDigest(c.name, c.value));
  }
  return out;
}

/**
 * A Cookie header without the app cookies whose values were not released
 * (`released` null: none were). A cookie the app reads as an app cookie
 * (isAppCookie) stays only as released: the same name, spelled the same, with
 * the same value.
 */
export function filterCookieHeader(header: string, patterns: readonly string[], released: ReadonlySet<string> | null, foldCase = false): string {
  const readings = patternReadings(patterns, foldCase);
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq).trim();
    if (readsAsOne(name, readings, foldCase) && (released === null || !released.has(cookieDigest(name, eq === -1 ? '' : pair.slice(eq + 1).trim())))) continue;
    kept.push(pair);
  }
  return kept.join('; ');
}

/** The app-cookie names present in a Cookie header, as sent (isAppCookie). */
export function appCookieNamesIn(header: string | undefined, patterns: readonly string[], foldCase = false): string[] {
  if (!header) return [];
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim();
    if (name && isAppCookie(name, patterns, foldCase)) names.add(name);
  }
  return [...names];
}

/**
 * Set-Cookie values that expire the app's cookies in the browser: every exact
 * name configured (unless `onlySent`), and the names the browser sent, on `/` and
 * on the login path's directory (apps often scope their cookies to it).
 */
export function expiryCookies(patterns: readonly string[], sent: string | undefined, loginPath: string, onlySent = false, foldCase = false): string[] {
  const names = new Set([...(onlySent ? [] : patterns.filter((p) => !p.endsWith('*'))), ...appCookieNamesIn(sent, patterns, foldCase)]);
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
