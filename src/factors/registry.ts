// One interface to a user's second factors for pages and policy: the factor
// services built from config, plus what is enrolled, listing, renaming and
// removal. WebAuthn lives in its own module; its records share the store.
//
// Email and text-message codes become enrolled factors through
// beginCodeEnrollment / finishCodeEnrollment: the destination the code went to
// is remembered in shared state, so the one confirmed is the one stored.

import { randomBytes } from 'node:crypto';
import type { FactorsConfig } from '../config/types.ts';
import type { FactorRecord, Store } from '../store/types.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { Notifier } from '../identity/notifier.ts';
import type { MessageContext } from '../identity/messages.ts';
import { createOneTimeCodes, type OneTimeCodes, type OneTimeSendResult, type OneTimeVerifyResult } from './one-time-code.ts';
import { createRecoveryCodes, type RecoveryCodes } from './recovery-codes.ts';
import { createSecretBox, deriveSecret, type SecretBox } from '../store/secret-box.ts';
import { createTotp, type Totp } from './totp.ts';
import { createPushService, type PushService } from './push.ts';
import { FACTOR_KINDS, cleanFactorName, factorKindInfo, userIdOf, type FactorKind, type UserRef } from './types.ts';

const ENROLL_TTL_MS = 15 * 60_000;
const MAX_DESTINATION_CHARS = 254;

export interface FactorRegistryOptions {
  store: Store;
  shared: SharedState;
  notifier: Notifier;
  factors: FactorsConfig;
  /** Earlier values of factors.encryption_key: their seeds and recovery codes keep working. */
  oldEncryptionKeys?: string[];
  product?: string;
  support?: string;
  /** server.public_url: push approval links point there. */
  publicUrl?: string;
  now?: () => number;
}

export type CodeKind = 'email' | 'sms';
export type CodeEnrollFinish = { ok: true; factor: FactorRecord } | { ok: false; reason: 'invalid_code' | 'expired' };

export interface FactorRegistry {
  readonly box: SecretBox;
  readonly totp: Totp;
  readonly recovery: RecoveryCodes;
  readonly email: OneTimeCodes;
  /** Absent unless factors.sms_otp is configured. */
  readonly sms?: OneTimeCodes;
  /** Absent unless factors.push is configured. */
  readonly push?: PushService;

  /** Kinds the user can be challenged with, strongest first ('recovery' while unused codes remain). */
  enrolledKinds(user: UserRef): Promise<FactorKind[]>;
  listFactors(user: UserRef): Promise<FactorRecord[]>;
  renameFactor(user: UserRef, id: string, name: string): Promise<boolean>;
  /** The removed record (for the notice and the audit line), or undefined when there was none. */
  removeFactor(user: UserRef, id: string): Promise<FactorRecord | undefined>;

  /** Sends a sign-in code: email to the user's address, sms to the phone of the user's sms factor. */
  sendCode(kind: CodeKind, user: { id: string; email?: string }, message?: MessageContext): Promise<OneTimeSendResult>;
  verifyCode(kind: CodeKind, user: UserRef, code: string): Promise<OneTimeVerifyResult>;
  /** Milliseconds until the user may ask for another code of this kind (0: now). */
  resendWait(kind: CodeKind, user: UserRef): Promise<number>;
  /** Sends a code to the destination being enrolled (email: the user's address; sms: the phone typed in). */
  beginCodeEnrollment(kind: CodeKind, user: { id: string; email?: string }, phone?: string, message?: MessageContext): Promise<OneTimeSendResult>;
  finishCodeEnrollment(kind: CodeKind, user: UserRef, code: string, name?: string): Promise<CodeEnrollFinish>;
}

/** Pure: a phone number as an SMS gateway wants it (E.164: +, then 8–15 digits), or undefined. */
export function normalizePhone(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 32) return undefined;
  const phone = input.replace(/[\s().-]/g, '');
  return /^\+[1-9][0-9]{7,14}$/.test(phone) ? phone : undefined;
}

/**
 * The kinds `user` can be challenged with, strongest first ('recovery' while
 * unused codes remain): FactorRegistry.enrolledKinds, and for tools that read
 * the store without a registry (`gatehouse explain`).
 */
export async function enrolledKindsIn(store: Pick<Store, 'listFactors' | 'countRecoveryCodes'>, user: string): Promise<FactorKind[]> {
  const kinds = new Set<FactorKind>((await store.listFactors(user)).map((f) => f.kind));
  if ((await store.countRecoveryCodes(user)) > 0) kinds.add('recovery');
  return FACTOR_KINDS.map((k) => k.kind).filter((k) => kinds.has(k));
}

export function createFactorRegistry(opts: FactorRegistryOptions): FactorRegistry {
  const { store, shared, notifier, factors } = opts;
  const now = opts.now ?? Date.now;
  const keys = [factors.encryption_key, ...(opts.oldEncryptionKeys ?? [])];
  const box = createSecretBox(keys);
  const message = { product: opts.product, support: opts.support };
  const codeHmacKey = deriveSecret(factors.encryption_key, 'one-time code v1');

  const totp = createTotp({ store, shared, box, issuer: factors.totp.issuer, now });
  const recovery = createRecoveryCodes({
    store,
    hmacKey: deriveSecret(keys[0], 'recovery code v1'),
    oldHmacKeys: keys.slice(1).map((k) => deriveSecret(k, 'recovery code v1')),
    count: factors.recovery_codes.count,
    now,
  });
  const email = createOneTimeCodes({ shared, notifier, kind: 'email', ttlMs: factors.email_otp.ttl, length: factors.email_otp.length, hmacKey: codeHmacKey, ...message, now });
  const sms = factors.sms_otp
    ? createOneTimeCodes({ shared, notifier, kind: 'sms', ttlMs: factors.sms_otp.ttl, length: factors.sms_otp.length, hmacKey: codeHmacKey, ...message, now })
    : undefined;

  const push = factors.push
    ? createPushService({ shared, store, notifier, box, config: factors.push, publicUrl: opts.publicUrl ?? 'http://localhost:8080', product: opts.product ?? 'gatehouse', support: opts.support, now })
    : undefined;

  function codes(kind: CodeKind): OneTimeCodes {
    const c = kind === 'email' ? email : kind === 'sms' ? sms : undefined;
    if (c === undefined) throw new Error(`${kind} codes are not configured`);
    return c;
  }
  const enrollKey = (kind: CodeKind, user: string) => `otc:${kind}:enroll:${encodeURIComponent(user)}`;

  return {
    box, totp, recovery, email, sms, push,

    enrolledKinds(user) {
      return enrolledKindsIn(store, userIdOf(user));
    },

    async listFactors(user) {
      return store.listFactors(userIdOf(user));
    },

    async renameFactor(user, id, name) {
      const uid = userIdOf(user);
      const factor = await store.getFactor(uid, id);
      if (factor === undefined) return false;
      await store.updateFactor(uid, id, { name: cleanFactorName(name, factor.name) });
      return true;
    },

    async removeFactor(user, id) {
      const uid = userIdOf(user);
      const factor = await store.getFactor(uid, id);
      if (factor === undefined) return undefined;
      return (await store.removeFactor(uid, id)) ? factor : undefined;
    },

    async sendCode(kind, user, message) {
      const id = userIdOf(user);
      if (kind === 'email') return codes(kind).send({ id, email: user.email }, message);
      const factor = (await store.listFactors(id)).find((f) => f.kind === 'sms' && typeof f.data.destination === 'string');
      return codes(kind).send({ id, phone: factor?.data.destination as string | undefined }, message);
    },

    async verifyCode(kind, user, code) {
      return codes(kind).verify(user, code);
    },

    resendWait(kind, user) {
      return codes(kind).resendWait(user);
    },

    async beginCodeEnrollment(kind, user, phone, message) {
      const id = userIdOf(user);
      const destination = kind === 'email' ? user.email?.trim() : normalizePhone(phone);
      if (!destination || destination.length > MAX_DESTINATION_CHARS) return { ok: false, reason: 'no_destination' };
      const sent = await codes(kind).send(kind === 'email' ? { id, email: destination } : { id, phone: destination }, message);
      if (sent.ok) await shared.set(enrollKey(kind, id), destination, ENROLL_TTL_MS);
      return sent;
    },

    async finishCodeEnrollment(kind, user, code, name) {
      const id = userIdOf(user);
      const destination = await shared.get(enrollKey(kind, id));
      if (destination === null) return { ok: false, reason: 'expired' };
      const result = await codes(kind).verify(id, code);
      if (!result.ok) return result;
      await shared.delete(enrollKey(kind, id));
      // Confirming the same address or phone again is not a second factor.
      const existing = (await store.listFactors(id)).find((f) => f.kind === kind && f.data.destination === destination);
      if (existing !== undefined) return { ok: true, factor: existing };
      const at = now();
      const factor: FactorRecord = {
        id: randomBytes(12).toString('base64url'),
        user: id,
        kind,
        name: cleanFactorName(name, factorKindInfo(kind).label),
        data: { destination },
        created_at: at,
        last_used_at: at,
      };
      await store.addFactor(factor);
      return { ok: true, factor };
    },
  };
}
