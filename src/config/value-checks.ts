// Checks of single values shared by several sections (addresses, URLs, host
// names, CIDRs, dates). Each reports through the Reader and never throws.

import { BlockList, isIP } from 'node:net';
import type { PathSegment } from './interpolate.ts';
import type { Reader } from './reader.ts';

/** An HTTP token (header name, method). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const DAY_MS = 86_400_000;
/** A date as written; whether it is well-formed is the schema's to report. */
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function checkListen(r: Reader, listen: string, at: PathSegment[]): void {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : -1;
  const host = m ? m[1] : '';
  const hostOk = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4 || /^[A-Za-z0-9.-]+$/.test(host);
  if (!m || port > 65535 || !hostOk) r.fail(at, `"${listen}" must be host:port (e.g. 127.0.0.1:8080, 0.0.0.0:443, [::1]:8080)`);
}

export function normalizeOrigin(r: Reader, value: string, at: PathSegment[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.fail(at, `"${value}" must be an absolute http(s) URL like https://portal.example.com`);
    return value;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') r.fail(at, 'must use http or https');
  else if (url.username || url.password) r.fail(at, 'must not contain credentials');
  else if (url.pathname !== '/' || url.search || url.hash || value.includes('?') || value.includes('#')) {
    r.fail(at, 'must be an origin only (scheme://host[:port]), without a path, query or fragment');
  }
  return url.origin;
}

export function checkHttpUrl(
  r: Reader,
  value: string,
  at: PathSegment[],
  opt: { allowPath?: boolean; allowQuery?: boolean; httpsUnlessLocal?: boolean },
): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.fail(at, `"${value}" must be an http(s) URL`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return r.fail(at, `"${value}" must be an http(s) URL`);
  if (!opt.allowQuery && (url.search || url.hash)) return r.fail(at, 'must not have a query or fragment');
  if (!opt.allowPath && url.pathname !== '/') return r.fail(at, 'must not have a path');
  if (url.username || url.password) return r.fail(at, 'must not contain credentials');
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (opt.httpsUnlessLocal && url.protocol === 'http:' && !local) r.fail(at, 'must use https (http only for localhost)');
}

export function checkUrlScheme(r: Reader, value: string, at: PathSegment[], schemes: string[]): void {
  let ok = false;
  try {
    ok = schemes.includes(new URL(value).protocol);
  } catch { /* reported below */ }
  if (!ok) r.fail(at, `must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL`);
}

export function checkHostname(r: Reader, host: string, at: PathSegment[]): void {
  const label = '[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?';
  if (isIP(host) === 0 && !new RegExp(`^${label}(\\.${label})*\\.?$`).test(host)) {
    r.fail(at, `"${host}" must be a host name without port or wildcard (e.g. portal.example.com)`);
  }
}

/** A CIDR or a bare address (made /32 or /128). */
export function normalizeCidr(r: Reader, value: string, at: PathSegment[]): string {
  const [address, prefixText, extra] = value.trim().split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  let valid = family !== 0 && extra === undefined && prefix >= 0 && prefix <= max;
  if (valid) {
    try {
      new BlockList().addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    r.fail(at, `"${value}" must be an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)`);
    return value;
  }
  return `${address}/${prefix}`;
}

/** End of the given UTC day in ms (an exception or grace period lasts through its date), or undefined if not a real date. */
export function dateEnd(date: string): number | undefined {
  if (!ISO_DATE.test(date)) return undefined;
  const t = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date) return undefined;
  return t + DAY_MS;
}

/** A mapping of HTTP header names to values (webhook and audit forwarding headers). */
export function checkHeaderMap(r: Reader, o: Record<string, unknown>, at: PathSegment[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.section(o, 'headers'))) {
    if (!TOKEN.test(name)) r.fail([...at, 'headers', name], 'is not a valid HTTP header name');
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}
