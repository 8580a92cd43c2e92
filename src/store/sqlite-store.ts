// The embedded durable store: one SQLite file through node:sqlite. Calls are
// synchronous underneath, so every method body runs to completion before any
// other JavaScript does; multi-statement changes still use transactions so a
// crash or a second process never sees half of one.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import {
  LOOKUP_TAKEN_DO_NOTHING, MIGRATIONS, SCHEMA_VERSION_DDL, assertDistinctHashes, deviceFromRow, factorFromRow, factorLookup, groupKinds, pendingMigrations, placeFromRow, sessionFromRow,
  serviceKeyFromRow, signingKeyFromRow, statementsFor, userStateFromRow, type Row,
} from './migrations.ts';
import type { Store } from './types.ts';

/** How long a writer waits for another process's lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

export function openSqliteStore(path: string): Store {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: BUSY_TIMEOUT_MS });
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.exec('PRAGMA foreign_keys = ON');
  if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
  // WAL + NORMAL is durable across application crashes; only an OS crash may lose the last commits.
  db.exec('PRAGMA synchronous = NORMAL');

  const statements = new Map<string, StatementSync>();
  function stmt(sql: string): StatementSync {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  }
  const all = (sql: string, ...p: SQLInputValue[]): Row[] => stmt(sql).all(...p) as Row[];
  const get = (sql: string, ...p: SQLInputValue[]): Row | undefined => stmt(sql).get(...p) as Row | undefined;
  const run = (sql: string, ...p: SQLInputValue[]): number => Number(stmt(sql).run(...p).changes);

  /** Runs fn inside one transaction; IMMEDIATE takes the write lock up front so two processes cannot deadlock upgrading a read lock. */
  function transaction<T>(fn: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  return {
    async migrate() {
      return transaction(() => {
        db.exec(SCHEMA_VERSION_DDL);
        const applied = (db.prepare('SELECT version FROM schema_version').all() as Row[]).map((r) => Number(r.version));
        const notices: string[] = [];
        for (const m of pendingMigrations(applied, MIGRATIONS)) {
          if (m.notice) notices.push(...(db.prepare(m.notice.query.sqlite).all() as Row[]).map(m.notice.say));
          for (const sql of statementsFor(m, 'sqlite')) db.exec(sql);
          db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, Date.now());
        }
        return notices;
      });
    },
    async ping() {
      get('SELECT 1 AS ok');
    },
    async close() {
      statements.clear();
      if (db.isOpen) db.close();
    },

    async listFactors(user) {
      return all('SELECT * FROM factors WHERE username = ? ORDER BY created_at, id', user).map(factorFromRow);
    },
    async getFactor(user, id) {
      const row = get('SELECT * FROM factors WHERE username = ? AND id = ?', user, id);
      return row ? factorFromRow(row) : undefined;
    },
    async addFactor(rec) {
      return run(
        `INSERT INTO factors (id, username, kind, name, data, created_at, last_used_at, lookup) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ${LOOKUP_TAKEN_DO_NOTHING}`,
        rec.id, rec.user, rec.kind, rec.name, JSON.stringify(rec.data), rec.created_at, rec.last_used_at, factorLookup(rec),
      ) === 1;
    },
    async factorsByCredentialId(credentialId) {
      return all("SELECT * FROM factors WHERE lookup = ? AND kind = 'webauthn' ORDER BY created_at, id", credentialId).map(factorFromRow);
    },
    async updateFactor(user, id, patch) {
      const sets: string[] = [];
      const values: SQLInputValue[] = [];
      if (patch.name !== undefined) { sets.push('name = ?'); values.push(patch.name); }
      if (patch.data !== undefined) { sets.push('data = ?'); values.push(JSON.stringify(patch.data)); }
      if (patch.last_used_at !== undefined) { sets.push('last_used_at = ?'); values.push(patch.last_used_at); }
      if (sets.length === 0) return;
      run(`UPDATE factors SET ${sets.join(', ')} WHERE username = ? AND id = ?`, ...values, user, id);
    },
    async updateFactorIfCounter(user, id, counter, patch) {
      const sets: string[] = [];
      const values: SQLInputValue[] = [];
      if (patch.data !== undefined) { sets.push('data = ?'); values.push(JSON.stringify(patch.data)); }
      if (patch.last_used_at !== undefined) { sets.push('last_used_at = ?'); values.push(patch.last_used_at); }
      // An empty patch still answers whether the counter is the one expected.
      if (sets.length === 0) sets.push('id = id');
      return run(`UPDATE factors SET ${sets.join(', ')} WHERE username = ? AND id = ? AND json_extract(data, '$.counter') = ?`, ...values, user, id, counter) === 1;
    },
    async removeFactor(user, id) {
      return run('DELETE FROM factors WHERE username = ? AND id = ?', user, id) > 0;
    },
    async removeAllFactors(user) {
      return run('DELETE FROM factors WHERE username = ?', user);
    },
    async listEnrolledUsers() {
      return groupKinds(all('SELECT DISTINCT username, kind FROM factors'));
    },

    async replaceRecoveryCodes(user, hashes) {
      assertDistinctHashes(hashes);
      transaction(() => {
        run('DELETE FROM recovery_codes WHERE username = ?', user);
        for (const h of hashes) run('INSERT INTO recovery_codes (username, hash, used_at) VALUES (?, ?, NULL)', user, h);
      });
    },
    async consumeRecoveryCode(user, hash) {
      return run('UPDATE recovery_codes SET used_at = ? WHERE username = ? AND hash = ? AND used_at IS NULL', Date.now(), user, hash) === 1;
    },
    async countRecoveryCodes(user) {
      return Number(get('SELECT COUNT(*) AS n FROM recovery_codes WHERE username = ? AND used_at IS NULL', user)?.n ?? 0);
    },

    async addDevice(rec) {
      run(
        'INSERT INTO devices (id, username, label, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)',
        rec.id, rec.user, rec.label, rec.created_at, rec.expires_at, rec.last_used_at,
      );
    },
    async getDevice(id) {
      const row = get('SELECT * FROM devices WHERE id = ?', id);
      return row ? deviceFromRow(row) : undefined;
    },
    async listDevices(user) {
      return all('SELECT * FROM devices WHERE username = ? ORDER BY created_at, id', user).map(deviceFromRow);
    },
    async touchDevice(id, at) {
      run('UPDATE devices SET last_used_at = ? WHERE id = ?', at, id);
    },
    async removeDevice(user, id) {
      return run('DELETE FROM devices WHERE username = ? AND id = ?', user, id) > 0;
    },
    async removeAllDevices(user) {
      return run('DELETE FROM devices WHERE username = ?', user);
    },

    async addSession(rec, keep) {
      transaction(() => {
        run('DELETE FROM sessions WHERE username = ? AND expires_at <= ?', rec.user, rec.created_at);
        run(
          'INSERT INTO sessions (id, username, label, network, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          rec.id, rec.user, rec.label, rec.network, rec.created_at, rec.seen_at, rec.expires_at,
        );
        run('DELETE FROM sessions WHERE username = ? AND id NOT IN (SELECT id FROM sessions WHERE username = ? ORDER BY seen_at DESC, id LIMIT ?)', rec.user, rec.user, keep);
      });
    },
    async listSessions(user, now) {
      return all('SELECT * FROM sessions WHERE username = ? AND expires_at > ? ORDER BY seen_at DESC, id', user, now).map(sessionFromRow);
    },
    async touchSession(id, at, network) {
      run('UPDATE sessions SET seen_at = ?, network = ? WHERE id = ? AND seen_at < ?', at, network, id, at);
    },
    async removeSession(user, id) {
      return run('DELETE FROM sessions WHERE username = ? AND id = ?', user, id) > 0;
    },
    async removeAllSessions(user) {
      return run('DELETE FROM sessions WHERE username = ?', user);
    },

    async getUserState(user) {
      const row = get('SELECT * FROM user_state WHERE username = ?', user);
      return row ? userStateFromRow(row) : undefined;
    },
    async mfaResetsSince(since) {
      return all('SELECT username, mfa_reset_at FROM user_state WHERE mfa_reset_at > ?', since)
        .map((r) => ({ user: String(r.username), at: Number(r.mfa_reset_at) }));
    },
    async putUserState(s) {
      run(
        `INSERT INTO user_state (username, deferrals, last_factor, mfa_reset_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET deferrals = excluded.deferrals, last_factor = excluded.last_factor,
           mfa_reset_at = excluded.mfa_reset_at, updated_at = excluded.updated_at`,
        s.user, s.deferrals, s.last_factor, s.mfa_reset_at, s.updated_at,
      );
    },

    async recordSignInPlace(user, p, forgetBefore) {
      transaction(() => {
        run(
          `INSERT INTO sign_in_places (username, network, country, lat, lon, seen_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (username, network) DO UPDATE SET country = excluded.country, lat = excluded.lat, lon = excluded.lon,
             seen_at = MAX(sign_in_places.seen_at, excluded.seen_at)`,
          user, p.network, p.country, p.lat, p.lon, p.at,
        );
        run('DELETE FROM sign_in_places WHERE username = ? AND seen_at < ?', user, forgetBefore);
      });
    },
    async listSignInPlaces(user) {
      return all('SELECT * FROM sign_in_places WHERE username = ? ORDER BY seen_at, network', user).map(placeFromRow);
    },

    async listSigningKeys() {
      return all('SELECT * FROM signing_keys ORDER BY created_at, kid').map(signingKeyFromRow);
    },
    async addSigningKey(k) {
      run(
        'INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?, ?)',
        k.kid, k.alg, k.private_jwk, k.public_jwk, k.created_at, k.retired_at,
      );
    },
    async retireSigningKey(kid, at) {
      // The first retirement time stands: retiring again must not extend the grace period.
      run('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL', at, kid);
    },
    async replaceSigningPrivateKey(kid, privateJwk) {
      run('UPDATE signing_keys SET private_jwk = ? WHERE kid = ?', privateJwk, kid);
    },
    async deleteSigningKey(kid) {
      run('DELETE FROM signing_keys WHERE kid = ?', kid);
    },

    async failureCount(name) {
      return Number(get('SELECT failures FROM consecutive_failures WHERE name = ?', name)?.failures ?? 0);
    },
    async addFailure(name, at) {
      return Number(get(
        `INSERT INTO consecutive_failures (name, failures, updated_at) VALUES (?, 1, ?)
         ON CONFLICT (name) DO UPDATE SET failures = consecutive_failures.failures + 1, updated_at = excluded.updated_at
         RETURNING failures`,
        name, at,
      )!.failures);
    },
    async removeFailure(name) {
      // A count of 0 may stay as a row: one atomic statement, and 0 reads as no failures.
      run('UPDATE consecutive_failures SET failures = failures - 1 WHERE name = ? AND failures > 0', name);
    },
    async clearFailures(names) {
      return transaction(() => names.reduce((n, name) => n + run('DELETE FROM consecutive_failures WHERE name = ?', name), 0));
    },
    async listFailures(min) {
      return all('SELECT name, failures, updated_at FROM consecutive_failures WHERE failures >= ? ORDER BY failures DESC, name', min)
        .map((r) => ({ name: String(r.name), failures: Number(r.failures), updated_at: Number(r.updated_at) }));
    },

    async getServiceKey(name) {
      const row = get('SELECT * FROM service_keys WHERE name = ?', name);
      return row ? serviceKeyFromRow(row) : undefined;
    },
    async addServiceKey(k) {
      return run('INSERT INTO service_keys (name, sealed_private, public, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
        k.name, k.sealed_private, k.public, k.created_at) > 0;
    },
  };
}
