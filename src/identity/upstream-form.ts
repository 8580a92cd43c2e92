// identity.source: upstream_form: the legacy app keeps its own login
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
// These are the pure parts (table-tested); the login interception, which works
// on one request, is web/upstream-form-login.ts.

import type { FormRequestMatch, UpstreamFormIdentityConfig } from '../config/types.ts';
import { safeReturnTarget } from '../policy/return-target.ts';
import { matchPath } from '../policy/path-pattern.ts';
import { rewriteLocation } from '../proxy/upstream-headers.ts';
import { readCookie } from '../proxy/cookies.ts';
import { liveCookieValue, parseSetCookie } from './app-cookies.ts';

/** The login form is small: buffered (to read the username) up to this size. */
export const LOGIN_FORM_LIMIT = 64 * 1024;
const HELD_PREFIX = 'uf:held:';

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
