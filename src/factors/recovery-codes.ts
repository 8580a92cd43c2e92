// Recovery codes: shown once, hashed at rest, single-use,
// regenerable. Codes look like `k7mq-2xhp-9wdt`: 12 characters from a
// 32-letter alphabet without 0/o/1/l (60 bits each). The store keeps only
// HMAC-SHA256(hmacKey, normalized code), so a copy of the database does not
// give the codes away, and consuming one is a single atomic update.

import { createHmac, randomInt } from 'node:crypto';
import type { Store } from '../store/types.ts';
import { userIdOf, verified, type UserRef, type Verified } from './types.ts';

export const RECOVERY_ALPHABET = '23456789abcdefghijkmnpqrstuvwxyz';
const GROUPS = 3;
const GROUP_CHARS = 4;
const CODE_CHARS = GROUPS * GROUP_CHARS;
const MAX_INPUT_CHARS = 64;
const MIN_HMAC_KEY_CHARS = 32;

export interface RecoveryCodesOptions {
  store: Store;
  /** Secret for the at-rest HMAC (from config; same on every instance). */
  hmacKey: string;
  /** Keys of earlier configurations: codes hashed under them still verify (key rotation). */
  oldHmacKeys?: string[];
  /** How many codes a set has (config factors.recovery_codes.count). */
  count: number;
  now?: () => number;
}

export type RecoveryVerifyResult = { ok: true; verified: Verified; remaining: number } | { ok: false };

export interface RecoveryCodes {
  /** A fresh set; every older code of the user dies. The plain codes are returned once and never stored. */
  generate(user: UserRef): Promise<string[]>;
  verify(user: UserRef, input: string): Promise<RecoveryVerifyResult>;
  remaining(user: UserRef): Promise<number>;
}

/** Pure: the canonical form of what a person typed (case, spaces, dashes ignored), or undefined when it cannot be a code. */
export function normalizeRecoveryInput(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_INPUT_CHARS) return undefined;
  const code = input.toLowerCase().replace(/[\s-]/g, '');
  if (code.length !== CODE_CHARS) return undefined;
  for (const ch of code) if (!RECOVERY_ALPHABET.includes(ch)) return undefined;
  return code;
}

/** Pure: 'k7mq2xhp9wdt' → 'k7mq-2xhp-9wdt'. */
export function formatRecoveryCode(code: string): string {
  return code.match(new RegExp(`.{1,${GROUP_CHARS}}`, 'g'))?.join('-') ?? '';
}

export function randomRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < CODE_CHARS; i++) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return formatRecoveryCode(code);
}

export function hashRecoveryCode(hmacKey: string, normalized: string): string {
  return createHmac('sha256', hmacKey).update(normalized).digest('hex');
}

export function createRecoveryCodes(opts: RecoveryCodesOptions): RecoveryCodes {
  const { store, hmacKey, count } = opts;
  const now = opts.now ?? Date.now;
  const verifyKeys = [hmacKey, ...(opts.oldHmacKeys ?? [])];
  for (const key of verifyKeys) {
    if (typeof key !== 'string' || key.length < MIN_HMAC_KEY_CHARS) {
      throw new RangeError(`a recovery-code HMAC key must be at least ${MIN_HMAC_KEY_CHARS} characters`);
    }
  }
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new RangeError(`recovery code count must be 1–100, got ${count}`);

  return {
    async generate(user) {
      const id = userIdOf(user);
      const codes = new Set<string>();
      while (codes.size < count) codes.add(randomRecoveryCode());
      const plain = [...codes];
      await store.replaceRecoveryCodes(id, plain.map((c) => hashRecoveryCode(hmacKey, normalizeRecoveryInput(c) as string)));
      return plain;
    },

    async verify(user, input) {
      const id = userIdOf(user);
      const code = normalizeRecoveryInput(input);
      if (code === undefined) return { ok: false };
      let consumed = false;
      for (const key of verifyKeys) {
        if ((consumed = await store.consumeRecoveryCode(id, hashRecoveryCode(key, code)))) break;
      }
      if (!consumed) return { ok: false };
      return { ok: true, verified: verified('recovery', now()), remaining: await store.countRecoveryCodes(id) };
    },

    async remaining(user) {
      return store.countRecoveryCodes(userIdOf(user));
    },
  };
}
