// The one sign-in sequence every identity source ends in (password form,
// OIDC callback, the app's own login form): what the user has enrolled, a new
// session with a new id (the pre-sign-in one is revoked: no fixation), the
// remembered device, the seal, and the audit line, written before the answer.
// A sign-in the risk rules deny is refused before any of it: no session, no
// cookie, the browser's session left as it was; audited as a failure with the
// score and signals (README "Risk signals"), not as a wrong password.
// Also the throttle-and-audit steps of a first-factor attempt, shared by the
// password form, the break-glass account and the app's login form.
// It takes values, not a request (docs/architecture.md, "Layers").

import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Metrics } from '../audit/metrics.ts';
import type { FactorKind } from '../config/types.ts';
import type { FactorRegistry } from '../factors/registry.ts';
import type { Attempt, Refusal, Reservation, Throttle, ThrottleKey } from '../identity/throttle.ts';
import type { Store } from '../store/types.ts';
import type { SignInRisk } from './risk-observer.ts';
import { signedInSession, type SessionData } from './session-data.ts';
import type { SessionManager } from './session-manager.ts';
import { SESSIONS_LISTED, sessionRecord } from './session-registry.ts';

/** Who is signing in, from where: what every audit line of a sign-in names. */
export interface SignInParty {
  user: string;
  ip: string;
  requestId: string;
}

export interface SignInServices {
  factors: Pick<FactorRegistry, 'enrolledKinds'>;
  sessions: Pick<SessionManager, 'revokeSession' | 'seal' | 'setCookie' | 'maxAge'>;
  audit: Pick<AuditLog, 'write'>;
  /** The session registry (the security page's list of signed-in browsers). */
  store: Pick<Store, 'addSession' | 'removeSession' | 'recordSignInPlace'>;
  now: () => number;
}

export interface SignIn extends SignInParty {
  /** How the first factor was proved (session amr). */
  amr: string[];
  /** The audit line's method, told whether a remembered device vouched for the browser. */
  method: (withDevice: boolean) => string;
  /** What the session list calls the browser ("Chrome on Linux"). */
  label?: string;
  /** The session the browser had before (revoked: its id dies with the sign-in). */
  previous: { session: SessionData | null; cookie: string | undefined };
  /** The remembered device this browser carries for `user`, if any. */
  device?: string;
  /** Users of an external source carry their profile in the session. */
  profile?: SessionData['profile'];
  /** When the first factor was proved, when not now (the IdP's auth_time). */
  pwdAt?: number;
  /** Checks the source vouches for (an IdP's MFA trusted as a factor, checks kept on a step-up). */
  factors?: SessionData['factors'];
  /** Kinds the source adds to the enrolled ones (the IdP's trusted factor). */
  alsoEnrolled?: FactorKind[];
  deferred?: boolean;
  /** The sign-in's risk assessment (risk section on): kept in the session, named in the audit line. */
  risk?: SignInRisk & { forgetBefore: number };
  /** The source's last word on the sealed session (a reason refuses the sign-in, audited as a failure). */
  confirm?: (sealed: string, session: SessionData) => Promise<string | undefined> | string | undefined;
}

export type SignInResult =
  | { ok: true; session: SessionData; sealed: string; setCookie: string }
  /** `risk`: the risk rules denied it (the caller shows the refusal page); `source`: the source's confirm refused it. */
  | { ok: false; reason: string; by: 'risk' | 'source' };

/** The audit reason of a sign-in the risk rules refused. */
export const RISK_REFUSAL = 'risk denied';

/** Starts the signed-in session of `s.user`; the success (or the refusal: the risk rules' or `confirm`'s) is audited before it returns. */
export async function signIn(svc: SignInServices, s: SignIn): Promise<SignInResult> {
  if (s.risk?.refused) {
    await svc.audit.write({ event: 'signin.failure', user: s.user, reason: RISK_REFUSAL, ip: s.ip, request_id: s.requestId, risk: s.risk.audit });
    return { ok: false, reason: RISK_REFUSAL, by: 'risk' };
  }
  const enrolled = await svc.factors.enrolledKinds(s.user);
  for (const k of s.alsoEnrolled ?? []) if (!enrolled.includes(k)) enrolled.push(k);
  const now = svc.now();
  const session = signedInSession(s.user, s.amr, enrolled, now);
  if (s.profile) session.profile = s.profile;
  if (s.pwdAt !== undefined) session.pwd_at = s.pwdAt;
  if (s.factors) session.factors = s.factors;
  if (s.deferred) session.deferred = true;
  if (s.device) session.device = s.device;
  if (s.risk) session.risk = s.risk.session;
  const before = s.previous.session;
  if (before) {
    await svc.sessions.revokeSession(before, s.previous.cookie);
    // Its entry goes too: the security page would list the dead session as signed in.
    if (before.user !== undefined && before.rid !== undefined) await svc.store.removeSession(before.user, before.rid);
  }
  const sealed = await svc.sessions.seal(session);
  const refused = await s.confirm?.(sealed, session);
  if (refused !== undefined) {
    await svc.audit.write({ event: 'signin.failure', user: s.user, reason: refused, ip: s.ip, request_id: s.requestId });
    await svc.sessions.revokeSession(session, sealed);
    return { ok: false, reason: refused, by: 'source' };
  }
  await svc.store.addSession(sessionRecord({ ...session, rid: session.rid!, user: s.user }, s.label ?? 'Browser', s.ip, svc.sessions.maxAge), SESSIONS_LISTED);
  await svc.audit.write({ event: 'signin.success', user: s.user, ip: s.ip, request_id: s.requestId, method: s.method(s.device !== undefined), ...(s.risk ? { risk: s.risk.audit } : {}) });
  if (s.risk?.recordNow) await svc.store.recordSignInPlace(s.user, s.risk.recordNow, s.risk.forgetBefore);
  return { ok: true, session, sealed, setCookie: svc.sessions.setCookie(sealed) };
}

export interface AttemptServices {
  audit: Pick<AuditLog, 'write'>;
  metrics: Pick<Metrics, 'lockouts'>;
  log: Pick<Logger, 'warn'>;
  now: () => number;
}

/**
 * Counts a first-factor attempt before it is verified; a refusal (a wait is in
 * force, or the account is locked) is audited as a lock-out before the caller answers.
 */
export async function reserveSignIn(svc: AttemptServices, throttle: Throttle, keys: readonly ThrottleKey[], who: SignInParty): Promise<Reservation> {
  const reserved = await throttle.reserve(keys);
  if (!reserved.ok) await auditRefusal(svc, who, reserved);
  return reserved;
}

/** A refused attempt, audited: the wait it met, or the account's lock. */
async function auditRefusal(svc: AttemptServices, who: SignInParty, refusal: Refusal): Promise<void> {
  await svc.audit.write({
    event: 'signin.lockout', user: who.user, ip: who.ip, request_id: who.requestId,
    ...(refusal.locked ? { locked: true } : { until: new Date(svc.now() + refusal.waitMs).toISOString() }),
  });
}

/**
 * A failed first-factor attempt: its count stands, the failure is audited and
 * logged, and when it earns a wait (or locks the account) the lock-out is
 * counted and audited too, all before the caller answers. Returns the wait (ms) and whether the account is now locked.
 */
export async function failSignIn(svc: AttemptServices, throttle: Throttle, attempt: Attempt, who: SignInParty, reason: string, log: { message: string; fields?: Record<string, unknown> }): Promise<{ waitMs: number; locked: boolean }> {
  const { waitMs, locked, failures } = throttle.failed(attempt);
  await svc.audit.write({ event: 'signin.failure', user: who.user, ip: who.ip, request_id: who.requestId, reason });
  svc.log.warn({ req_id: who.requestId, user: who.user, ip: who.ip, ...log.fields, wait_ms: waitMs, locked }, log.message);
  if (waitMs > 0 || locked) await recordLockout(svc, who, waitMs, failures, locked);
  return { waitMs, locked };
}

/** A wait started after repeated failures (first or second factor), or the account locked: counted and audited. */
export async function recordLockout(svc: AttemptServices, who: SignInParty, waitMs: number, failures: number, locked = false): Promise<void> {
  svc.metrics.lockouts.inc();
  await svc.audit.write({
    event: 'signin.lockout', user: who.user, ip: who.ip, request_id: who.requestId, failures,
    ...(locked ? { locked: true } : { until: new Date(svc.now() + waitMs).toISOString() }),
  });
}
