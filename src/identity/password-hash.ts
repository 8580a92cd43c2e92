// Argon2 password hashes in the standard PHC string form
//   $argon2id$v=19$m=19456,t=2,p=1$<salt, base64 no padding>$<hash, base64 no padding>
// so hashes made by other tools (the argon2 CLI, libsodium, passlib, PHP…)
// verify here and ours verify there. Hashing uses Node 24's built-in
// crypto.argon2: no native addon.

import { argon2, randomBytes, timingSafeEqual, type Argon2Algorithm } from 'node:crypto';

export interface HashParams {
  /** Memory in KiB. */
  memory: number;
  passes: number;
  parallelism: number;
  saltLength: number;
  tagLength: number;
}

/** OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): ~50 ms here. */
export const DEFAULT_HASH_PARAMS: HashParams = { memory: 19456, passes: 2, parallelism: 1, saltLength: 16, tagLength: 32 };

/**
 * Upper bounds for parameters read from a hash. A hostile or mistyped users
 * file must not make one sign-in allocate gigabytes or spin for minutes.
 */
export const PARAM_LIMITS = { maxMemory: 1024 * 1024, maxPasses: 10, maxParallelism: 16 } as const;

/** Node implements Argon2 version 0x13 only; older (0x10) hashes cannot verify. */
const VERSION = 0x13;

export interface PhcArgon2 {
  algorithm: Argon2Algorithm;
  version: number;
  memory: number;
  passes: number;
  parallelism: number;
  salt: Buffer;
  hash: Buffer;
}

const PHC = /^\$(argon2id|argon2i|argon2d)(?:\$v=(\d{1,3}))?\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$/;

/**
 * Parses a PHC argon2 string, or null when it is malformed or asks for
 * something this process will not do (unsupported version, parameters past
 * the limits, keyid/data fields).
 */
export function parsePhc(phc: string): PhcArgon2 | null {
  if (typeof phc !== 'string' || phc.length > 1024) return null;
  const m = PHC.exec(phc);
  if (m === null) return null;
  const [, algorithm, v, mem, t, p, saltB64, hashB64] = m;
  const version = v === undefined ? 0x10 : Number(v);
  const memory = Number(mem);
  const passes = Number(t);
  const parallelism = Number(p);
  if (version !== VERSION) return null;
  if (parallelism < 1 || parallelism > PARAM_LIMITS.maxParallelism) return null;
  if (passes < 1 || passes > PARAM_LIMITS.maxPasses) return null;
  if (memory < 8 * parallelism || memory > PARAM_LIMITS.maxMemory) return null;
  const salt = decodeB64(saltB64);
  const hash = decodeB64(hashB64);
  if (salt === null || hash === null) return null;
  if (salt.length < 8 || hash.length < 4) return null;
  return { algorithm: algorithm as Argon2Algorithm, version, memory, passes, parallelism, salt, hash };
}

export function formatPhc(h: PhcArgon2): string {
  return `$${h.algorithm}$v=${h.version}$m=${h.memory},t=${h.passes},p=${h.parallelism}$${encodeB64(h.salt)}$${encodeB64(h.hash)}`;
}

export async function hashPassword(password: string, params: Partial<HashParams> = {}): Promise<string> {
  const p = { ...DEFAULT_HASH_PARAMS, ...params };
  if (p.memory > PARAM_LIMITS.maxMemory || p.passes > PARAM_LIMITS.maxPasses || p.parallelism > PARAM_LIMITS.maxParallelism) {
    throw new RangeError('argon2 parameters exceed the limits this gateway accepts when verifying');
  }
  if (p.saltLength < 16) throw new RangeError('salt must be at least 16 bytes');
  const salt = randomBytes(p.saltLength);
  const hash = await derive('argon2id', password, salt, p.memory, p.passes, p.parallelism, p.tagLength);
  return formatPhc({ algorithm: 'argon2id', version: VERSION, memory: p.memory, passes: p.passes, parallelism: p.parallelism, salt, hash });
}

/** True when `password` matches `phc`. Never throws: anything malformed is simply false. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  if (typeof password !== 'string') return false;
  const h = parsePhc(phc);
  if (h === null) return false;
  try {
    const candidate = await derive(h.algorithm, password, h.salt, h.memory, h.passes, h.parallelism, h.hash.length);
    return timingSafeEqual(candidate, h.hash);
  } catch {
    return false;
  }
}

/**
 * A hash of a random password nobody knows, with the default parameters.
 * Verifying against it makes "no such user" cost as much as "wrong password".
 */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$YktZSmdSbUZ3ZEFqY2o5OQ$DBUDD/48Mlp4I8salsorvSKuP+PSTVHS3XBvQFa9nU4';

/** Spends one verification's worth of time and answers false. */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, typeof password === 'string' ? password : '');
  return false;
}

function derive(algorithm: Argon2Algorithm, password: string, salt: Buffer, memory: number, passes: number, parallelism: number, tagLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    try {
      argon2(algorithm, { message: Buffer.from(password, 'utf8'), nonce: salt, memory, passes, parallelism, tagLength }, (err, key) =>
        err ? reject(err) : resolve(key),
      );
    } catch (err) {
      reject(err);
    }
  });
}

/** PHC's base64: standard alphabet, no padding; anything non-canonical is rejected. */
function decodeB64(s: string): Buffer | null {
  if (s.length % 4 === 1) return null;
  const buf = Buffer.from(s, 'base64');
  return encodeB64(buf) === s ? buf : null;
}

function encodeB64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}
