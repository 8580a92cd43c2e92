// The rule that several instances working as one must all be given the same
// secrets (session.secret, factors.encryption_key, audit.key); reading one is
// secret-value.ts.

import { hkdfSync } from 'node:crypto';
import type { Reader } from './reader.ts';
import type { AuditConfig } from './sections/audit.ts';
import type { FactorsConfig } from './sections/factors.ts';
import type { SessionConfig } from './sections/session.ts';
import type { SharedStateConfig } from './sections/shared-state.ts';
import type { StoreConfig } from './sections/store.ts';

/**
 * With a postgres store or redis shared state several instances work as one,
 * and a generated development secret would differ on each: a TOTP seed sealed
 * on one could not be opened on another, and a session cookie sealed by one
 * would be refused by the next, and `gatehouse audit verify` could not check
 * every instance's chain with one key. So these secrets must be set (the audit
 * key, or the encryption key it is then derived from).
 */
export function requireSharedSecrets(r: Reader, session: SessionConfig, factors: FactorsConfig, audit: AuditConfig, store: StoreConfig, shared: SharedStateConfig): void {
  const why = store.kind === 'postgres' ? 'store.kind is postgres' : shared.kind === 'redis' ? 'shared_state.kind is redis' : undefined;
  if (why === undefined) return;
  const how = (key: string, file: string, envName: string) =>
    `is required because ${why} (every instance must use the same value): set ${key} (or ${file}, or the ${envName} environment variable) ` +
    'to the same random value of at least 32 characters on every instance, e.g. from `openssl rand -base64 36`';
  if (!session.secret) r.fail(['session', 'secret'], how('session.secret', 'session.secret_file', 'GATEHOUSE_SESSION_SECRET'));
  if (!factors.encryption_key) r.fail(['factors', 'encryption_key'], how('factors.encryption_key', 'factors.encryption_key_file', 'GATEHOUSE_ENCRYPTION_KEY'));
  // Missing only when the encryption key is too (deriveSharedAuditKey): either one is enough.
  if (!audit.key) r.fail(['audit', 'key'], `${how('audit.key', 'audit.key_file', 'GATEHOUSE_AUDIT_KEY')}, or set factors.encryption_key, from which it is derived`);
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
