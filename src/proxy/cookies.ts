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
