// Validation of return targets (`rd`): where the browser goes after
// sign-in or a challenge. Only same-origin relative paths survive; everything a
// browser could read as another origin (open redirect) yields null.

import { normalizeTarget } from './normalize.ts';

const MAX_RETURN_TARGET_LENGTH = 2048;
const LOGOUT_PATH = '/.gatehouse/logout';

/** Returns a safe same-origin relative target ('/path?query', no fragment) or null. publicOrigin like 'http://localhost:8080'. */
export function safeReturnTarget(rd: string | undefined | null, publicOrigin: string): string | null {
  if (typeof rd !== 'string' || rd.length === 0 || rd.length > MAX_RETURN_TARGET_LENGTH) return null;
  // Browsers strip tabs/newlines and trim C0/space before parsing ('/\t/evil.com'
  // becomes '//evil.com'), and read '\' as '/': refuse all of them outright.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f\\]|\s/u.test(rd)) return null;
  // A single leading '/', then not another separator, raw or percent-encoded.
  if (rd.charCodeAt(0) !== 0x2f || startsWithSeparator(rd.slice(1))) return null;

  let base: URL;
  let url: URL;
  try {
    base = new URL(publicOrigin);
    url = new URL(rd, base);
  } catch {
    return null;
  }
  if (url.origin !== base.origin || base.origin === 'null') return null;

  // Dot segments can collapse into '//' after parsing ('/.//evil.com' → '//evil.com').
  const target = url.pathname + url.search;
  if (target.charCodeAt(0) !== 0x2f || startsWithSeparator(target.slice(1))) return null;

  // Judge the path the way the gateway itself will route it: anything the
  // normalizer rejects is not a place to send anyone, and a return into logout
  // would sign the user out (also via '/.GATEHOUSE/logout', '/x/../.gatehouse/logout;a').
  const normalized = normalizeTarget(target, { pathParams: 'allow', caseInsensitive: true });
  if (!normalized.ok) return null;
  const p = normalized.matchPath;
  if (p === LOGOUT_PATH || p.startsWith(LOGOUT_PATH + '/')) return null;
  return target;
}

/** True when s begins with '/' or '\', directly or through (repeated) percent-encoding. */
function startsWithSeparator(s: string): boolean {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    const c = cur.charAt(0);
    if (c === '/' || c === '\\') return true;
    if (c !== '%') return false;
    const next = percentDecodeLead(cur);
    if (next === cur) return false;
    cur = next;
  }
  return true; // still percent-encoded after several rounds: refuse
}

/** Decodes the leading %XX escape if there is one (ASCII only, enough for separators). */
function percentDecodeLead(s: string): string {
  const m = /^%([0-9A-Fa-f]{2})/.exec(s);
  if (m === null) return s;
  return String.fromCharCode(parseInt(m[1], 16)) + s.slice(3);
}

/**
 * The page a Referer on the gateway's origin names, as a return target: its
 * path is the client's to choose (`http://gw//evil.example/` keeps the '//',
 * which a Location reads as another host), so it passes safeReturnTarget like
 * any `rd`. Undefined for another origin or a target refused.
 */
export function refererPage(referer: string | undefined, origin: string): string | undefined {
  if (referer === undefined || !referer.startsWith(`${origin}/`)) return undefined;
  return safeReturnTarget(referer.slice(origin.length), origin) ?? undefined;
}
