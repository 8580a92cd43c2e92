// The per-user registry of signed-in browsers behind the security page's
// session list (issue 16 item 6): one record per signed-in session, keyed by
// the session's registry id (SessionData.rid, stable across step-ups, so a
// rotated session id keeps its entry). The pure parts are here; the records
// live in the durable store (store/types.ts SessionRecord).

import { isIP } from 'node:net';
import type { SessionRecord } from '../store/types.ts';
import type { SessionData } from './session-data.ts';

/** Entries kept per user (most recently seen); an older session still ends with "sign out everywhere". */
export const SESSIONS_LISTED = 20;

/**
 * Where a session was seen, as coarse as a place by network can be without a
 * database: the client's /24 (IPv4) or /48 (IPv6). An IPv4-mapped IPv6
 * address counts as IPv4; anything else is shown as given.
 */
export function networkOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped ? mapped[1] : ip;
  const family = isIP(addr);
  if (family === 4) return `${addr.split('.').slice(0, 3).join('.')}.0/24`;
  if (family !== 6) return addr || 'unknown';
  const groups = expandIPv6(addr.split('%')[0]);
  return `${groups.slice(0, 3).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/48`;
}

/** The eight 16-bit groups of an IPv6 address (one with an embedded IPv4 tail included). */
export function expandIPv6(addr: string): string[] {
  let text = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => g.toLowerCase());
}

/** The registry record of a freshly signed-in session. */
export function sessionRecord(s: SessionData & { rid: string; user: string }, label: string, ip: string, maxAge: number): SessionRecord {
  return { id: s.rid, user: s.user, label, network: networkOf(ip), created_at: s.created, seen_at: s.seen, expires_at: s.created + maxAge };
}

/** Entries still alive for the security page: inside max_age (the store's filter) and inside the idle timeout. */
export function liveSessions(records: readonly SessionRecord[], now: number, idle: number): SessionRecord[] {
  return records.filter((r) => r.expires_at > now && (idle <= 0 || now - r.seen_at <= idle));
}
