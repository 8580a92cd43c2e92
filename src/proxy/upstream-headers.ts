// Builds the header list sent upstream from the client's raw headers: a pure
// function so every stripping rule is table-tested. Order of concerns:
// hop-by-hop (RFC 9110 §7.6.1, plus names listed in Connection) → owned
// identity headers → forwarding headers → the gateway's own cookie.

import { canonicalHeaderName } from '../policy/app-field-names.ts';
import { setsGatewayCookie } from './cookies.ts';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings',
]);
// Forwarding facts are the gateway's to set; method overrides would let a client dodge method-scoped rules.
// Answered by the gateway itself (Node sends the 100 Continue), and undici refuses
// to send it: forwarding it turned every `curl -T` upload over 1 MB into a 502.
const ANSWERED_HERE = 'expect';
/** The names of the headers the gateway sets on every proxied request (besides the identity headers). */
export const FORWARDING_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'] as const;
const FORWARDING = new Set([...FORWARDING_HEADERS, 'x-forwarded-port', 'forwarded', 'x-real-ip', 'x-http-method-override', 'x-http-method', 'x-method-override']);

export interface UpstreamHeaderInput {
  rawHeaders: readonly string[];           // req.rawHeaders: [name, value, name, value, ...]
  /** Identity headers the gateway injects; called with canonical names (owned-headers.ts), each name lower-cased once. */
  isOwned: (canonical: string) => boolean;
  sessionCookieName: string;               // removed from Cookie before forwarding
  upstreamHost: string;                    // Host sent upstream unless preserveHost
  preserveHost: boolean;
  forwardedFor: string;                    // from resolveClient
  forwardedProto: string;
  forwardedHost: string;
  requestId: string;
  /** Identity headers to inject, as [name, value] pairs (already built). */
  identity: readonly string[];
  /**
   * The Host the transport sends by itself when none is given (undici: the
   * upstream's own authority, which is `upstreamHost`): a Host equal to it is
   * left to the transport, which then skips checking it again per request.
   */
  transportHost?: string;
  /** Keep Upgrade/Connection for a WebSocket handshake. */
  upgrade?: boolean;
  /** routes[].strip_headers (canonical names): headers the app would read as an action the policy does not see. */
  strip?: ReadonlySet<string>;
}

/** Names listed in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const t of raw[i + 1].split(',')) {
        const name = canonicalHeaderName(t.trim());
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

/** Removes the gateway's cookie(s) from a Cookie header value; undefined when nothing is left. One pass, no arrays (every signed-in request goes through it). */
export function withoutCookie(cookieHeader: string, name: string): string | undefined {
  if (!cookieHeader.includes(name)) return cookieHeader;
  const dotted = `${name}.`;
  const device = `${name}_device`;
  let out = '';
  for (let start = 0; start <= cookieHeader.length;) {
    let end = cookieHeader.indexOf(';', start);
    if (end === -1) end = cookieHeader.length;
    const part = cookieHeader.slice(start, end).trim();
    start = end + 1;
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq).trim();
    if (key === name || key.startsWith(dotted) || key === device) continue;
    out = out === '' ? part : `${out}; ${part}`;
  }
  return out || undefined;
}

export function buildUpstreamHeaders(i: UpstreamHeaderInput): string[] {
  const raw = i.rawHeaders;
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k];
    const lower = canonicalHeaderName(name);
    if (HOP_BY_HOP.has(lower)) {
      if (i.upgrade && lower === 'upgrade') out.push('upgrade', raw[k + 1]);
      continue;
    }
    if (lower === 'host' || lower === ANSWERED_HERE || FORWARDING.has(lower) || i.isOwned(lower)) continue;
    if (listed?.has(lower) || i.strip?.has(lower)) continue;
    if (lower === 'cookie') {
      const value = withoutCookie(raw[k + 1], i.sessionCookieName);
      if (value !== undefined) out.push(name, value);
      continue;
    }
    out.push(name, raw[k + 1]);
  }
  if (i.upgrade) out.push('connection', 'upgrade');
  const host = i.preserveHost ? i.forwardedHost : i.upstreamHost;
  if (host !== i.transportHost) out.push('host', host);
  out.push(
    FORWARDING_HEADERS[0], i.forwardedFor,
    FORWARDING_HEADERS[1], i.forwardedProto,
    FORWARDING_HEADERS[2], i.forwardedHost,
    FORWARDING_HEADERS[3], i.requestId,
  );
  for (let k = 0; k < i.identity.length; k++) out.push(i.identity[k]);
  return out;
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate']);

export interface ResponseHeaderInput {
  headers: Record<string, string | string[] | undefined>;   // undici parsed (lower-case names)
  upstreamOrigin: string;                                    // e.g. http://127.0.0.1:8081
  publicOrigin: string;                                      // e.g. https://portal.example.com
  sessionCookieName: string;
  /** routes[].strip_prefix / rewrite_location: how the app's own URLs map to public ones. */
  translate?: UrlTranslation;
}

export interface UrlTranslation {
  /** strip_prefix: the public prefix the app is served under ('' for none). */
  prefix: string;
  /** The upstream URL's own base path ('' for /): the app's URLs under it map to the prefix. */
  base: string;
  /** rewrite_location: other origins the app believes it lives at (normalized origins). */
  origins: readonly string[];
}

/**
 * The names an answer's Connection lists, or undefined for a plain `keep-alive`
 * (every answer of a keep-alive upstream; hop-by-hop already): no split, no Set.
 */
function namesListedIn(conn: string | string[]): Set<string> | undefined {
  const value = typeof conn === 'string' ? conn : conn.join(',');
  if (value === 'keep-alive') return undefined;
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}

/**
 * Upstream answers pass through with three repairs: hop-by-hop headers go,
 * an absolute Location pointing at the upstream's own origin is rewritten to
 * the public origin (what nginx's proxy_redirect default does), and the
 * upstream may not set the gateway's own cookies nor scope cookies to its
 * internal host name.
 */
export function buildClientHeaders(i: ResponseHeaderInput): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const conn = i.headers.connection;
  const listed = conn ? namesListedIn(conn) : undefined;
  for (const name in i.headers) {
    const value = i.headers[name];
    if (value === undefined || RESPONSE_HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    if (name === 'location' && typeof value === 'string') {
      out[name] = rewriteLocation(value, i.upstreamOrigin, i.publicOrigin, i.translate);
    } else if (name === 'refresh' && typeof value === 'string' && i.translate) {
      out[name] = rewriteRefresh(value, i.upstreamOrigin, i.publicOrigin, i.translate);
    } else if (name === 'set-cookie') {
      const prefix = i.translate?.prefix ?? '';
      const cookies = (Array.isArray(value) ? value : [value])
        .filter((c) => !setsGatewayCookie(c, i.sessionCookieName))
        .map((c) => dropInternalDomain(c, i.upstreamOrigin))
        .map((c) => (prefix === '' ? c : mountCookiePath(c, i.translate!)));
      if (cookies.length) out[name] = cookies;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * Compares parsed origins, not string prefixes: `HTTP://APP:80/x` names the
 * same upstream as `http://app`, and `http://app:8081@evil/` does not.
 */
export function rewriteLocation(location: string, upstreamOrigin: string, publicOrigin: string, tr?: UrlTranslation): string {
  // Only absolute and scheme-relative URLs can name the upstream; under strip_prefix a path-absolute one is the app's too.
  if (!/^(?:https?:)?\/\//i.test(location)) return tr && tr.prefix !== '' && location.startsWith('/') ? mountPath(location, tr) : location;
  let u: URL;
  try {
    u = new URL(location, upstreamOrigin);
  } catch {
    return location;
  }
  const known = u.origin === upstreamOrigin || (tr !== undefined && tr.origins.includes(u.origin));
  if (!known || u.username !== '' || u.password !== '') return location;
  const rest = u.pathname + u.search + u.hash;
  return publicOrigin + (tr && tr.prefix !== '' ? mountPath(rest, tr) : rest);
}

/**
 * strip_prefix: an app path (with its query) as the public one: the upstream's
 * base path gives way to the prefix. A path already under the prefix is left
 * alone (an app told its public base, such as DokuWiki's basedir, builds those itself).
 */
export function mountPath(path: string, tr: UrlTranslation): string {
  const end = path.search(/[?#]/);
  let p = end === -1 ? path : path.slice(0, end);
  const tail = end === -1 ? '' : path.slice(end);
  if (p === tr.prefix || p.startsWith(`${tr.prefix}/`)) return path;
  if (tr.base !== '' && (p === tr.base || p.startsWith(`${tr.base}/`))) p = p.slice(tr.base.length) || '/';
  return tr.prefix + p + tail;
}

/** `Refresh: 0; url=/x` (the redirect some PHP apps send): its URL translated like a Location. */
function rewriteRefresh(value: string, upstreamOrigin: string, publicOrigin: string, tr: UrlTranslation): string {
  const m = /^(\s*\d+(?:\.\d*)?\s*[;,]\s*url\s*=\s*)(['"]?)(.*?)\2\s*$/i.exec(value);
  if (!m) return value;
  return m[1] + m[2] + rewriteLocation(m[3], upstreamOrigin, publicOrigin, tr) + m[2];
}

/** strip_prefix: a cookie's Path under the prefix (no Path: the browser scopes it to the public URL already). */
function mountCookiePath(setCookie: string, tr: UrlTranslation): string {
  return setCookie.replace(/(;\s*path\s*=\s*)([^;]*)/i, (_all, attr: string, path: string) => {
    const p = path.trim();
    return attr + (p.startsWith('/') ? mountPath(p, tr) : tr.prefix + '/');
  });
}

function dropInternalDomain(setCookie: string, upstreamOrigin: string): string {
  if (!/;\s*domain=/i.test(setCookie)) return setCookie;
  const internalHost = new URL(upstreamOrigin).hostname.toLowerCase();
  return setCookie
    .split(';')
    .filter((attr) => {
      const m = /^\s*domain\s*=\s*\.?(.+?)\s*$/i.exec(attr);
      return !m || m[1].toLowerCase() !== internalHost;
    })
    .join(';');
}
