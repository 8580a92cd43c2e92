// What a session cookie carries, and the pure rules over it. The cookie is
// sealed (iron-session) so its content is authentic; these functions decide
// whether an authentic session is still good.

import { randomBytes } from 'node:crypto';
import type { FactorKind, RiskSignal } from '../config/types.ts';
import type { FactorCheck } from '../policy/types.ts';
import type { SignInPlace } from '../store/types.ts';

export interface SessionData {
  v: 1;
  sid: string;               // random, rotated at sign-in and every step-up
  /** Registry id: one per sign-in, kept across step-ups; names the session in the security page's list and revokes it. */
  rid?: string;
  user?: string;             // absent for an anonymous (pre-sign-in) session
  created: number;           // unix ms: absolute max_age counts from here
  seen: number;              // unix ms: idle_timeout counts from here (refreshed lazily)
  pwd_at?: number;           // first factor time
  amr?: string[];            // first-factor methods (pwd, or the IdP's)
  factors: FactorCheck[];    // second factors passed in this session, newest last
  enrolled?: FactorKind[];   // factor kinds the user had enrolled at sign-in (kept current by enroll/remove)
  csrf: string;              // per-session CSRF token
  deferred?: boolean;        // "set up later" chosen in this session
  device?: string;           // remembered-device id that vouched for this session
  /** A break-glass session (config-declared emergency account): audited on every request. */
  breakglass?: true;
  /** Profile of a user from an external identity source (OIDC, upstream form); absent for file users. */
  profile?: { email: string; groups: string[]; display_name: string };
  /** The sign-in's risk facts (risk section on): what policy/risk.ts judges every request by. */
  risk?: SessionRisk;
  /** A security-page change that waits for a fresh second factor, finished when the user comes back. */
  pending_action?: { action: string; id?: string; name?: string; at: number };
}

/** Risk facts of a sign-in (session/risk-observer.ts); the policy reads `at` and `signals` (policy/types.ts RiskFacts). */
export interface SessionRisk {
  at: number;
  signals: RiskSignal[];
  /** The sign-in's place, remembered once a second factor passes (the risk rules asked for one). */
  place?: SignInPlace;
}

export function randomId(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

export function anonymousSession(now: number): SessionData {
  return { v: 1, sid: randomId(), created: now, seen: now, factors: [], csrf: randomId() };
}

/** A fresh session for a user who just proved the first factor: new sid, new CSRF token (fixation). */
export function signedInSession(user: string, amr: string[], enrolled: FactorKind[], now: number): SessionData {
  return { v: 1, sid: randomId(), rid: randomId(), user, created: now, seen: now, pwd_at: now, amr, factors: [], enrolled, csrf: randomId() };
}

/**
 * The browser a signed-in session's pending ceremonies (an authenticator-app
 * setup, a WebAuthn challenge) are bound to: its registry id, one per
 * sign-in and kept across step-ups, so a check passed in another tab does not
 * void a setup half done, while another sign-in (another browser) never shares
 * it. A session sealed before registry ids has its session id, which is the
 * registry id it is given on adoption (README "Signed-in browsers").
 */
export function ceremonyBinding(s: Pick<SessionData, 'sid' | 'rid'>): string {
  return s.rid ?? s.sid;
}

/** Records a passed second factor and rotates the session id. Keeps the newest check per kind. */
export function withFactor(s: SessionData, check: FactorCheck): SessionData {
  const factors = s.factors.filter((f) => f.kind !== check.kind);
  factors.push(check);
  return { ...s, sid: randomId(), factors, deferred: false };
}

export type Expiry = 'ok' | 'absolute' | 'idle';

/** `seen` defaults to the cookie's; the session manager passes the later activity it saw itself. */
export function sessionExpiry(s: SessionData, now: number, maxAge: number, idle: number, seen = s.seen): Expiry {
  if (now - s.created > maxAge) return 'absolute';
  if (idle > 0 && now - seen > idle) return 'idle';
  return 'ok';
}

/**
 * Re-seal to move `seen` forward only now and then (a quarter of the idle
 * window, at most a minute): sealing is the expensive part, so a busy session
 * re-seals about once a minute, not per request. `since` is when the last
 * cookie was sealed (the cookie's own `seen` unless the caller knows a later one).
 */
export function needsTouch(s: SessionData, now: number, idle: number, since = s.seen): boolean {
  if (idle <= 0) return false;
  return now - since > slideInterval(idle);
}

/** How often an active session gets a fresh cookie (ms). */
export function slideInterval(idle: number): number {
  return Math.min(idle / 4, 60_000);
}

export function isValidSessionData(x: unknown): x is SessionData {
  if (!x || typeof x !== 'object') return false;
  const s = x as Partial<SessionData>;
  return s.v === 1 && typeof s.sid === 'string' && typeof s.created === 'number' && typeof s.seen === 'number'
    && typeof s.csrf === 'string' && Array.isArray(s.factors) && (s.user === undefined || typeof s.user === 'string');
}
