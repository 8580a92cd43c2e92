// Minimal, exact cookie reading and writing for the gateway's own cookies.

/** The value of the first cookie named `name`, or undefined. Allocation-free when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    const before = at === 0 ? ';' : header[at - 1];
    const after = header[at + name.length];
    if ((before === ';' || before === ' ') && after === '=') {
      const start = at + name.length + 1;
      const end = header.indexOf(';', start);
      return header.slice(start, end === -1 ? undefined : end).trim();
    }
    from = at + name.length;
  }
  return undefined;
}

export interface CookieOptions {
  maxAgeSeconds?: number;    // absent = browser-session cookie; 0 = delete
  secure: boolean;
  path?: string;
  sameSite?: 'Lax' | 'Strict';
}

export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  let s = `${name}=${value}; Path=${o.path ?? '/'}; HttpOnly; SameSite=${o.sameSite ?? 'Lax'}`;
  if (o.secure) s += '; Secure';
  if (o.maxAgeSeconds !== undefined) {
    s += `; Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`;
    if (o.maxAgeSeconds <= 0) s += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  }
  return s;
}

/**
 * The Cookie text a browser sends back for one Set-Cookie line (RFC 6265bis
 * §5.6): name and value trimmed, and a pair with an empty name or without '='
 * is a nameless cookie, sent as its bare value (`=gatehouse=x` comes back as
 * `gatehouse=x`).
 */
export function cookieSentBack(setCookie: string): string {
  const semi = setCookie.indexOf(';');
  const pair = semi === -1 ? setCookie : setCookie.slice(0, semi);
  const eq = pair.indexOf('=');
  const name = eq === -1 ? '' : pair.slice(0, eq).trim();
  const value = (eq === -1 ? pair : pair.slice(eq + 1)).trim();
  return name === '' ? value : `${name}=${value}`;
}

/** The gateway's cookies: the session cookie `name`, `name.*` and the remembered device `name_device`. Exact case, as readCookie reads them. */
function isGatewayCookieName(key: string, name: string): boolean {
  return key === name || key === `${name}_device` || key.startsWith(`${name}.`);
}

/**
 * Whether an upstream's Set-Cookie would plant one of the gateway's cookies
 * (README "Security model": the app cannot set them), read in what the browser
 * sends back: a nameless `=gatehouse=x` comes back as `gatehouse=x`, and
 * readCookie starts a cookie after a space too, so `a=b gatehouse=x` carries one.
 */
export function setsGatewayCookie(setCookie: string, name: string): boolean {
  if (!setCookie.includes(name)) return false;
  for (const word of cookieSentBack(setCookie).split(/[ \t]/)) {
    const eq = word.indexOf('=');
    if (isGatewayCookieName(eq === -1 ? word : word.slice(0, eq), name)) return true;
  }
  return false;
}
