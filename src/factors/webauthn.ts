// WebAuthn second factor: passkeys and security keys, several per
// user, named and removable, the only phishing-resistant kind (the signature
// covers the origin, so a look-alike site cannot relay it). Session amr is
// 'hwk'; the phishing-resistant fact travels as FactorCheck.phishing_resistant
// and, in the identity assertion, as acr 'phr'.
//
// Pending challenges live in shared state (single use, TTL), so a ceremony
// started on one instance completes on another. Each is kept for the user in
// one browser (its session's binding): an answer another session of the
// user signed is not this session's to submit, and no session replaces a
// challenge another browser is still answering. A passkey sign-in's challenge
// carries its own state instead (passkey-challenge.ts), and only its nonce is
// spent in shared state when it is answered. Credentials live in the durable
// store as FactorRecords of kind 'webauthn'.

import { createHash, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorSelectionCriteria,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { SharedState } from '../store/shared-state.ts';
import { openChallenge, sealChallenge } from './passkey-challenge.ts';
import type { FactorRecord, Store } from '../store/types.ts';
import { verified, type Verified } from './types.ts';

export type WebAuthnKind = 'passkey' | 'security-key';

/** EdDSA, ES256, RS256. The library's default adds ML-DSA-44, which prints ExperimentalWarnings on Node 24. */
export const SUPPORTED_ALGORITHM_IDS: readonly number[] = [-8, -7, -257];

/** The library and its ASN.1 stack (about 260 modules) load at the first ceremony, not at every start-up. */
const simpleWebAuthn = () => import('@simplewebauthn/server');

const DEFAULT_CHALLENGE_TTL_MS = 5 * 60_000;
const NAME_MAX = 64;
const DEFAULT_NAMES: Record<WebAuthnKind, string> = { passkey: 'Passkey', 'security-key': 'Security key' };

export interface WebAuthnOptions {
  store: Store;
  shared: SharedState;
  rpName: string;
  publicUrl: string;
  now?: () => number;
  challengeTtlMs?: number;
  /**
   * Seals passkey sign-in challenges (32 bytes or more); every instance needs
   * the same one (app.ts derives it from factors.encryption_key). Without it, a
   * key of this process alone: its challenges are answered only here.
   */
  challengeKey?: Buffer;
}

/** What a WebAuthn FactorRecord keeps in `data`. */
export interface WebAuthnCredentialData {
  credential_id: string;        // base64url
  public_key: string;           // base64url COSE key
  counter: number;
  transports: string[];
  aaguid: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  /** User verification is required at every sign-in: true for credentials registered as passkeys. */
  uv: boolean;
}

export type Result<T> = ({ ok: true } & T) | { ok: false; reason: string };

export interface WebAuthnService {
  rpId: string;
  origin: string;
  /** Options for `user` in browser `bind` (its session's binding, ceremonyBinding); only that browser can finish. */
  registrationOptions(user: { id: string; name: string; displayName: string }, bind: string, kind: WebAuthnKind): Promise<PublicKeyCredentialCreationOptionsJSON>;
  finishRegistration(user: { id: string }, bind: string, response: unknown, name: string): Promise<Result<{ factor: FactorRecord }>>;
  /** Options for `user` in browser `bind`; only that browser can finish, once. */
  authenticationOptions(user: { id: string }, bind: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  finishAuthentication(user: { id: string }, bind: string, response: unknown): Promise<Result<{ verified: Verified; factorId: string }>>;
  /**
   * Passkey sign-in: options that name no credential (the browser offers the
   * discoverable ones it holds), bound to `bind` (the asking browser's session id).
   */
  discoverableOptions(bind: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** The user the credential names, verified with user verification; fails for any other browser than the one bound. */
  finishDiscoverable(bind: string, response: unknown): Promise<Result<{ user: string; verified: Verified; factorId: string }>>;
}

// ---------------------------------------------------------------------------
// Pure core

/** The relying party a public URL implies: RP ID = host name, expected origin = scheme://host[:port]. */
export function relyingPartyFor(publicUrl: string): { rpId: string; origin: string } {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error(`webauthn: public_url ${JSON.stringify(publicUrl)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`webauthn: public_url must be http(s), got ${url.protocol}`);
  const rpId = url.hostname;
  // WebAuthn RP IDs are domains: browsers refuse IP addresses.
  if (rpId.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(rpId)) throw new Error(`webauthn: public_url host ${rpId} is an IP address; WebAuthn needs a domain name (localhost works for testing)`);
  return { rpId, origin: url.origin };
}

/** The WebAuthn user handle: stable per user and RP, derived so it survives restarts without storage, and not the username in clear. */
export function userHandleFor(rpId: string, userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(`${rpId}:${userId}`).digest());
}

export function authenticatorSelectionFor(kind: WebAuthnKind): AuthenticatorSelectionCriteria {
  // Fresh object every call: generateRegistrationOptions mutates it.
  return kind === 'passkey'
    // No authenticatorAttachment: let the browser offer the device, a phone, or a password manager.
    ? { residentKey: 'required', userVerification: 'required' }
    : { authenticatorAttachment: 'cross-platform', residentKey: 'discouraged', userVerification: 'preferred' };
}

/** The label for a new credential: trimmed, 1–64 characters, a default when blank. */
export function credentialName(input: unknown, kind: WebAuthnKind): Result<{ name: string }> {
  if (input === undefined || input === null) return { ok: true, name: DEFAULT_NAMES[kind] };
  if (typeof input !== 'string') return { ok: false, reason: 'name must be text' };
  const name = input.trim();
  if (name === '') return { ok: true, name: DEFAULT_NAMES[kind] };
  if ([...name].length > NAME_MAX) return { ok: false, reason: `name is longer than ${NAME_MAX} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return { ok: false, reason: 'name contains control characters' };
  return { ok: true, name };
}

/**
 * Sign-count check (WebAuthn §6.1.1): a counter that does not move forward
 * means a cloned authenticator. Authenticators that never count (always 0,
 * common for synced passkeys) are accepted while both sides stay at 0.
 */
export function counterAccepted(stored: number, received: number): boolean {
  if (stored === 0 && received === 0) return true;
  return received > stored;
}

const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;
// Generous ceilings (credential IDs are at most 1023 bytes; attestation with a certificate chain a few KB).
const MAX = { id: 1400, clientDataJSON: 8192, attestationObject: 65536, authenticatorData: 8192, signature: 2048, userHandle: 128 } as const;

function b64url(v: unknown, max: number, allowEmpty = false): v is string {
  return typeof v === 'string' && v.length <= max && (allowEmpty || v.length > 0) && B64URL.test(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A browser's credential answer, rebuilt from checked parts only (nothing else the browser sent goes to the library). */
function credentialJson<R>(id: string, response: R) {
  return { id, rawId: id, type: 'public-key' as const, response, clientExtensionResults: {} };
}

/** Shape check before any parsing: the library expects well-typed input and throws on anything else. */
export function asRegistrationResponse(v: unknown): RegistrationResponseJSON | undefined {
  if (!isRecord(v) || !isRecord(v.response) || v.type !== 'public-key') return undefined;
  if (!b64url(v.id, MAX.id) || v.rawId !== v.id) return undefined;
  const r = v.response;
  if (!b64url(r.clientDataJSON, MAX.clientDataJSON) || !b64url(r.attestationObject, MAX.attestationObject)) return undefined;
  if (r.transports !== undefined && !(Array.isArray(r.transports) && r.transports.length <= 10 && r.transports.every((x) => typeof x === 'string' && x.length <= 32))) return undefined;
  if (v.clientExtensionResults !== undefined && !isRecord(v.clientExtensionResults)) return undefined;
  return {
    ...credentialJson(v.id, {
      clientDataJSON: r.clientDataJSON,
      attestationObject: r.attestationObject,
      ...(r.transports !== undefined ? { transports: r.transports as RegistrationResponseJSON['response']['transports'] } : {}),
    }),
    ...(typeof v.authenticatorAttachment === 'string' ? { authenticatorAttachment: v.authenticatorAttachment as RegistrationResponseJSON['authenticatorAttachment'] } : {}),
  };
}

export function asAuthenticationResponse(v: unknown): AuthenticationResponseJSON | undefined {
  if (!isRecord(v) || !isRecord(v.response) || v.type !== 'public-key') return undefined;
  if (!b64url(v.id, MAX.id) || v.rawId !== v.id) return undefined;
  const r = v.response;
  if (!b64url(r.clientDataJSON, MAX.clientDataJSON) || !b64url(r.authenticatorData, MAX.authenticatorData) || !b64url(r.signature, MAX.signature)) return undefined;
  if (r.userHandle !== undefined && r.userHandle !== null && !b64url(r.userHandle, MAX.userHandle, true)) return undefined;
  return credentialJson(v.id, {
    clientDataJSON: r.clientDataJSON,
    authenticatorData: r.authenticatorData,
    signature: r.signature,
    ...(typeof r.userHandle === 'string' && r.userHandle !== '' ? { userHandle: r.userHandle } : {}),
  });
}

/** Reads a stored record's data; undefined when it is not a usable WebAuthn credential. */
export function credentialDataOf(rec: FactorRecord): WebAuthnCredentialData | undefined {
  if (rec.kind !== 'webauthn') return undefined;
  const d = rec.data;
  if (typeof d.credential_id !== 'string' || typeof d.public_key !== 'string') return undefined;
  if (typeof d.counter !== 'number' || !Number.isInteger(d.counter) || d.counter < 0) return undefined;
  return {
    credential_id: d.credential_id,
    public_key: d.public_key,
    counter: d.counter,
    transports: Array.isArray(d.transports) ? d.transports.filter((x): x is string => typeof x === 'string') : [],
    aaguid: typeof d.aaguid === 'string' ? d.aaguid : '',
    device_type: d.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backed_up: d.backed_up === true,
    // Fail closed: anything but an explicit false requires user verification.
    uv: d.uv !== false,
  };
}

// ---------------------------------------------------------------------------
// Shell

interface PendingRegistration { challenge: string; kind: WebAuthnKind }
interface PendingAuthentication { challenge: string }

/**
 * Pure: the shared-state key of the `ceremony` pending for `user` in browser
 * `bind`. Both parts are encoded, so no user id or binding can spell another
 * pair's key.
 */
export function pendingCeremonyKey(ceremony: 'reg' | 'auth', user: string, bind: string): string {
  return `webauthn:${ceremony}:${encodeURIComponent(user)}:${encodeURIComponent(bind)}`;
}
// A passkey sign-in's challenge, once answered, by its nonce (two tabs of one browser each have their own).
const discSpentKey = (nonce: string): string => `webauthn:disc-spent:${nonce}`;
/** How far instances' clocks may differ while a spent passkey sign-in challenge still cannot be answered again (as totp.ts allows). */
const SPENT_SKEW_MS = 60_000;
const DISCOVERABLE_REFUSALS = {
  malformed: 'malformed client data',
  foreign: 'the sign-in was started by another browser',
  expired: 'no pending sign-in (expired or already used)',
} as const;

/** Compare-and-set attempts on one sign counter before the assertion is refused (each lost round means the counter moved). */
const COUNTER_ROUNDS = 8;

/** The challenge a browser's clientDataJSON claims (verified later by the library against the one we keep). */
export function claimedChallenge(clientDataJSON: string): string | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    return isRecord(v) && typeof v.challenge === 'string' && v.challenge.length <= 128 ? v.challenge : undefined;
  } catch {
    return undefined;
  }
}

function parsePending<T>(raw: string | null, check: (v: Record<string, unknown>) => boolean): T | undefined {
  if (raw === null) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return isRecord(v) && check(v) ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

function validUserId(user: unknown): string | undefined {
  return isRecord(user) && typeof user.id === 'string' && user.id !== '' ? user.id : undefined;
}

/** Options calls are the caller's code: a missing user id is a programming error. */
function requireUserId(user: { id: string }): string {
  const id = validUserId(user);
  if (id === undefined) throw new TypeError('webauthn: a user id is required');
  return id;
}

function validBinding(bind: unknown): bind is string {
  return typeof bind === 'string' && bind !== '';
}

/** As requireUserId: options without the browser they are for are a programming error. */
function requireBinding(bind: unknown): string {
  if (!validBinding(bind)) throw new TypeError('webauthn: a binding is required');
  return bind;
}

async function webauthnCredentials(store: Store, user: string): Promise<Array<{ rec: FactorRecord; data: WebAuthnCredentialData }>> {
  const out: Array<{ rec: FactorRecord; data: WebAuthnCredentialData }> = [];
  for (const rec of await store.listFactors(user)) {
    const data = credentialDataOf(rec);
    if (data) out.push({ rec, data });
  }
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createWebAuthn(o: WebAuthnOptions): WebAuthnService {
  const { rpId, origin } = relyingPartyFor(o.publicUrl);
  const now = o.now ?? Date.now;
  const ttl = o.challengeTtlMs ?? DEFAULT_CHALLENGE_TTL_MS;
  const { store, shared } = o;
  const challengeKey = o.challengeKey ?? randomBytes(32);
  if (challengeKey.length < 32) throw new RangeError('webauthn: the challenge key must be at least 32 bytes');
  const handleB64 = (user: string): string => Buffer.from(userHandleFor(rpId, user)).toString('base64url');
  // What both ceremonies expect of the browser's answer: our challenge, our origin, our RP ID.
  const expected = <R>(response: R, challenge: string) => ({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpId });

  return {
    rpId,
    origin,

    async registrationOptions(user, bind, kind) {
      const id = requireUserId(user);
      const key = pendingCeremonyKey('reg', id, requireBinding(bind));
      if (kind !== 'passkey' && kind !== 'security-key') throw new TypeError(`webauthn: unknown credential kind ${String(kind)}`);
      const existing = await webauthnCredentials(store, id);
      const options = await (await simpleWebAuthn()).generateRegistrationOptions({
        rpName: o.rpName,
        rpID: rpId,
        userName: user.name,
        userDisplayName: user.displayName,
        userID: userHandleFor(rpId, id),
        timeout: ttl,
        attestationType: 'none',
        excludeCredentials: existing.map(({ data }) => ({ id: data.credential_id, transports: data.transports })),
        authenticatorSelection: authenticatorSelectionFor(kind),
        supportedAlgorithmIDs: [...SUPPORTED_ALGORITHM_IDS],
        ...(kind === 'security-key' ? { preferredAuthenticatorType: 'securityKey' as const } : {}),
      });
      const pending: PendingRegistration = { challenge: options.challenge, kind };
      await shared.set(key, JSON.stringify(pending), ttl);
      return options;
    },

    async finishRegistration(user, bind, response, name) {
      // Finishing answers { ok: false } for any bad input, a missing user id or binding included.
      const id = validUserId(user);
      if (id === undefined) return { ok: false, reason: 'webauthn: a user id is required' };
      if (!validBinding(bind)) return { ok: false, reason: 'webauthn: a binding is required' };
      const body = asRegistrationResponse(response);
      if (!body) return { ok: false, reason: 'malformed registration response' };
      // A bad label is refused before the challenge is spent (only the default depends on the kind).
      const nameCheck = credentialName(name, 'passkey');
      if (!nameCheck.ok) return nameCheck;
      const pending = parsePending<PendingRegistration>(await shared.take(pendingCeremonyKey('reg', id, bind)), (v) =>
        typeof v.challenge === 'string' && (v.kind === 'passkey' || v.kind === 'security-key'));
      if (!pending) return { ok: false, reason: 'no pending registration (expired or already used)' };
      const label = credentialName(name, pending.kind);
      if (!label.ok) return label;

      let info;
      try {
        const result = await (await simpleWebAuthn()).verifyRegistrationResponse({
          ...expected(body, pending.challenge),
          requireUserPresence: true,
          requireUserVerification: pending.kind === 'passkey',
          supportedAlgorithmIDs: [...SUPPORTED_ALGORITHM_IDS],
        });
        if (!result.verified) return { ok: false, reason: 'registration not verified' };
        info = result.registrationInfo;
      } catch (err) {
        return { ok: false, reason: `registration refused: ${describe(err)}` };
      }

      const data: WebAuthnCredentialData = {
        credential_id: info.credential.id,
        public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        aaguid: info.aaguid,
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
        uv: pending.kind === 'passkey',
      };
      const factor: FactorRecord = {
        id: randomBytes(16).toString('base64url'),
        user: id,
        kind: 'webauthn',
        name: label.name,
        data: { ...data },
        created_at: now(),
        last_used_at: null,
      };
      // Registered to anyone (WebAuthn §7.1 step 26): credential ids are not secret, and a second
      // owner of one would end its first owner's passkey sign-in. The store refuses it in the
      // insert itself, so two registrations at once cannot both pass a check made before.
      if (!(await store.addFactor(factor))) return { ok: false, reason: 'credential already registered' };
      return { ok: true, factor };
    },

    async authenticationOptions(user, bind) {
      const id = requireUserId(user);
      const key = pendingCeremonyKey('auth', id, requireBinding(bind));
      const existing = await webauthnCredentials(store, id);
      const options = await (await simpleWebAuthn()).generateAuthenticationOptions({
        rpID: rpId,
        allowCredentials: existing.map(({ data }) => ({ id: data.credential_id, transports: data.transports })),
        timeout: ttl,
        // 'preferred' so a security key without a PIN still works; passkeys get
        // verification enforced per credential in finishAuthentication.
        userVerification: existing.some(({ data }) => data.uv) && existing.every(({ data }) => data.uv) ? 'required' : 'preferred',
      });
      const pending: PendingAuthentication = { challenge: options.challenge };
      await shared.set(key, JSON.stringify(pending), ttl);
      return options;
    },

    async finishAuthentication(user, bind, response) {
      // Finishing answers { ok: false } for any bad input, a missing user id or binding included.
      const id = validUserId(user);
      if (id === undefined) return { ok: false, reason: 'webauthn: a user id is required' };
      if (!validBinding(bind)) return { ok: false, reason: 'webauthn: a binding is required' };
      const body = asAuthenticationResponse(response);
      if (!body) return { ok: false, reason: 'malformed authentication response' };
      const pending = parsePending<PendingAuthentication>(await shared.take(pendingCeremonyKey('auth', id, bind)), (v) => typeof v.challenge === 'string');
      if (!pending) return { ok: false, reason: 'no pending sign-in (expired or already used)' };

      const match = (await webauthnCredentials(store, id)).find(({ data }) => data.credential_id === body.id);
      if (!match) return { ok: false, reason: 'unknown credential' };
      // A discoverable credential names its user; it must be this one.
      if (body.response.userHandle !== undefined && body.response.userHandle !== handleB64(id)) return { ok: false, reason: 'credential belongs to another user' };
      return verifyAssertion(body, pending.challenge, match, match.data.uv);
    },

    async discoverableOptions(bind) {
      requireBinding(bind);
      const options = await (await simpleWebAuthn()).generateAuthenticationOptions({
        rpID: rpId,
        allowCredentials: [],
        timeout: ttl,
        // Both factors at once: the device proves possession, the fingerprint or PIN the person.
        userVerification: 'required',
        // Nothing is written: the challenge itself says whose it is and until when (whole ms: a clock may read fractions).
        challenge: new Uint8Array(sealChallenge(challengeKey, bind, randomBytes(16), Math.floor(now()) + ttl)),
      });
      return options;
    },

    async finishDiscoverable(bind, response) {
      const body = asAuthenticationResponse(response);
      if (!body) return { ok: false, reason: 'malformed authentication response' };
      const challenge = claimedChallenge(body.response.clientDataJSON);
      if (challenge === undefined) return { ok: false, reason: 'malformed client data' };
      // The binding is checked before the challenge is spent: a browser that merely knows
      // another's challenge must not be able to cancel that browser's sign-in.
      const opened = openChallenge(challengeKey, bind, challenge, now());
      if (!opened.ok) return { ok: false, reason: DISCOVERABLE_REFUSALS[opened.why] };
      // Spent before the answer is verified, as the other ceremonies take theirs: one try per challenge.
      // The mark lives as long as the challenge has left on this clock, plus what another instance's
      // clock may be behind it: until then some instance still takes the challenge.
      const spentFor = opened.expiresAt - now() + SPENT_SKEW_MS;
      if (!(await shared.setIfAbsent(discSpentKey(opened.nonce), '1', spentFor))) return { ok: false, reason: DISCOVERABLE_REFUSALS.expired };
      if (body.response.userHandle === undefined) return { ok: false, reason: 'the credential named no user (not a passkey)' };
      const found = await store.factorsByCredentialId(body.id);
      const matches = found.flatMap((rec) => {
        const data = credentialDataOf(rec);
        return data ? [{ rec, data }] : [];
      });
      // One owner or none: an id claimed by two users is refused rather than guessed.
      if (matches.length !== 1) return { ok: false, reason: matches.length === 0 ? 'unknown credential' : 'credential id registered to several users' };
      const match = matches[0];
      if (body.response.userHandle !== handleB64(match.rec.user)) return { ok: false, reason: 'credential belongs to another user' };
      const r = await verifyAssertion(body, challenge, match, true);
      return r.ok ? { ...r, user: match.rec.user } : r;
    },
  };

  /**
   * Checks a browser's assertion against a stored credential (signature,
   * origin, RP ID, challenge, user verification when required, the counter)
   * and records the use.
   */
  async function verifyAssertion(
    body: AuthenticationResponseJSON, challenge: string, { rec, data }: { rec: FactorRecord; data: WebAuthnCredentialData }, requireUv: boolean,
  ): Promise<Result<{ verified: Verified; factorId: string }>> {
    let info;
    try {
      const result = await (await simpleWebAuthn()).verifyAuthenticationResponse({
        ...expected(body, challenge),
        // Counter 0 here: the library's own check is bypassed so the regression rule below is ours, explicit and named.
        credential: { id: data.credential_id, publicKey: new Uint8Array(Buffer.from(data.public_key, 'base64url')), counter: 0, transports: data.transports },
        requireUserVerification: requireUv,
      });
      if (!result.verified) return { ok: false, reason: 'signature not verified' };
      info = result.authenticationInfo;
    } catch (err) {
      return { ok: false, reason: `sign-in refused: ${describe(err)}` };
    }
    if (requireUv && !info.userVerified) return { ok: false, reason: 'user verification required' };

    // Compare-and-set on the stored counter: the counter read above may be stale by now (another
    // assertion of this credential verified meanwhile, a clone's or the original's). The write
    // happens only while the stored counter is still the one checked; otherwise the check runs
    // again against the newer one. Counters only move up, so this ends; the bound is a backstop.
    const at = now();
    let current = { rec, counter: data.counter };
    for (let round = 0; round < COUNTER_ROUNDS; round++) {
      if (!counterAccepted(current.counter, info.newCounter)) return { ok: false, reason: 'counter regression' };
      const written = await store.updateFactorIfCounter(rec.user, rec.id, current.counter, {
        data: { ...current.rec.data, counter: info.newCounter, backed_up: info.credentialBackedUp, device_type: info.credentialDeviceType },
        last_used_at: at,
      });
      if (written) return { ok: true, verified: verified('webauthn', at, rec.id), factorId: rec.id };
      const fresh = await store.getFactor(rec.user, rec.id);
      const freshData = fresh && credentialDataOf(fresh);
      if (!fresh || !freshData) return { ok: false, reason: 'unknown credential' };
      current = { rec: fresh, counter: freshData.counter };
    }
    return { ok: false, reason: 'counter regression' };
  }
}
