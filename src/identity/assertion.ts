// The signed identity assertion for upstream apps: an ES256 JWT they
// can verify against /.gatehouse/jwks.json. Signing costs ~50 µs, so
// assertions are cached per session and audience and re-signed only when they
// near expiry or the session's facts change (the cache key includes them).
// The key set is re-read from the store every few minutes (in the background,
// never on the request's path), so a long-running gateway rotates its key when
// it turns 30 days old, and every instance publishes keys the others added.
//
// The private key is stored sealed with factors.encryption_key, like TOTP
// seeds: reading the database is not enough to mint assertions. A key stored
// before that (plain JSON) or sealed under an older encryption key is sealed
// again under the current one at start.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SigningKey, Store } from '../store/types.ts';
import type { SecretBox } from '../store/secret-box.ts';

const LIFETIME_S = 300;              // short: upstreams should check per request
const RESIGN_BEFORE_S = 60;
const KEY_MAX_AGE_MS = 30 * 86_400_000;
const RETIRED_GRACE_MS = 7 * 86_400_000;
const RELOAD_INTERVAL_MS = 5 * 60_000;

export interface AssertionClaims {
  sub: string;
  email: string;
  groups: string[];
  amr: string[];
  acr: string;
  auth_time: number;   // unix seconds
  sid: string;
}

interface Active { kid: string; key: KeyObject; created: number }

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

export function newSigningKey(now: number): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' });
  const kid = randomBytes(12).toString('base64url');
  return {
    kid,
    alg: 'ES256',
    private_jwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
    public_jwk: JSON.stringify({ ...pub, kid, alg: 'ES256', use: 'sig' }),
    created_at: now,
    retired_at: null,
  };
}

export class AssertionSigner {
  #active: Active | undefined;
  #published: object[] = [];
  readonly #cache = new LRUCache<string, { jwt: string; exp: number }>({ max: 50_000 });
  readonly #issuer: string;
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #now: () => number;
  readonly #onError: (err: Error) => void;
  #loadedAt = 0;
  #reloading: Promise<void> | undefined;

  /** `onError` hears about background reloads that failed (the current keys stay in use). */
  constructor(store: Store, box: SecretBox, issuer: string, now: () => number = Date.now, onError: (err: Error) => void = () => {}) {
    this.#store = store;
    this.#box = box;
    this.#issuer = issuer;
    this.#now = now;
    this.#onError = onError;
  }

  /** A plain private key (stored before keys were sealed) is JSON; a sealed one is not. */
  #privateJwk(k: SigningKey): JsonWebKey {
    const text = k.private_jwk.startsWith('{') ? k.private_jwk : this.#box.open(k.private_jwk).toString('utf8');
    return JSON.parse(text) as JsonWebKey;
  }

  /** Seals every key not yet sealed under the current encryption key (retired ones a lost key cannot open stay as they are). */
  async #sealStored(keys: SigningKey[]): Promise<void> {
    for (const k of keys) {
      if (this.#box.kidOf(k.private_jwk) === this.#box.currentKid) continue;
      let jwk: JsonWebKey;
      try {
        jwk = this.#privateJwk(k);
      } catch (err) {
        if (k.retired_at !== null) continue; // never signs again
        throw err;
      }
      const sealed = this.#box.seal(Buffer.from(JSON.stringify(jwk)));
      await this.#store.replaceSigningPrivateKey(k.kid, sealed);
      k.private_jwk = sealed;
    }
  }

  /**
   * Loads the keys; creates the first one on first start; rotates a key older
   * than 30 days (the old one stays published for 7 more days).
   */
  async init(): Promise<void> {
    const now = this.#now();
    let keys = await this.#store.listSigningKeys();
    await this.#sealStored(keys);
    let active = keys.filter((k) => k.retired_at === null).sort((a, b) => b.created_at - a.created_at)[0];
    if (!active || now - active.created_at > KEY_MAX_AGE_MS) {
      const plain = newSigningKey(now);
      const fresh = { ...plain, private_jwk: this.#box.seal(Buffer.from(plain.private_jwk)) };
      await this.#store.addSigningKey(fresh);
      // Every other unretired key, not only the newest: instances that rotated at
      // the same moment must not leave a key published forever.
      for (const k of keys) if (k.retired_at === null) await this.#store.retireSigningKey(k.kid, now);
      keys = await this.#store.listSigningKeys();
      active = keys.find((k) => k.kid === fresh.kid)!;
    }
    for (const k of keys) {
      if (k.retired_at !== null && now - k.retired_at > RETIRED_GRACE_MS) await this.#store.deleteSigningKey(k.kid);
    }
    const published = keys
      .filter((k) => k.retired_at === null || now - k.retired_at <= RETIRED_GRACE_MS)
      .map((k) => {
        const jwk = JSON.parse(k.public_jwk);
        createPublicKey({ key: jwk, format: 'jwk' }); // proves it parses
        return jwk;
      });
    // Swap both at once, only after everything parsed: a bad key set changes nothing.
    if (this.#active?.kid !== active.kid) {
      this.#active = { kid: active.kid, key: createPrivateKey({ key: this.#privateJwk(active), format: 'jwk' }), created: active.created_at };
      this.#cache.clear();
    }
    this.#published = published;
    this.#loadedAt = now;
  }

  /** Starts a background reload when the key set is a few minutes old or the key is due for rotation. */
  #refreshIfDue(now: number): void {
    if (this.#reloading || !this.#active) return;
    if (now - this.#loadedAt < RELOAD_INTERVAL_MS && now - this.#active.created <= KEY_MAX_AGE_MS) return;
    this.#reloading = this.init()
      .catch((err: Error) => this.#onError(err))
      .finally(() => { this.#reloading = undefined; });
  }

  /** Resolves when no background reload is running (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#reloading;
  }

  jwks(): { keys: object[] } {
    this.#refreshIfDue(this.#now());
    return { keys: this.#published };
  }

  /**
   * Signs another payload (an audit checkpoint) with the current key, as a
   * compact JWS whose `typ` keeps it from passing for an identity assertion.
   */
  signJws(payload: Record<string, unknown>, typ: string): { kid: string; jws: string } {
    const active = this.#active;
    if (!active) throw new Error('assertion signer not initialised');
    const input = `${b64url(JSON.stringify({ alg: 'ES256', typ, kid: active.kid }))}.${b64url(JSON.stringify(payload))}`;
    const sig = sign('sha256', Buffer.from(input), { key: active.key, dsaEncoding: 'ieee-p1363' });
    return { kid: active.kid, jws: `${input}.${b64url(sig)}` };
  }

  /** A cached or fresh assertion for this session and audience (the upstream origin). */
  assertion(claims: AssertionClaims, audience: string): string {
    const active = this.#active;
    if (!active) throw new Error('assertion signer not initialised');
    const nowMs = this.#now();
    this.#refreshIfDue(nowMs);
    const nowS = Math.floor(nowMs / 1000);
    const key = `${active.kid}|${audience}|${claims.sid}|${claims.sub}|${claims.auth_time}|${claims.amr.join(' ')}|${claims.groups.join(',')}`;
    const hit = this.#cache.get(key);
    if (hit && hit.exp - nowS > RESIGN_BEFORE_S) return hit.jwt;
    const exp = nowS + LIFETIME_S;
    const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: active.kid }));
    const payload = b64url(JSON.stringify({
      iss: this.#issuer, aud: audience, sub: claims.sub, email: claims.email, groups: claims.groups,
      amr: claims.amr, acr: claims.acr, auth_time: claims.auth_time, iat: nowS, exp, jti: randomBytes(12).toString('base64url'), sid: claims.sid,
    }));
    const input = `${header}.${payload}`;
    const sig = sign('sha256', Buffer.from(input), { key: active.key, dsaEncoding: 'ieee-p1363' });
    const jwt = `${input}.${b64url(sig)}`;
    this.#cache.set(key, { jwt, exp });
    return jwt;
  }
}
