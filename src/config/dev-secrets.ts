// Development secrets: when session.secret, factors.encryption_key or audit.key
// is set nowhere (config, `*_file`, environment), a generated one is kept in
// <store dir>/dev-secrets.json (with a warning), so the demo runs with no
// setup and restarts keep the same keys. Several instances cannot share these:
// see requireSharedSecrets in secrets.ts.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isObject, messageOf } from './reader.ts';
import type { Config } from './types.ts';

type Built = Omit<Config, 'source_path' | 'warnings'>;
type DevSecret = 'session_secret' | 'encryption_key' | 'audit_key';

/**
 * Fills the missing secrets of `config` in place from dev-secrets.json,
 * generating those it lacks when `generate`, and writing the file back when
 * `persist`. Throws (never overwriting it) when the file cannot be read.
 */
export function fillDevSecrets(config: Built, warnings: string[], persist: boolean, generate: boolean): void {
  const missing: DevSecret[] = [];
  if (!config.session.secret) missing.push('session_secret');
  if (!config.factors.encryption_key) missing.push('encryption_key');
  if (!config.audit.key) missing.push('audit_key');
  if (missing.length === 0) return;

  const dir = config.store.kind === 'sqlite' ? dirname(config.store.path) : 'data';
  const file = join(dir, 'dev-secrets.json');
  const stored = readStored(file);
  const wanted = generate ? missing : missing.filter((key) => typeof stored[key] === 'string');
  const generated = new Set<DevSecret>();
  const value = (key: DevSecret): string => {
    const old = stored[key];
    if (typeof old === 'string' && old.length >= 32) return old;
    const fresh = randomBytes(36).toString('base64url'); // 48 characters
    stored[key] = fresh;
    generated.add(key);
    return fresh;
  };
  const found = new Map(wanted.map((key) => [key, value(key)]));
  if (generated.size > 0 && persist) writeStored(dir, file, stored);
  // Unpersisted (gatehouse check), a fresh secret is in memory only: say what serve would do.
  const using = (key: DevSecret, what: string): string => generated.has(key) && !persist
    ? `serve would generate and store a development ${what} in ${file}`
    : `using a generated development ${what} stored in ${file}`;

  const sessionSecret = found.get('session_secret');
  if (sessionSecret !== undefined) {
    config.session.secret = sessionSecret;
    warnings.push(`session.secret not set: ${using('session_secret', 'secret')}; set GATEHOUSE_SESSION_SECRET in production`);
  }
  const encryptionKey = found.get('encryption_key');
  if (encryptionKey !== undefined) {
    config.factors.encryption_key = encryptionKey;
    warnings.push(`factors.encryption_key not set: ${using('encryption_key', 'key')}; set GATEHOUSE_ENCRYPTION_KEY in production`);
  }
  const auditKey = found.get('audit_key');
  if (auditKey !== undefined) {
    config.audit.key = auditKey;
    warnings.push(`audit.key not set: ${using('audit_key', 'key')}; set GATEHOUSE_AUDIT_KEY in production (gatehouse audit verify needs it)`);
  }
}

function readStored(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // Never overwrite it: the encryption key in it protects stored TOTP seeds.
    throw new Error(`cannot read ${file} (${messageOf(err)}); fix or remove it, or set the secrets`);
  }
  if (!isObject(parsed)) throw new Error(`cannot read ${file} (not a JSON object); fix or remove it, or set the secrets`);
  return parsed;
}

function writeStored(dir: string, file: string, stored: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
