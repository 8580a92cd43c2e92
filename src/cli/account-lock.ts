// `gatehouse user locked` and `gatehouse user unlock USER`: the accounts locked
// after 100 failed attempts in a row (identity/throttle.ts), and lifting a lock.
// Both work on the store, so they serve every identity source (a users file,
// LDAP, OIDC, upstream_form). Unlocking clears the account's consecutive
// failures of every kind (password and second factor) and is audited.

import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/types.ts';
import { ATTEMPT_KINDS, accountKey, lockedAt, MAX_CONSECUTIVE_FAILURES } from '../identity/throttle.ts';
import type { Store } from '../store/types.ts';
import { CliError, closeAudit, EXIT, openMigratedStore, table, type Streams } from './operator.ts';

const ACCOUNT_NAME = /^([a-z]+):u:(.*)$/s;

/** Lists the locked accounts, one line per user and kind. */
export async function listLocked(io: Streams, config: Config): Promise<number> {
  const store = await openMigratedStore(config);
  try {
    const locked = await store.listFailures(MAX_CONSECUTIVE_FAILURES);
    if (locked.length === 0) {
      io.stdout.write('no locked accounts\n');
      return EXIT.OK;
    }
    const rows = locked.map((l) => {
      const [, kind = '?', user = l.name] = ACCOUNT_NAME.exec(l.name) ?? [];
      return [user, kind === 'pwd' ? 'password' : kind === 'mfa' ? 'second factor' : kind, String(l.failures), new Date(l.updated_at).toISOString()];
    });
    io.stdout.write(`${table(['USER', 'LOCKED FOR', 'FAILURES', 'LAST FAILURE (UTC)'], rows, '').join('\n')}\n`);
    io.stdout.write('unlock one with: gatehouse user unlock USER\n');
    return EXIT.OK;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** Clears the user's consecutive failures (every kind) and audits it; exit 1 if the audit record may be missing. */
export async function unlock(io: Streams, config: Config, user: string, by: string): Promise<number> {
  const { openAuditLog, configuredAuditLog } = await import('../audit/audit-log.ts');
  let store: Store | undefined;
  let audit: AuditLog | undefined;
  const auditErrors: Error[] = [];
  try {
    // Both reached before anything changes.
    store = await openMigratedStore(config);
    try {
      audit = await openAuditLog({ ...configuredAuditLog(config), onError: (e) => auditErrors.push(e) });
    } catch (err) {
      throw new CliError(EXIT.FAILED, `cannot open the audit log ${config.audit.path}: ${(err as Error).message}; nothing was changed`);
    }
    const names = ATTEMPT_KINDS.map((kind) => accountKey(kind, user));
    const failures = Math.max(...await Promise.all(names.map((n) => store!.failureCount(n))));
    const wasLocked = lockedAt(failures);
    await store.clearFailures(names);
    audit.write({ event: 'account.unlocked', user: user.toLowerCase(), by, failures, was_locked: wasLocked });
    const written = audit;
    audit = undefined;
    const head = await closeAudit(written, auditErrors, `${user} was unlocked`);
    io.stdout.write(wasLocked
      ? `unlocked ${user} (${failures} failed attempts in a row cleared); audited as seq ${head.seq} (by ${by})\n`
      : `${user} was not locked (${failures} failed attempts in a row, cleared); audited as seq ${head.seq} (by ${by})\n`);
    return EXIT.OK;
  } finally {
    await audit?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
  }
}
