// The durable store: what must survive restarts (factors, devices, recovery
// codes, per-user rollout state, signing keys). Two implementations share this
// contract: SQLite (embedded default) and PostgreSQL (scale-out). Every method is
// async so callers never care which one is behind it.

import type { FactorKind } from '../config/types.ts';

export interface FactorRecord {
  id: string;                   // random id
  user: string;
  kind: FactorKind;             // totp | webauthn | email | sms (recovery codes live apart)
  name: string;                 // user-visible label ("YubiKey 5", "Authenticator app")
  /** Kind-specific data. TOTP: { key_id, ciphertext } ; WebAuthn: { credential_id, public_key, counter, transports, aaguid, device_type, backed_up } */
  data: Record<string, unknown>;
  created_at: number;           // unix ms
  last_used_at: number | null;  // unix ms
}

export interface DeviceRecord {
  id: string;                   // random id, also what the remember-device cookie names
  user: string;
  label: string;                // e.g. "Chrome on Linux"
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
}

/** One signed-in browser in the per-user session registry (the security page lists these). */
export interface SessionRecord {
  id: string;                   // the session's registry id (SessionData.rid): stable across step-ups, revocable
  user: string;
  label: string;                // "Chrome on Linux", from the User-Agent
  network: string;              // where from, by network: the client's /24 (IPv4) or /48 (IPv6)
  created_at: number;
  seen_at: number;              // last activity, moved at most once per idle-slide interval
  expires_at: number;           // created_at + session.max_age
}

export interface UserState {
  user: string;
  deferrals: number;            // "set up later" uses
  last_factor: FactorKind | null;
  mfa_reset_at: number | null;
  updated_at: number;
}

/** A key pair of a service the gateway runs (the VAPID key of Web Push): made once, shared by every instance. */
export interface ServiceKey {
  name: string;                 // e.g. 'vapid'
  sealed_private: string;       // sealed with factors.encryption_key (secret-box format)
  public: string;               // as the service publishes it (VAPID: base64url of the uncompressed P-256 point)
  created_at: number;
}

export interface SigningKey {
  kid: string;
  alg: 'ES256';
  private_jwk: string;          // sealed with factors.encryption_key (secret-box format); plain JSON in older versions
  public_jwk: string;           // JSON
  created_at: number;
  retired_at: number | null;    // still published for a grace period after this
}

/** The newest sign-in of a user from one network (/24 or /48): what the risk signals compare with. */
export interface SignInPlace {
  network: string;
  country: string | null;       // ISO 3166 alpha-2, when GeoIP knew it
  lat: number | null;           // degrees, when a city database or the locations file knew them
  lon: number | null;
  at: number;                   // unix ms of that sign-in
}

export interface Store {
  /**
   * Create or upgrade the schema (idempotent; safe when several instances start together).
   * Answers what the operator must hear of: rows a migration changed (none for most).
   */
  migrate(): Promise<string[]>;
  /** Throws when the store is unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;

  listFactors(user: string): Promise<FactorRecord[]>;
  getFactor(user: string, id: string): Promise<FactorRecord | undefined>;
  /**
   * Stores a new factor; false, storing nothing, when it is a WebAuthn credential whose id
   * is already registered (to anyone): the database refuses the second owner, so two
   * registrations at once cannot both pass. Throws on a duplicate record id.
   */
  addFactor(rec: FactorRecord): Promise<boolean>;
  updateFactor(user: string, id: string, patch: Partial<Pick<FactorRecord, 'name' | 'data' | 'last_used_at'>>): Promise<void>;
  /**
   * updateFactor for a WebAuthn credential, only while its stored sign counter
   * (data.counter) is still `counter`: true when it applied. Compare-and-set, so
   * two sign-ins verified against one read of the counter cannot both write it.
   */
  updateFactorIfCounter(user: string, id: string, counter: number, patch: Partial<Pick<FactorRecord, 'data' | 'last_used_at'>>): Promise<boolean>;
  removeFactor(user: string, id: string): Promise<boolean>;
  removeAllFactors(user: string): Promise<number>;
  /** WebAuthn credentials with this credential id (base64url), any user: the passkey sign-in names no user. */
  factorsByCredentialId(credentialId: string): Promise<FactorRecord[]>;
  /** Users who have at least one factor, with their factor kinds (for reports). */
  listEnrolledUsers(): Promise<Array<{ user: string; kinds: FactorKind[] }>>;

  /** Replaces every recovery code of the user (old ones die). Hashes only. */
  replaceRecoveryCodes(user: string, hashes: string[]): Promise<void>;
  /** Atomically marks the code used; true only the first time. */
  consumeRecoveryCode(user: string, hash: string): Promise<boolean>;
  countRecoveryCodes(user: string): Promise<number>;   // unused ones

  addDevice(rec: DeviceRecord): Promise<void>;
  getDevice(id: string): Promise<DeviceRecord | undefined>;
  listDevices(user: string): Promise<DeviceRecord[]>;
  touchDevice(id: string, at: number): Promise<void>;
  removeDevice(user: string, id: string): Promise<boolean>;
  removeAllDevices(user: string): Promise<number>;

  /**
   * Registers a signed-in browser. Bounded: the user's expired entries go, and
   * only the `keep` most recently seen stay listed (older sessions still end
   * with "sign out everywhere").
   */
  addSession(rec: SessionRecord, keep: number): Promise<void>;
  /** The user's registered sessions not past expires_at, most recently seen first. */
  listSessions(user: string, now: number): Promise<SessionRecord[]>;
  /** Moves last-seen forward (never back) and records the network it was seen from. */
  touchSession(id: string, at: number, network: string): Promise<void>;
  removeSession(user: string, id: string): Promise<boolean>;
  removeAllSessions(user: string): Promise<number>;

  getUserState(user: string): Promise<UserState | undefined>;
  putUserState(state: UserState): Promise<void>;
  /** Users whose MFA was reset after `since` (unix ms): every instance polls this to end their sessions. */
  mfaResetsSince(since: number): Promise<Array<{ user: string; at: number }>>;

  /** Remembers a sign-in place (one row per user and network, the newest wins) and forgets the user's places seen before `forgetBefore`. */
  recordSignInPlace(user: string, place: SignInPlace, forgetBefore: number): Promise<void>;
  /** The user's remembered places, oldest first. */
  listSignInPlaces(user: string): Promise<SignInPlace[]>;

  listSigningKeys(): Promise<SigningKey[]>;
  addSigningKey(key: SigningKey): Promise<void>;
  retireSigningKey(kid: string, at: number): Promise<void>;
  /** Stores the private key anew (sealed under the current encryption key); the rest of the record stays. */
  replaceSigningPrivateKey(kid: string, privateJwk: string): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /**
   * Consecutive failed attempts of one account (`name`: the throttle's account key, e.g.
   * `pwd:u:alice`), counted before each attempt is verified (identity/throttle.ts).
   * addFailure adds one atomically and answers the new count; removeFailure takes one
   * back (the attempt was not verified after all); clearFailures forgets the names (a
   * success, or an operator's unlock) and answers how many had a count.
   */
  failureCount(name: string): Promise<number>;
  addFailure(name: string, at: number): Promise<number>;
  removeFailure(name: string): Promise<void>;
  clearFailures(names: readonly string[]): Promise<number>;
  /** Accounts with at least `min` consecutive failures, most first. */
  listFailures(min: number): Promise<Array<{ name: string; failures: number; updated_at: number }>>;

  getServiceKey(name: string): Promise<ServiceKey | undefined>;
  /** Stores the key unless one of that name exists; true when this call stored it (several instances starting at once agree on one). */
  addServiceKey(key: ServiceKey): Promise<boolean>;
}
