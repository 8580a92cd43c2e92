// Encryption of secrets at rest (TOTP seeds; the assertion signing key): AES-256-GCM under a key
// derived with HKDF-SHA256 from `factors.encryption_key`. A sealed value names
// its key (kid), so keys rotate: the first key seals, every listed key opens,
// and a value sealed under an old key opens until it is sealed again.
//
// Format: v1.<kid>.<iv>.<ct>.<tag> (iv, ct, tag base64url). "v1.<kid>" is
// bound as additional authenticated data, so the header cannot be swapped.

import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const HKDF_INFO = 'gatehouse totp seed v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Same floor as the config schema: a short passphrase is not a key. */
export const MIN_KEY_CHARS = 32;

/** A sealed value names a key this process does not have: every instance needs the same factors.encryption_key. */
export class UnknownSealingKeyError extends Error {
  readonly kid: string;
  constructor(kid: string) {
    super(`sealed secret uses unknown key ${kid}: it was sealed with a different factors.encryption_key (every instance must use the same key)`);
    this.name = 'UnknownSealingKeyError';
    this.kid = kid;
  }
}

export interface SecretBox {
  /** kid of the key that seals. */
  readonly currentKid: string;
  seal(plaintext: Buffer): string;
  /** Throws on a malformed value, an unknown kid (UnknownSealingKeyError) or any tampering. */
  open(sealed: string): Buffer;
  /** The kid a sealed value names (no decryption), or undefined when malformed. */
  kidOf(sealed: string): string | undefined;
}

interface Key { kid: string; key: Buffer }

export function deriveKey(secret: string): Key {
  if (typeof secret !== 'string' || secret.length < MIN_KEY_CHARS) {
    throw new RangeError(`an encryption key must be at least ${MIN_KEY_CHARS} characters`);
  }
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), HKDF_INFO, 32));
  const kid = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return { kid, key };
}

/** keys[0] seals; all of them open. */
export function createSecretBox(keys: string[]): SecretBox {
  if (!Array.isArray(keys) || keys.length === 0) throw new RangeError('createSecretBox needs at least one key');
  const derived = keys.map(deriveKey);
  const byKid = new Map<string, Buffer>();
  for (const d of derived) if (!byKid.has(d.kid)) byKid.set(d.kid, d.key);
  const current = derived[0];

  return {
    currentKid: current.kid,
    seal(plaintext) {
      if (!Buffer.isBuffer(plaintext)) throw new TypeError('seal takes a Buffer');
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(`${VERSION}.${current.kid}`));
      const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, current.kid, b64(iv), b64(ct), b64(tag)].join('.');
    },
    open(sealed) {
      const parts = parse(sealed);
      if (parts === undefined) throw new Error('sealed secret is malformed');
      const key = byKid.get(parts.kid);
      if (key === undefined) throw new UnknownSealingKeyError(parts.kid);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(`${VERSION}.${parts.kid}`));
        decipher.setAuthTag(parts.tag);
        return Buffer.concat([decipher.update(parts.ct), decipher.final()]);
      } catch {
        throw new Error('sealed secret failed authentication (tampered or wrong key)');
      }
    },
    kidOf(sealed) {
      return parse(sealed)?.kid;
    },
  };
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function parse(sealed: string): { kid: string; iv: Buffer; ct: Buffer; tag: Buffer } | undefined {
  if (typeof sealed !== 'string') return undefined;
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !/^[0-9a-f]{8}$/.test(parts[1])) return undefined;
  if (!parts.slice(2).every((p) => B64URL.test(p))) return undefined;
  const iv = Buffer.from(parts[2], 'base64url');
  const ct = Buffer.from(parts[3], 'base64url');
  const tag = Buffer.from(parts[4], 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  return { kid: parts[1], iv, ct, tag };
}

function b64(b: Buffer): string {
  return b.toString('base64url');
}

/** A separate secret for another purpose (e.g. recovery-code HMAC), derived from the same configured key. */
export function deriveSecret(secret: string, purpose: string): string {
  if (typeof secret !== 'string' || secret.length < MIN_KEY_CHARS) {
    throw new RangeError(`an encryption key must be at least ${MIN_KEY_CHARS} characters`);
  }
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `gatehouse ${purpose}`, 32)).toString('base64url');
}
