// The break-glass account (a config-declared emergency user): it signs in
// without a second factor only while the store or shared state is down, or
// while `identity.break_glass.enabled` is true (an incident is declared).
// Every use is logged at warn, audited and mailed to audit.alert_email.
//
// No oracle: the degraded state is checked first, and while the account may
// not be used every password gets the answer any wrong password gets (same
// status, page, throttling and one argon2 verification), so its password
// cannot be tested while the service is healthy. Attempts go through the
// shared throttle; while shared state itself is down, through one kept in
// this process (the only counter still there).

import type { BreakGlassConfig } from '../config/types.ts';
import type { RequestContext } from '../web/context.ts';
import { redirect, sendPage } from '../web/respond.ts';
import { verifyPassword } from '../identity/password-hash.ts';
import { Throttle, throttleKeys } from '../identity/throttle.ts';
import { commitSession, signInParty } from '../web/page-session.ts';
import { failSignIn, reserveSignIn } from '../session/sign-in.ts';
import { refusedPage, throttledPage } from './login-refusals.ts';
import { signedInSession } from '../session/session-data.ts';
import { createMemorySharedState } from '../store/memory-shared-state.ts';
import { translator } from '../identity/translate.ts';
import { breakGlassAlert } from '../identity/messages.ts';

const SHARED_DOWN = 'shared state unreachable';
const localThrottle = new Throttle(createMemorySharedState());

/** A backend call bounded to a second: while one is down its client may wait far longer. */
function within<T>(p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<never>((_, no) => setTimeout(() => no(new Error('timeout')), 1000).unref())]);
}

async function backendsDown(ctx: RequestContext): Promise<string | undefined> {
  const [store, shared] = await Promise.allSettled([within(ctx.svc.store.ping()), within(ctx.svc.shared.ping())]);
  if (shared.status === 'rejected') return SHARED_DOWN;
  if (store.status === 'rejected') return 'store unreachable';
  return undefined;
}

/**
 * The browser's session from before (another user's, or an earlier break-glass
 * one) dies with this sign-in, as with any sign-in (session/sign-in.ts). It is
 * revoked on this instance at once; telling the others needs shared state,
 * which may be the very thing that is down: that failure is logged, never the
 * end of the break-glass sign-in. Likewise its entry in the session registry.
 */
async function revokePrevious(ctx: RequestContext): Promise<void> {
  const previous = ctx.session;
  if (!previous) return;
  try {
    await within(ctx.svc.sessions.revokeSession(previous, ctx.cookie));
  } catch (err) {
    ctx.svc.log.warn({ req_id: ctx.requestId, user: previous.user, err: (err as Error).message }, 'break-glass: the previous session is revoked on this instance only (shared state unavailable)');
  }
  // Its entry on the security page's list goes too (the store may be the backend that is down).
  if (previous.user === undefined || previous.rid === undefined) return;
  try {
    await within(ctx.svc.store.removeSession(previous.user, previous.rid));
  } catch (err) {
    ctx.svc.log.warn({ req_id: ctx.requestId, user: previous.user, err: (err as Error).message }, 'break-glass: the previous session stays listed on the security page (store unavailable)');
  }
}

export async function breakGlassSignIn(ctx: RequestContext, bg: BreakGlassConfig, password: string, rd: string): Promise<void> {
  const { svc } = ctx;
  const down = await backendsDown(ctx);
  const usable = down !== undefined || bg.enabled;
  // Never the store's ledger (it may be what is down): at 100 failures in a row the
  // break-glass account locks in shared state for a day instead (identity/throttle.ts).
  const throttle = down === SHARED_DOWN ? localThrottle : new Throttle(svc.shared);
  const who = signInParty(ctx, bg.user);
  const reserved = await reserveSignIn(svc, throttle, throttleKeys('pwd', bg.user, ctx.client.ip), who);
  if (!reserved.ok) return throttledPage(ctx, rd, bg.user, reserved.waitMs);
  const matched = await verifyPassword(bg.password, password);
  if (!usable || !matched) {
    const reason = usable ? 'break-glass: invalid credentials' : 'break-glass refused: backends are up';
    const { waitMs } = await failSignIn(svc, throttle, reserved.attempt, who, reason, { message: 'break-glass sign-in refused', fields: { reason } });
    if (waitMs > 0) return throttledPage(ctx, rd, bg.user, waitMs);
    return refusedPage(ctx, rd, bg.user);
  }
  await throttle.succeed(reserved.attempt);
  await revokePrevious(ctx);
  const now = svc.now();
  const reason = down ?? 'enabled in config';
  const session = { ...signedInSession(bg.user, ['pwd'], [], now), breakglass: true as const, profile: { email: '', groups: bg.groups, display_name: 'Break-glass account' } };
  const setCookie = await commitSession(ctx, session);
  svc.log.warn({ req_id: ctx.requestId, user: bg.user, ip: ctx.client.ip, reason }, 'BREAK-GLASS sign-in: second factors bypassed');
  await svc.audit.write({ event: 'breakglass.used', user: bg.user, reason, ip: ctx.client.ip, request_id: ctx.requestId });
  const alert = ctx.snap.config.audit.alert_email;
  if (alert) {
    // To the operators, in ui.default_language (not the browser's).
    const operators = translator(ctx.snap.config.ui.default_language, ctx.snap.config.ui.catalogs);
    const message = breakGlassAlert({ product: ctx.snap.config.branding.product_name, tr: operators, timeZone: ctx.snap.config.ui.time_zone }, { user: bg.user, ip: ctx.client.ip, at: now, reason });
    svc.notifier.send({ to: alert, ...message }).catch((err: Error) => svc.log.error({ err: err.message }, 'break-glass alert could not be sent'));
  }
  redirect(ctx, rd, { 'set-cookie': setCookie }, 303);
}
