// Secrets in the config (session.secret, factors.encryption_key, audit.key):
// from the file, else from the environment; and the rule that several
// instances working as one must all be given the same ones.

import { hkdfSync } from 'node:crypto';
import type { PathSegment } from './interpolate.ts';
import type { Obj, Reader } from './reader.ts';
import type { AuditConfig } from './sections/audit.ts';
import type { FactorsConfig } from './sections/factors.ts';
import type { SessionConfig } from './sections/session.ts';
import type { SharedStateConfig } from './sections/shared-state.ts';
import type { StoreConfig } from './sections/store.ts';

/** A secret from the config, else from its environment variable (so production needs no config edit), else '' (dev secret later). */
export function secretValue(r: Reader, o: Obj, key: string, at: PathSegment[], env: NodeJS.ProcessEnv, envName: string): string {
  const fromEnv = o[key] === undefined && env[envName] ? env[envName] : undefined;
  const value = fromEnv ?? r.str(o, key) ?? '';
  if ((o[key] !== undefined || fromEnv !== undefined) && value.length < 32) {
    r.fail([...at, key], `${fromEnv !== undefined ? `(from ${envName}) ` : ''}must be at least 32 characters (got ${value.length})`);
  }
  return value;
}

/**
 * With a postgres store or redis shared state several instances work as one,
 * and a generated development secret would differ on each: a TOTP seed sealed
 * on one could not be opened on another, and a session cookie sealed by one
 * would be refused by the next, and `gatehouse audit verify` could not check
 * every instance's chain with one key. So these secrets must be set.
 */
export function requireSharedSecrets(r: Reader, session: SessionConfig, factors: FactorsConfig, audit: AuditConfig, store: StoreConfig, shared: SharedStateConfig): void {
  const why = store.kind === 'postgres' ? 'store.kind is postgres' : shared.kind === 'redis' ? 'shared_state.kind is redis' : undefined;
  if (why === undefined) return;
  const how = (key: string, file: string, envName: string) =>
    `is required because ${why} (every instance must use the same value): set ${key} (or ${file}, or the ${envName} environment variable) ` +
    'to the same random value of at least 32 characters on every instance, e.g. from `openssl rand -base64 36`';
  if (!session.secret) r.fail(['session', 'secret'], how('session.secret', 'session.secret_file', 'GATEHOUSE_SESSION_SECRET'));
  if (!factors.encryption_key) r.fail(['factors', 'encryption_key'], how('factors.encryption_key', 'factors.encryption_key_file', 'GATEHOUSE_ENCRYPTION_KEY'));
  if (!audit.key) r.fail(['audit', 'key'], how('audit.key', 'audit.key_file', 'GATEHOUSE_AUDIT_KEY'));
}

/**
 * Several instances need one audit key, but the documented shape of a shared
 * deployment names only the encryption key (README, "Several instances"). So
 * when audit.key is absent there, the chain is keyed with a key derived from
 * factors.encryption_key (HKDF, its own label: the MAC never reuses the sealing
 * key itself), and a warning suggests a separate key, so whoever verifies the
 * log need not hold the key that opens TOTP seeds.
 */
export function deriveSharedAuditKey(factors: FactorsConfig, audit: AuditConfig, store: StoreConfig, shared: SharedStateConfig, warnings: string[]): void {
  if (audit.key || !factors.encryption_key || (store.kind !== 'postgres' && shared.kind !== 'redis')) return;
  audit.key = Buffer.from(hkdfSync('sha256', factors.encryption_key, '', 'gatehouse audit chain v1', 32)).toString('base64url');
  warnings.push('audit.key not set: the audit chain is keyed with a key derived from factors.encryption_key; set a separate audit.key (GATEHOUSE_AUDIT_KEY) so that verifying the log does not need the encryption key');
}
