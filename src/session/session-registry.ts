// The per-user registry of signed-in browsers behind the security page's
// session list (README "Signed-in browsers"): one record per signed-in session,
// keyed by the session's registry id (SessionData.rid, stable across step-ups,
// so a rotated session id keeps its entry). The pure parts are here; the
// records live in the durable store (store/types.ts SessionRecord).

import { networkOf } from '../policy/address-prefix.ts';
import type { SessionRecord } from '../store/types.ts';
import type { SessionData } from './session-data.ts';

/** Entries kept per user (most recently seen); an older session still ends with "sign out everywhere". */
export const SESSIONS_LISTED = 20;

/**
 * Where a session was seen, as coarse as a place by network can be without a
 * database: the client's /24 (IPv4) or /48 (IPv6) (policy/address-prefix.ts);
 * anything else is shown as given.
 */
export function seenNetwork(ip: string): string {
  return networkOf(ip) ?? (ip || 'unknown');
}

/** The registry record of a freshly signed-in session. */
export function sessionRecord(s: SessionData & { rid: string; user: string }, label: string, ip: string, maxAge: number): SessionRecord {
  return { id: s.rid, user: s.user, label, network: seenNetwork(ip), created_at: s.created, seen_at: s.seen, expires_at: s.created + maxAge };
}

/** Entries still alive for the security page: inside max_age (the store's filter) and inside the idle timeout. */
export function liveSessions(records: readonly SessionRecord[], now: number, idle: number): SessionRecord[] {
  return records.filter((r) => r.expires_at > now && (idle <= 0 || now - r.seen_at <= idle));
}
