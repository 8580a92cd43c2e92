// Request-target normalization: the one place that turns the raw
// request-target into the path rules match (matchPath) and the path the upstream
// receives (forwardPath). Both come from the same decoded segments, so the gateway
// and the app see the same resource. Anything ambiguous is rejected, never guessed.

export interface NormalizeOptions { pathParams: 'reject' | 'allow'; caseInsensitive: boolean }

export type NormalizedTarget =
  | {
      ok: true;
      /** Canonical re-encoding of the segments (what the upstream receives); `;params` kept when allowed. */
      forwardPath: string;
      /** Decoded path rules match; `;params` removed; case-folded (foldPathCase) when caseInsensitive. */
      matchPath: string;
      /** Raw query string including the leading '?', or ''. */
      query: string;
      /** host[:port] from an absolute-form target, lower-cased. */
      authority?: string;
    }
  | { ok: false; reason: string };

type Rejection = { ok: false; reason: string };
const reject = (reason: string): Rejection => ({ ok: false, reason });

// Characters a canonical segment may hold unescaped: unreserved plus the pchar
// sub-delims and ':' '@' (RFC 3986 §3.3). ';' is excluded: it is only ever the
// path-parameter delimiter, never data. 1 = allowed.
const CANONICAL_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  CANONICAL_CHAR[c.charCodeAt(0)] = 1;
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * Case folding for case-insensitive routes. Per code point: upper-case then
 * lower-case, keeping a code point whose mapping would expand (ß, İ) as it is.
 * This folds 'ı'→'i', 'ſ'→'s', 'K' (Kelvin)→'k' like the per-character upcase
 * tables of Windows/IIS, which plain toLowerCase() would miss. Rule patterns for
 * case-insensitive routes must be folded with this same function.
 */
export function foldPathCase(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const up = ch.toUpperCase();
    const mid = isOneCodePoint(up) ? up : ch;
    const low = mid.toLowerCase();
    out += isOneCodePoint(low) ? low : mid;
  }
  return out;
}

function isOneCodePoint(s: string): boolean {
  const cp = s.codePointAt(0);
  return cp !== undefined && s.length === (cp > 0xffff ? 2 : 1);
}

export function normalizeTarget(target: string, opts: NormalizeOptions): NormalizedTarget {
  if (target.length === 0) return reject('empty target');

  // The raw target must be printable ASCII (RFC 3986: everything else is
  // percent-encoded). Node hands non-ASCII bytes over as latin1 chars.
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) {
      if (c === 0x23) return reject('fragment');
      continue;
    }
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) return reject('control character');
    if (c === 0x20) return reject('whitespace');
    return reject('non-ascii');
  }

  let rest = target;
  let authority: string | undefined;
  const first = target.charCodeAt(0);
  if (first !== SLASH) {
    if (target === '*') return reject('asterisk-form');
    const m = /^(https?):\/\/([^/?]*)/i.exec(target);
    if (m === null) return reject('unsupported target form');
    authority = parseAuthority(m[2]);
    if (authority === undefined) return reject('invalid authority');
    rest = target.slice(m[0].length);
  }

  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q);

  let forwardPath: string;
  let matchPath: string;
  if (path === '' || path === '/') {
    forwardPath = matchPath = '/';
  } else if (isPlainPath(path, opts.caseInsensitive)) {
    forwardPath = path;
    matchPath = opts.caseInsensitive ? path.toLowerCase() : path;
  } else {
    const r = normalizePath(path, opts);
    if (!r.ok) return r;
    forwardPath = r.forwardPath;
    matchPath = r.matchPath;
  }
  return authority === undefined
    ? { ok: true, forwardPath, matchPath, query }
    : { ok: true, forwardPath, matchPath, query, authority };
}

// host (reg-name, IPv4 or [IPv6]) with an optional port; no userinfo: '@' in
// a request authority only ever serves to confuse.
function parseAuthority(raw: string): string | undefined {
  const a = raw.toLowerCase();
  const m = /^(?:[a-z0-9\-._~]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/.exec(a);
  if (m === null) return undefined;
  if (m[1] !== undefined && Number(m[1]) > 65535) return undefined;
  return a;
}

// Fast path (every request): a path of canonical characters only, with no
// empty or dot segments, is already its own canonical form. No allocation.
function isPlainPath(path: string, caseInsensitive: boolean): boolean {
  if (path.charCodeAt(0) !== SLASH) return false;
  let segStart = 1;
  const n = path.length;
  for (let i = 1; i <= n; i++) {
    const c = i === n ? SLASH : path.charCodeAt(i);
    if (c === SLASH) {
      const len = i - segStart;
      if (len === 0) {
        if (i !== n) return false; // '//' (a trailing '/' is fine)
      } else {
        if (path.charCodeAt(segStart) === DOT && (len === 1 || (len === 2 && path.charCodeAt(segStart + 1) === DOT))) return false;
        if (caseInsensitive && path.charCodeAt(i - 1) === DOT) return false;
      }
      segStart = i + 1;
    } else if (c >= 128 || CANONICAL_CHAR[c] === 0) {
      return false;
    }
  }
  return true;
}

interface Segment { name: string; params: string }

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function normalizePath(path: string, opts: NormalizeOptions): { ok: true; forwardPath: string; matchPath: string } | Rejection {
  if (path.charCodeAt(0) !== SLASH) return reject('unsupported target form');
  if (path.includes('\\')) return reject('backslash');
  if (opts.pathParams === 'reject' && path.includes(';')) return reject('path parameters');

  const raw = path.slice(1).split('/');
  const stack: Segment[] = [];
  let trailingSlash = false;
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i];
    const semi = seg.indexOf(';');
    const name = decodeSegment(semi === -1 ? seg : seg.slice(0, semi));
    if (typeof name !== 'string') return name;
    let params = '';
    if (semi !== -1) {
      const p = canonicalParams(seg.slice(semi));
      if (typeof p !== 'string') return p;
      params = p;
    }
    if (opts.caseInsensitive && /[. ]$/.test(name) && name !== '.' && name !== '..') {
      // Windows/IIS drop trailing dots and spaces ('/admin./' serves /admin/).
      return reject('trailing dot or space');
    }
    if (opts.caseInsensitive && mapsIntoAscii(name)) {
      // IIS/ASP.NET "best fit" mapping reads a fullwidth 'ａｄｍｉｎ' (or '．', '／') as ASCII.
      return reject('compatibility character');
    }
    if (semi !== -1) {
      // A Java server strips params before resolving dot segments and merging
      // slashes; letting those meet ours would let matchPath and the upstream diverge
      // ('/..;/admin', '/a/;x/../b'). Fail closed instead.
      if (name === '.' || name === '..') return reject('dot segment with parameters');
      if (name === '' && i !== raw.length - 1) return reject('empty segment with parameters');
      stack.push({ name, params });
      trailingSlash = false;
      continue;
    }
    if (name === '' || name === '.') {
      trailingSlash = true;
    } else if (name === '..') {
      if (stack.length === 0) return reject('traversal above root');
      stack.pop();
      trailingSlash = true;
    } else {
      stack.push({ name, params });
      trailingSlash = false;
    }
  }

  if (stack.length === 0) return { ok: true, forwardPath: '/', matchPath: '/' };
  let forwardPath = '';
  let matchPath = '';
  for (const s of stack) {
    forwardPath += '/' + encodeSegmentName(s.name) + s.params;
    if (s.name !== '') matchPath += '/' + s.name;
  }
  if (trailingSlash) forwardPath += '/';
  if (trailingSlash || stack[stack.length - 1].name === '') matchPath += '/';
  if (matchPath === '') matchPath = '/';
  if (opts.caseInsensitive) matchPath = foldPathCase(matchPath);
  return { ok: true, forwardPath, matchPath };
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Does a non-ASCII character of `s` become ASCII under Unicode compatibility
 * normalization (NFKC)? Fullwidth letters, dots and slashes, ligatures like 'ﬁ',
 * the Kelvin sign and long s do: an app that maps them would see a different path.
 */
export function mapsIntoAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return false;
  for (const ch of s) {
    // eslint-disable-next-line no-control-regex
    if (ch.charCodeAt(0) >= 0x80 && /[\x00-\x7f]/.test(ch.normalize('NFKC'))) return true;
  }
  return false;
}

/** Strict percent-decoding of one segment (or parameter) into a checked string. */
function decodeSegment(raw: string): string | Rejection {
  if (!raw.includes('%')) {
    // Raw chars were already checked: printable ASCII, no '#', no '\'.
    return raw;
  }
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) { bytes[n++] = c; continue; }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return reject('invalid percent-encoding');
    const b = parseInt(hex, 16);
    if (b === 0x2f) return reject('encoded slash');
    if (b === 0x5c) return reject('encoded backslash');
    if (b === 0x23) return reject('fragment');
    // Servers that decode the path before splitting off the query read '/admin%3F/x' as '/admin'.
    if (b === 0x3f) return reject('encoded question mark');
    // An encoded ';' would be data to one server and a parameter to another.
    if (b === 0x3b) return reject('encoded semicolon');
    bytes[n++] = b;
    i += 2;
  }
  let s: string;
  try {
    s = utf8.decode(bytes.subarray(0, n));
  } catch {
    return reject('invalid utf-8');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(s)) return reject('control character');
  if (/[^\S ]/u.test(s)) return reject('whitespace');
  if (/%[0-9A-Fa-f]{2}/.test(s)) return reject('double encoding');
  return s;
}

/** ';a=1;b' → each parameter decoded with the same checks and re-encoded canonically. */
function canonicalParams(raw: string): string | Rejection {
  let out = '';
  for (const piece of raw.slice(1).split(';')) {
    const d = decodeSegment(piece);
    if (typeof d !== 'string') return d;
    out += ';' + encodeSegmentName(d);
  }
  return out;
}

/**
 * encodeURIComponent, then un-escape the pchar characters it over-escapes
 * ($ & + , = : @). ';' stays escaped: as data it must not become a delimiter.
 */
function encodeSegmentName(s: string): string {
  return encodeURIComponent(s).replace(/%(?:24|26|2B|2C|3D|3A|40)/g, decodeURIComponent);
}

/**
 * Does the raw target hold a `.` or `..` segment (also percent-encoded)? Behind
 * a forward-auth proxy the app gets the proxy's target, not gatehouse's
 * canonical one: Caddy passes the raw target on, and an app that does not
 * resolve `/admin/../x` would see /admin where gatehouse decided on /x.
 * Browsers resolve dot segments before sending, so only crafted requests carry them.
 */
export function hasDotSegment(target: string): boolean {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.split('/').some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg));
}
