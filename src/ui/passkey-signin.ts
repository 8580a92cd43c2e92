// Passkey sign-in (README "Passkey sign-in"): the sign-in page's "Sign in with a
// passkey" button and the passkey the browser offers in the username field's
// autofill (conditional mediation) end here. No username is typed: the
// discoverable credential names its user, the store finds it by credential id.
// With user verification the passkey is both factors at once (amr hwk + user,
// phishing-resistant): the session starts with the WebAuthn check already
// passed, so a step-up rule that accepts webauthn is satisfied. The session
// starts through the one sign-in sequence (signInBrowser); attempts count
// against the address like password attempts and failures are audited.

import type { RequestContext } from '../web/context.ts';
import { sendJson } from '../web/respond.ts';
import { signInBrowser, signInParty } from '../web/page-session.ts';
import { safeReturnTarget } from '../policy/return-target.ts';
import { throttleKeys } from '../identity/throttle.ts';
import { failSignIn, reserveSignIn } from '../session/sign-in.ts';
import { readCeremony } from '../web/ceremony-request.ts';
import { addressSource } from '../policy/address-prefix.ts';

/** First-factor methods of a passkey sign-in: a hardware-bound key, the user verified on it (RFC 8176). */
export const PASSKEY_AMR: readonly string[] = ['hwk', 'user'];

/** Offered when users are the gateway's own (identity.source file) and passkeys work at this public_url. */
export function passkeySignInOffered(ctx: RequestContext): boolean {
  return ctx.snap.config.identity.source === 'file' && ctx.svc.webauthn.rpId !== '';
}

/** Only the address counts before the passkey names its user (one key for password and passkey attempts). */
function addressKeys(ctx: RequestContext) {
  return throttleKeys('pwd', '-', ctx.client.ip).filter((k) => !k.account);
}

/**
 * Ceremonies one address (an IPv6 client's /64, policy/address-prefix.ts) may
 * start per minute: enough for a busy NAT (the page asks on every load, for the
 * autofill offer). A start holds nothing in shared state, so this only bounds
 * the work one address can ask for; it cannot keep anyone else out.
 */
export const STARTS_PER_ADDRESS_PER_MINUTE = 600;

export async function passkeyOptions(ctx: RequestContext): Promise<void> {
  if (!passkeySignInOffered(ctx)) return sendJson(ctx, 404, { ok: false, code: 'unavailable' });
  if (!(await readCeremony(ctx, false))) return;
  const { svc } = ctx;
  const throttled = (waitMs: number) => sendJson(ctx, 429, { ok: false, code: 'throttled', wait_seconds: Math.ceil(waitMs / 1000) });
  const wait = await svc.throttle.waiting(addressKeys(ctx));
  if (wait > 0) return throttled(wait);
  const addressKey = `passkey:start:${addressSource(ctx.client.ip)}`;
  if (await svc.shared.incr(addressKey, 60_000) > STARTS_PER_ADDRESS_PER_MINUTE) return throttled(Math.max(1000, await svc.shared.ttl(addressKey)));
  const options = await svc.webauthn.discoverableOptions(ctx.session!.sid);
  sendJson(ctx, 200, { ok: true, options });
}

export async function passkeyVerify(ctx: RequestContext): Promise<void> {
  if (!passkeySignInOffered(ctx)) return sendJson(ctx, 404, { ok: false, code: 'unavailable' });
  const b = await readCeremony(ctx, false);
  if (!b) return;
  const { svc } = ctx;
  const rd = safeReturnTarget(typeof b.rd === 'string' ? b.rd : undefined, ctx.snap.publicOrigin) ?? '/';
  const anyone = signInParty(ctx, '-');
  const reserved = await reserveSignIn(svc, svc.throttle, addressKeys(ctx), anyone);
  if (!reserved.ok) return sendJson(ctx, 429, { ok: false, code: 'throttled', wait_seconds: Math.ceil(reserved.waitMs / 1000) });
  const r = await svc.webauthn.finishDiscoverable(ctx.session!.sid, b.response);
  const user = r.ok ? svc.identity.getUser(r.user) : undefined;
  if (!r.ok || !user || user.disabled) {
    const reason = r.ok ? 'passkey of an unknown or disabled user' : `passkey: ${r.reason}`;
    const { waitMs } = await failSignIn(svc, svc.throttle, reserved.attempt, r.ok ? signInParty(ctx, r.user) : anyone, reason, { message: 'passkey sign-in failed', fields: { reason } });
    return sendJson(ctx, waitMs > 0 ? 429 : 401, waitMs > 0 ? { ok: false, code: 'throttled', wait_seconds: Math.ceil(waitMs / 1000) } : { ok: false, code: 'failed' });
  }
  await svc.throttle.succeed(reserved.attempt);
  const check = r.verified.check;
  const signedIn = await signInBrowser(ctx, { user: user.id, amr: [...PASSKEY_AMR], method: (device) => (device ? 'passkey+device' : 'passkey'), factors: [check] });
  // The page's script shows the words of the code (views/partials/passkey-signin.eta).
  if (!signedIn.ok) return sendJson(ctx, 403, { ok: false, code: signedIn.by === 'risk' ? 'risk_denied' : 'failed' });
  const state = await svc.store.getUserState(user.id);
  await svc.store.putUserState({ user: user.id, deferrals: state?.deferrals ?? 0, last_factor: 'webauthn', mfa_reset_at: state?.mfa_reset_at ?? null, updated_at: svc.now() });
  await svc.audit.write({ event: 'factor.used', user: user.id, factor: 'webauthn', factor_id: r.factorId, ip: ctx.client.ip, request_id: ctx.requestId });
  svc.metrics.challenge('webauthn', 'pass');
  sendJson(ctx, 200, { ok: true, redirect: rd }, { 'set-cookie': signedIn.setCookie });
}
