// The common second-factor model: what a passed check records, how each kind
// maps to an `amr` value for the session, headers and the identity assertion,
// and how pages present each kind.
//
// AMR values (RFC 8176 where it has one):
//   totp     → 'otp'   RFC 8176 "one-time password" (RFC 6238 is named there).
//   webauthn → 'hwk'   proof of possession of a hardware-secured key. Passkeys
//                      and security keys are the only phishing-resistant kind:
//                      origin-bound signatures a look-alike site cannot relay.
//                      RFC 8176 has no phishing-resistance value; that fact is
//                      carried by FactorCheck.phishing_resistant and, in the
//                      assertion, by the acr value PHISHING_RESISTANT_ACR
//                      ('phr', OpenID EAP ACR Values 1.0).
//   email    → 'mail'  not in RFC 8176 (its 'otp' would hide that the code came
//                      through a mailbox, which is much weaker than an app);
//                      'mail' is the common private value and is what the
//                      policy contract (FactorCheck.amr) already lists.
//   sms      → 'sms'   RFC 8176 "confirmation using SMS".
//   push     → 'mca'   RFC 8176 "multiple-channel authentication": the sign-in
//                      happens in one browser and is approved on another
//                      channel (the phone's notification or a link sent to
//                      it), with number matching binding the two. Possession
//                      of the phone; not phishing-resistant (a look-alike
//                      site can show the number it relays).
//   recovery → 'otp'   a recovery code is a pre-printed one-time password
//                      (NIST SP 800-63B "look-up secret", something you have).
//                      Not 'kba': that is knowledge-based questions, a
//                      different and weaker thing. FactorCheck.kind still says
//                      'recovery' for audit and step-up decisions.

import type { FactorKind } from '../config/types.ts';
import type { FactorCheck } from '../policy/types.ts';

export type { FactorKind };

/** A passed second-factor check: what the session records, and which factor did it. */
export interface Verified {
  check: FactorCheck;
  factorId?: string;
}

/** A user as the factor services need it: the id alone, or a record that has one. */
export type UserRef = string | { id: string };

export function userIdOf(user: UserRef): string {
  const id = typeof user === 'string' ? user : user.id;
  if (typeof id !== 'string' || id === '') throw new TypeError('a user id is required');
  return id;
}

const MAX_NAME_CHARS = 64;

/** Pure: a user-chosen factor name, cleaned; the default when empty. */
export function cleanFactorName(name: unknown, fallback: string): string {
  if (typeof name !== 'string') return fallback;
  const cleaned = name.replace(/\s+/g, ' ').replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, MAX_NAME_CHARS);
  return cleaned === '' ? fallback : cleaned;
}

/** The acr value for a session whose newest check is phishing-resistant. */
export const PHISHING_RESISTANT_ACR = 'phr';

const AMR: Record<FactorKind, string> = {
  totp: 'otp',
  webauthn: 'hwk',
  email: 'mail',
  sms: 'sms',
  push: 'mca',
  recovery: 'otp',
};

export function amrFor(kind: FactorKind): string {
  const amr = AMR[kind];
  if (amr === undefined) throw new TypeError(`unknown factor kind: ${String(kind)}`);
  return amr;
}

export function isPhishingResistant(kind: FactorKind): boolean {
  return kind === 'webauthn';
}

/** The session record of a check of `kind` passed at `at` (unix ms). */
export function factorCheck(kind: FactorKind, at: number): FactorCheck {
  return { kind, amr: amrFor(kind), phishing_resistant: isPhishingResistant(kind), at };
}

export function verified(kind: FactorKind, at: number, factorId?: string): Verified {
  return factorId === undefined ? { check: factorCheck(kind, at) } : { check: factorCheck(kind, at), factorId };
}

/** How pages present a factor kind (method picker, enrollment, account page). */
export interface FactorKindInfo {
  kind: FactorKind;
  label: string;
  description: string;
  badge: string;
  /** Weak kinds are offered as fallbacks, after the strong ones. */
  weak: boolean;
}

/** In the order pages should offer them: strongest first. */
export const FACTOR_KINDS: readonly FactorKindInfo[] = [
  {
    kind: 'webauthn',
    label: 'Passkey or security key',
    description: 'Confirm with your fingerprint, face, device PIN or a USB/NFC security key. Fake sites cannot steal it.',
    badge: 'Most secure',
    weak: false,
  },
  {
    kind: 'push',
    label: 'Approve on your phone',
    description: 'We send a request to your phone; tap the number this page shows.',
    badge: 'No typing',
    weak: false,
  },
  {
    kind: 'totp',
    label: 'Authenticator app',
    description: 'Enter the 6-digit code shown by an app such as Google Authenticator, Microsoft Authenticator or 1Password.',
    badge: 'Works offline',
    weak: false,
  },
  {
    kind: 'email',
    label: 'Email code',
    description: 'We email you a short code to type in.',
    badge: 'Needs your email',
    weak: true,
  },
  {
    kind: 'sms',
    label: 'Text message code',
    description: 'We text a short code to your phone.',
    badge: 'Needs your phone',
    weak: true,
  },
  {
    kind: 'recovery',
    label: 'Recovery code',
    description: 'Use one of the codes you saved when you set up two-step verification. Each code works once.',
    badge: 'Fallback',
    weak: true,
  },
];

export function factorKindInfo(kind: FactorKind): FactorKindInfo {
  const info = FACTOR_KINDS.find((k) => k.kind === kind);
  if (info === undefined) throw new TypeError(`unknown factor kind: ${String(kind)}`);
  return info;
}
