// What the factor pages share: which kinds a rule accepts, recording a passed
// check (new session id, audit, metrics), failure throttling and user notices.

import type { FactorKind } from '../config/types.ts';
import type { FactorCheck } from '../policy/types.ts';
import type { RequestContext } from '../web/context.ts';
import type { Verified } from '../factors/types.ts';
import { throttleKeys, type Attempt, type Reservation } from '../identity/throttle.ts';
import { commitSession, signInParty } from '../web/page-session.ts';
import { recordLockout } from '../session/sign-in.ts';
import { withFactor } from '../session/session-data.ts';
import { rememberPlace } from '../session/risk-observer.ts';
import { currentUser } from '../web/current-user.ts';
import { notifyUser } from '../web/notify-user.ts';
import { releaseHeldCookies } from '../web/upstream-form-login.ts';

// Security notices are sent from the sign-in too (web/page-session.ts): one helper in web/.
export { notifyUser };

/** The kinds a rule accepts (all when it names none). Recovery codes stand in only where any factor will do. */
export function acceptedKinds(ctx: RequestContext, ruleId: string | null): FactorKind[] | null {
  if (!ruleId) return null;
  const rule = ctx.snap.config.policy.rules.find((r) => r.id === ruleId);
  return rule?.factors && rule.factors.length > 0 ? rule.factors : null;
}

export function kindAllowed(kind: FactorKind, accepted: FactorKind[] | null): boolean {
  return accepted === null || accepted.includes(kind);
}

export function factorThrottle(ctx: RequestContext) {
  return throttleKeys('mfa', ctx.session!.user!, ctx.client.ip);
}

/** Counts one second-factor attempt (a code, a passkey, a recovery code, an enrollment confirmation) before it is verified. */
export function reserveFactorAttempt(ctx: RequestContext): Promise<Reservation> {
  return ctx.svc.throttle.reserve(factorThrottle(ctx));
}

/**
 * Records a passed second factor: rotates the session id (the old cookie dies
 * everywhere), remembers the method, audits and counts. Returns the
 * Set-Cookie values: the session's, then (identity source upstream_form) the
 * app's own cookies held back since its login form, released now, once.
 */
export async function passFactor(ctx: RequestContext, v: Verified, rule: string | null, attempt?: Attempt): Promise<string[]> {
  const { svc } = ctx;
  const old = ctx.session!;
  const user = old.user!;
  const next = withFactor(old, v.check);
  if (!next.enrolled?.includes(v.check.kind)) next.enrolled = [...(next.enrolled ?? []), v.check.kind];
  // A sign-in the risk rules asked a factor of: its place is vouched for now (session/risk-observer.ts).
  const place = next.risk?.place;
  if (place !== undefined) next.risk = { at: next.risk!.at, signals: next.risk!.signals };
  await svc.sessions.revokeSession(old, ctx.cookie);
  const setCookie = await commitSession(ctx, next);
  if (attempt) await svc.throttle.succeed(attempt);
  if (place !== undefined) await rememberPlace(svc.store, ctx.snap.config.risk, user, place, svc.now());
  const state = await svc.store.getUserState(user);
  await svc.store.putUserState({
    user, deferrals: state?.deferrals ?? 0, last_factor: v.check.kind, mfa_reset_at: state?.mfa_reset_at ?? null, updated_at: svc.now(),
  });
  await svc.audit.write({ event: 'factor.used', user, factor: v.check.kind, factor_id: v.factorId, rule: rule ?? undefined, ip: ctx.client.ip, request_id: ctx.requestId });
  if (rule) await svc.audit.write({ event: 'stepup.passed', user, rule, factor: v.check.kind, ip: ctx.client.ip, request_id: ctx.requestId });
  svc.metrics.challenge(v.check.kind, 'pass');
  return [setCookie, ...await releaseHeldCookies(ctx, next)];
}

/** Records a failed attempt (audited before the answer); returns the wait now imposed (ms) and attempts left before waits start. */
export async function failFactor(ctx: RequestContext, attempt: Attempt, kind: FactorKind, reason: string, rule: string | null): Promise<{ waitMs: number; left: number }> {
  const { svc } = ctx;
  const user = ctx.session!.user!;
  const r = svc.throttle.failed(attempt);
  await svc.audit.write({ event: 'factor.failure', user, factor: kind, reason, rule: rule ?? undefined, ip: ctx.client.ip, request_id: ctx.requestId });
  if (rule) await svc.audit.write({ event: 'stepup.failed', user, rule, factor: kind, reason, ip: ctx.client.ip, request_id: ctx.requestId });
  svc.metrics.challenge(kind, 'fail');
  if (r.waitMs > 0 || r.locked) await recordLockout(svc, signInParty(ctx, user), r.waitMs, r.failures, r.locked);
  // Left before a wait: the shared-state count, which the waits run on (r.failures is the durable one).
  return { waitMs: r.waitMs, left: Math.max(0, attempt.keys[0].free - attempt.numbers[0]) };
}


/** How recent a check must be for a change to the user's factors (enrolling, removing, renaming, new recovery codes). */
export const FRESH_FACTOR_MS = 5 * 60_000;

/**
 * Pure: the session's checks hold one fresh enough for a change; a phishing-resistant
 * one when `needPhishingResistant` (a phished code must not buy or remove a passkey:
 * README "Security model").
 */
export function freshCheckFor(checks: readonly FactorCheck[], needPhishingResistant: boolean, now: number): boolean {
  return checks.some((c) => (!needPhishingResistant || c.phishing_resistant) && now - c.at <= FRESH_FACTOR_MS);
}

/**
 * Pure: whether adding or removing a factor of `kind` needs a phishing-resistant check:
 * a passkey or security key, while the user has one (`enrolled`: the user's kinds
 * before the change). Everything else takes any fresh factor.
 */
export function needsPhishingResistant(kind: FactorKind | null | undefined, enrolled: readonly FactorKind[]): boolean {
  return kind === 'webauthn' && enrolled.includes('webauthn');
}

const CHALLENGE_METHOD = { factor: undefined, passkey: 'webauthn', email: 'email' } as const;

/**
 * The challenge a change to the user's factors asks for, then `rd`: any second
 * factor ('factor'), the passkey or security key ('passkey'), or a code mailed
 * to the address on file ('email').
 */
export function confirmChallenge(need: keyof typeof CHALLENGE_METHOD, rd: string, extra: Record<string, string> = {}): string {
  const method = CHALLENGE_METHOD[need];
  return `/.gatehouse/challenge?${new URLSearchParams({ ...(method ? { method } : {}), rd, ...extra })}`;
}

/** Whether a challenge's return target is the enrollment page: it is asked before adding a method. */
export function returnsToEnroll(rd: string): boolean {
  return rd === '/.gatehouse/enroll' || rd.startsWith('/.gatehouse/enroll?');
}
