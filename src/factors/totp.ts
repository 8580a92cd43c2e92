// Authenticator-app codes (TOTP, RFC 6238): enrollment with a QR code
// and the secret as text, then verification with ±1 step of clock drift. A
// code is accepted once, across instances: the replay guard lives in shared
// state, and a time step at or before the last accepted one is refused too, so
// a code seen over someone's shoulder is dead once a newer one was used.
//
// Seeds are sealed with the SecretBox both while pending and at rest. A
// pending seed belongs to the browser that was shown it (its sign-in), not
// to the user: another browser signed in as the same user gets a seed of its
// own and cannot confirm this one, so one who was shown a seed without
// finishing cannot hand it on to the owner who enrolls after him.

import { randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verify as otpVerify } from 'otplib';
import type { FactorRecord, Store } from '../store/types.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { SecretBox } from '../store/secret-box.ts';
import { cleanFactorName, userIdOf, verified, type UserRef, type Verified } from './types.ts';

const PENDING_TTL_MS = 15 * 60_000;
/** Outlives the ±1 step window (at most 90 s) with margin for clock skew between instances. */
const USED_TTL_MS = 2 * 60_000;
const LAST_STEP_TTL_MS = 5 * 60_000;
const PERIOD_S = 30;
const DIGITS = 6;
const SECRET_BYTES = 20;            // 160 bits, RFC 4226's recommendation
const MAX_INPUT_CHARS = 64;
export const DEFAULT_TOTP_NAME = 'Authenticator app';

export interface TotpOptions {
  store: Store;
  shared: SharedState;
  box: SecretBox;
  issuer: string;
  /** Clock in unix ms (tests inject it). */
  now?: () => number;
}

export interface TotpEnrollment {
  secret: string;          // base32
  groupedSecret: string;   // 'ABCD EFGH …' for typing by hand
  uri: string;             // otpauth://totp/…
  qrSvg: string;           // inline SVG of the uri
}

export type TotpFinishResult = { ok: true; factor: FactorRecord } | { ok: false; reason: 'invalid_code' | 'expired' };
export type TotpVerifyResult = { ok: true; verified: Verified } | { ok: false; reason: 'invalid_code' | 'replayed' };

export interface Totp {
  /**
   * The pending setup of the user in browser `bind` (its session's binding,
   * ceremonyBinding): the one already begun there (the entry the user may
   * have scanned) while it lasts, or a new secret when there is none, it
   * cannot be opened, or `fresh` asks for one.
   */
  beginEnrollment(user: { id: string; email?: string }, bind: string, opts?: { fresh?: boolean }): Promise<TotpEnrollment>;
  /** Confirms the setup begun in browser `bind` only; any other browser's is 'expired' here. */
  finishEnrollment(user: UserRef, bind: string, code: string, name?: string): Promise<TotpFinishResult>;
  verify(user: UserRef, code: string): Promise<TotpVerifyResult>;
}

/** Pure: the 6 digits in what a person typed ("123 456", "123-456"), or undefined. ASCII digits only. */
export function normalizeTotpInput(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_INPUT_CHARS) return undefined;
  const code = input.replace(/[\s-]/g, '');
  return new RegExp(`^[0-9]{${DIGITS}}$`).test(code) ? code : undefined;
}

/**
 * Pure: the shared-state key of the setup pending for `user` in browser `bind`.
 * Both parts are encoded, so no user id or binding can spell another pair's key.
 */
export function pendingEnrollmentKey(user: string, bind: string): string {
  return `totp:pending:${enc(user)}:${enc(bind)}`;
}

/** Pure: 'ABCDEFGH…' → 'ABCD EFGH …'. */
export function groupSecret(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(' ') ?? '';
}

/** Which time step the code matches within ±1 step, or undefined. otplib throws on odd input: that is a non-match. */
async function matchStep(secret: string, code: string, nowMs: number): Promise<number | undefined> {
  try {
    const r = await otpVerify({ secret, token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: PERIOD_S, period: PERIOD_S, digits: DIGITS });
    return r.valid && 'timeStep' in r ? r.timeStep : undefined;
  } catch {
    return undefined;
  }
}

export function createTotp(opts: TotpOptions): Totp {
  const { store, shared, box, issuer } = opts;
  const now = opts.now ?? Date.now;
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('a TOTP issuer is required');

  const usedKey = (user: string, factorId: string, step: number) => `totp:used:${enc(user)}:${factorId}:${step}`;
  const lastKey = (user: string, factorId: string) => `totp:last:${enc(user)}:${factorId}`;

  /** Claims `step` for the factor: false when it, or a later step, was already used. */
  async function claimStep(user: string, factorId: string, step: number): Promise<boolean> {
    const last = await shared.get(lastKey(user, factorId));
    if (last !== null && step <= Number(last)) return false;
    if (!(await shared.setIfAbsent(usedKey(user, factorId, step), '1', USED_TTL_MS))) return false;
    // Not atomic with the read above; two concurrent claims of different steps
    // can both pass, but each step is still single-use (setIfAbsent).
    const latest = await shared.get(lastKey(user, factorId));
    if (latest === null || step > Number(latest)) await shared.set(lastKey(user, factorId), String(step), LAST_STEP_TTL_MS);
    return true;
  }

  /** The pending secret, or undefined when none is pending or no configured key opens it. */
  async function pendingSecret(key: string): Promise<string | undefined> {
    const pending = await shared.get(key);
    if (pending === null) return undefined;
    try {
      return box.open(pending).toString('utf8');
    } catch {
      return undefined;
    }
  }

  return {
    async beginEnrollment(user, bind, opts = {}) {
      const id = userIdOf(user);
      const key = pendingEnrollmentKey(id, requireBinding(bind));
      const kept = opts.fresh ? undefined : await pendingSecret(key);
      const secret = kept ?? generateSecret({ length: SECRET_BYTES });
      const uri = generateURI({ issuer, label: user.email || id, secret, period: PERIOD_S, digits: DIGITS });
      // qrcode loads with the first enrollment, not at every start-up.
      const qrSvg = await (await import('qrcode')).default.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      if (kept === undefined) await shared.set(key, box.seal(Buffer.from(secret, 'utf8')), PENDING_TTL_MS);
      return { secret, groupedSecret: groupSecret(secret), uri, qrSvg };
    },

    async finishEnrollment(user, bind, code, name) {
      const id = userIdOf(user);
      // No binding, nothing of this browser's to confirm (fails closed).
      if (typeof bind !== 'string' || bind === '') return { ok: false, reason: 'expired' };
      const key = pendingEnrollmentKey(id, bind);
      const pending = await shared.get(key);
      if (pending === null) return { ok: false, reason: 'expired' };
      const digits = normalizeTotpInput(code);
      if (digits === undefined) return { ok: false, reason: 'invalid_code' };
      const secret = box.open(pending).toString('utf8');
      const at = now();
      const step = await matchStep(secret, digits, at);
      if (step === undefined) return { ok: false, reason: 'invalid_code' };
      // take: two concurrent confirmations cannot both create a factor.
      const taken = await shared.take(key);
      if (taken !== pending) return { ok: false, reason: 'expired' };
      const factor: FactorRecord = {
        id: randomBytes(12).toString('base64url'),
        user: id,
        kind: 'totp',
        name: cleanFactorName(name, DEFAULT_TOTP_NAME),
        data: { secret: box.seal(Buffer.from(secret, 'utf8')) },
        created_at: at,
        last_used_at: at,
      };
      await claimStep(id, factor.id, step);
      await store.addFactor(factor);
      return { ok: true, factor };
    },

    async verify(user, code) {
      const id = userIdOf(user);
      const digits = normalizeTotpInput(code);
      if (digits === undefined) return { ok: false, reason: 'invalid_code' };
      const factors = (await store.listFactors(id)).filter((f) => f.kind === 'totp');
      const at = now();
      let replayed = false;
      let unreadable: Error | undefined;
      for (const factor of factors) {
        const sealed = factor.data.secret;
        let secret: string;
        try {
          if (typeof sealed !== 'string') throw new Error(`TOTP factor ${factor.id} has no sealed secret`);
          secret = box.open(sealed).toString('utf8');
        } catch (err) {
          unreadable = err as Error;
          continue;
        }
        const step = await matchStep(secret, digits, at);
        if (step === undefined) continue;
        if (!(await claimStep(id, factor.id, step))) {
          replayed = true;
          continue;
        }
        const patch: Parameters<Store['updateFactor']>[2] = { last_used_at: at };
        // Rotation: a seed sealed under an old key is sealed again under the current one.
        if (box.kidOf(sealed as string) !== box.currentKid) patch.data = { ...factor.data, secret: box.seal(Buffer.from(secret, 'utf8')) };
        await store.updateFactor(id, factor.id, patch);
        return { ok: true, verified: verified('totp', at, factor.id) };
      }
      if (replayed) return { ok: false, reason: 'replayed' };
      // A seed no configured key opens is an operator problem (key removed too
      // early), not a wrong code: fail closed loudly instead of answering "invalid".
      if (unreadable !== undefined) throw unreadable;
      return { ok: false, reason: 'invalid_code' };
    },
  };
}

/** Beginning a setup is the caller's code: a missing binding is a programming error. */
function requireBinding(bind: unknown): string {
  if (typeof bind !== 'string' || bind === '') throw new TypeError('totp: a browser binding is required');
  return bind;
}

/** Shared-state keys are ':'-separated; keep user ids from forging a neighbour's key. */
function enc(user: string): string {
  return encodeURIComponent(user);
}
