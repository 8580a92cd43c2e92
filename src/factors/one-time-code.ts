// Codes sent by email or text message: short-lived, single-use,
// rate-limited fallbacks, never phishing-resistant.
//
// Each code lives in shared state under its own key, named by
// HMAC(key, kind:user:code), with the code's TTL. Checking a code is one atomic
// `take` of that key: single use holds across instances, and no comparison of
// secrets happens in JavaScript at all (the lookup is by keyed hash, so its
// timing tells nothing about other codes). A per-user index of hashes only
// serves to retire the oldest code past `maxActive` and to clear all codes once
// one succeeds.

import { createHmac, randomInt } from 'node:crypto';
import type { SharedState } from '../store/shared-state.ts';
import type { Notifier } from '../identity/notifier.ts';
import { oneTimeCodeMessage, type MessageContext } from '../identity/messages.ts';
import { userIdOf, verified, type UserRef, type Verified } from './types.ts';

const HOUR_MS = 3_600_000;
const MAX_INPUT_CHARS = 64;
const DEFAULT_HMAC_KEY = 'gatehouse one-time code v1';

export interface OneTimeCodesOptions {
  shared: SharedState;
  notifier: Notifier;
  kind: 'email' | 'sms';
  ttlMs: number;
  /** Digits per code, 6–8. */
  length: number;
  /** Unexpired codes a user may hold at once; sending one more retires the oldest. Default 3. */
  maxActive?: number;
  /** Minimum time between two sends to one user. Default 30 s. */
  resendIntervalMs?: number;
  /** Sends per user per hour (stops mailbox flooding and SMS pumping). Default 10. */
  maxSendsPerHour?: number;
  /** Secret for the hashes kept in shared state (same on every instance). */
  hmacKey?: string;
  /** branding.product_name and support_contact, for the message text when a send names none (the page passes the running config's). */
  product?: string;
  support?: string;
  now?: () => number;
}

export interface CodeRecipient { id: string; email?: string; phone?: string }

export type OneTimeSendResult =
  | { ok: true; expiresAt: number }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number }
  | { ok: false; reason: 'no_destination' };

export type OneTimeVerifyResult = { ok: true; verified: Verified } | { ok: false; reason: 'invalid_code' | 'expired' };

export interface OneTimeCodes {
  readonly kind: 'email' | 'sms';
  /** `message`: product, support and the reader's language for the text (default: the options'). */
  send(user: CodeRecipient, message?: MessageContext): Promise<OneTimeSendResult>;
  verify(user: UserRef, code: string): Promise<OneTimeVerifyResult>;
  /** Milliseconds until the user may ask for another code (0: now); also how the page knows a code was just sent. */
  resendWait(user: UserRef): Promise<number>;
}

/** Pure: the digits in what a person typed, or undefined when it cannot be a code of `length` digits. */
export function normalizeCodeInput(input: unknown, length: number): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_INPUT_CHARS) return undefined;
  const code = input.replace(/[\s-]/g, '');
  return code.length === length && /^[0-9]+$/.test(code) ? code : undefined;
}

/** Pure: keep the unexpired entries, add the new one, retire the oldest past `max`. */
export function admitCode(index: Array<[string, number]>, entry: [string, number], max: number, now: number): { keep: Array<[string, number]>; retire: string[] } {
  const live = index.filter(([, exp]) => exp > now).sort((a, b) => a[1] - b[1]);
  live.push(entry);
  const retire = live.splice(0, Math.max(0, live.length - max)).map(([h]) => h);
  return { keep: live, retire };
}

export function createOneTimeCodes(opts: OneTimeCodesOptions): OneTimeCodes {
  const { shared, notifier, kind, ttlMs, length } = opts;
  const maxActive = opts.maxActive ?? 3;
  const resendIntervalMs = opts.resendIntervalMs ?? 30_000;
  const maxSendsPerHour = opts.maxSendsPerHour ?? 10;
  const hmacKey = opts.hmacKey ?? DEFAULT_HMAC_KEY;
  const product = opts.product ?? 'gatehouse';
  const now = opts.now ?? Date.now;
  if (kind !== 'email' && kind !== 'sms') throw new TypeError(`one-time codes are email or sms, got ${String(kind)}`);
  if (!Number.isInteger(length) || length < 6 || length > 8) throw new RangeError(`code length must be 6–8 digits, got ${length}`);
  if (!(ttlMs > 0)) throw new RangeError('code ttl must be positive');
  if (!Number.isInteger(maxActive) || maxActive < 1) throw new RangeError('maxActive must be at least 1');
  if (!(resendIntervalMs > 0)) throw new RangeError('resendIntervalMs must be positive');

  const prefix = `otc:${kind}`;
  const hashOf = (user: string, code: string) => createHmac('sha256', hmacKey).update(`${kind}:${user}:${code}`).digest('base64url');
  const codeKey = (user: string, hash: string) => `${prefix}:code:${enc(user)}:${hash}`;
  const indexKey = (user: string) => `${prefix}:index:${enc(user)}`;
  const resendKey = (user: string) => `${prefix}:resend:${enc(user)}`;
  const hourKey = (user: string) => `${prefix}:hour:${enc(user)}`;

  async function readIndex(user: string): Promise<Array<[string, number]>> {
    const raw = await shared.get(indexKey(user));
    if (raw === null) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number') : [];
    } catch {
      return [];
    }
  }

  async function retryAfter(key: string, fallback: number): Promise<number> {
    const ms = await shared.ttl(key);
    return ms > 0 ? ms : fallback;
  }

  return {
    kind,

    async send(user, message) {
      const id = userIdOf(user);
      const to = (kind === 'email' ? user.email : user.phone)?.trim();
      if (!to) return { ok: false, reason: 'no_destination' };

      if (!(await shared.setIfAbsent(resendKey(id), '1', resendIntervalMs))) {
        return { ok: false, reason: 'rate_limited', retryAfterMs: await retryAfter(resendKey(id), resendIntervalMs) };
      }
      if ((await shared.incr(hourKey(id), HOUR_MS)) > maxSendsPerHour) {
        return { ok: false, reason: 'rate_limited', retryAfterMs: await retryAfter(hourKey(id), HOUR_MS) };
      }

      const code = String(randomInt(0, 10 ** length)).padStart(length, '0');
      const hash = hashOf(id, code);
      const at = now();
      const expiresAt = at + ttlMs;
      const { keep, retire } = admitCode(await readIndex(id), [hash, expiresAt], maxActive, at);
      for (const h of retire) await shared.delete(codeKey(id, h));
      await shared.set(codeKey(id, hash), String(expiresAt), ttlMs);
      await shared.set(indexKey(id), JSON.stringify(keep), ttlMs);

      try {
        const msg = oneTimeCodeMessage(message ?? { product, support: opts.support }, { code, ttlMs, channel: kind });
        await notifier.send({ to, ...msg });
      } catch (err) {
        // Not delivered: the code must not stay usable, and the user may try again at once.
        await shared.delete(codeKey(id, hash));
        await shared.delete(resendKey(id));
        throw err;
      }
      return { ok: true, expiresAt };
    },

    async resendWait(user) {
      return Math.max(0, await shared.ttl(resendKey(userIdOf(user))));
    },

    async verify(user, input) {
      const id = userIdOf(user);
      const code = normalizeCodeInput(input, length);
      if (code === undefined) return { ok: false, reason: 'invalid_code' };
      const stored = await shared.take(codeKey(id, hashOf(id, code)));
      if (stored === null) return { ok: false, reason: 'invalid_code' };
      const at = now();
      if (!(Number(stored) > at)) return { ok: false, reason: 'expired' };
      // One code got the user in: the others sent alongside it die too.
      for (const [h] of await readIndex(id)) await shared.delete(codeKey(id, h));
      await shared.delete(indexKey(id));
      // The code arrived and was used: the next one (a sign-in right after
      // confirming the address at enrollment) need not wait out the resend
      // interval. The hourly cap still counts every send.
      await shared.delete(resendKey(id));
      return { ok: true, verified: verified(kind, at) };
    },
  };
}

/** Shared-state keys are ':'-separated; keep user ids from forging a neighbour's key. */
function enc(user: string): string {
  return encodeURIComponent(user);
}
