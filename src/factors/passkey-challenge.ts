// The passkey sign-in challenge carries what the gateway would otherwise keep
// for it (README "Passkey sign-in"): a random nonce, when it lapses, and a MAC
// over both and the session id of the browser that asked. Starting a sign-in
// therefore leaves nothing in shared state, so there is no pool that a few
// busy addresses could fill; finishing one checks the MAC and the time, then
// spends the nonce in shared state (webauthn.ts), which is what single use needs.
// Pure: the key, the nonce and the time are arguments.

import { createHmac, timingSafeEqual } from 'node:crypto';

const NONCE_BYTES = 16;
/** Unix ms in 48 bits: enough until the year 10889. */
const TIME_BYTES = 6;
const MAC_BYTES = 16;
/** 38 bytes, 51 characters of base64url in the client data. */
export const CHALLENGE_BYTES = NONCE_BYTES + TIME_BYTES + MAC_BYTES;

/** Why a challenge is not this browser's live one: not of our shape, not made for this browser (or forged), or lapsed. */
export type ChallengeRefusal = 'malformed' | 'foreign' | 'expired';

function macOf(key: Buffer, nonce: Buffer, expires: Buffer, bind: string): Buffer {
  // The fixed-length fields come first, so the session id after them cannot be shifted into them.
  return createHmac('sha256', key).update(nonce).update(expires).update(bind, 'utf8').digest().subarray(0, MAC_BYTES);
}

/** The challenge bytes for browser `bind`, lapsing at `expiresAt` (unix ms). */
export function sealChallenge(key: Buffer, bind: string, nonce: Buffer, expiresAt: number): Buffer {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`a challenge nonce is ${NONCE_BYTES} bytes, got ${nonce.length}`);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt >= 2 ** (8 * TIME_BYTES)) throw new RangeError(`bad challenge expiry ${expiresAt}`);
  const expires = Buffer.alloc(TIME_BYTES);
  expires.writeUIntBE(expiresAt, 0, TIME_BYTES);
  return Buffer.concat([nonce, expires, macOf(key, nonce, expires, bind)]);
}

/**
 * Opens the challenge a browser's answer claims (base64url, as in its client
 * data) for browser `bind` at `now`: its nonce (base64url, the key that spends
 * it) and expiry, or why it is refused. The MAC is checked before the time, so
 * a challenge made for another browser is told as that, lapsed or not.
 */
export function openChallenge(key: Buffer, bind: string, challenge: string, now: number):
  { ok: true; nonce: string; expiresAt: number } | { ok: false; why: ChallengeRefusal } {
  const bytes = Buffer.from(challenge, 'base64url');
  // One spelling per challenge: what was signed is exactly what was given out.
  if (bytes.length !== CHALLENGE_BYTES || bytes.toString('base64url') !== challenge) return { ok: false, why: 'malformed' };
  const nonce = bytes.subarray(0, NONCE_BYTES);
  const expires = bytes.subarray(NONCE_BYTES, NONCE_BYTES + TIME_BYTES);
  if (!timingSafeEqual(bytes.subarray(NONCE_BYTES + TIME_BYTES), macOf(key, nonce, expires, bind))) return { ok: false, why: 'foreign' };
  const expiresAt = expires.readUIntBE(0, TIME_BYTES);
  // Written so that a clock reading NaN refuses (fails closed) rather than accepts.
  if (!(now < expiresAt)) return { ok: false, why: 'expired' };
  return { ok: true, nonce: nonce.toString('base64url'), expiresAt };
}
