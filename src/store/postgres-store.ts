// The scale-out durable store: PostgreSQL through a pg Pool, shared by every
// gatehouse instance. Errors (unreachable server, timeouts) are thrown to the
// caller, which fails closed. The connection URL may carry libpq-style query
// parameters, e.g. `?options=-c%20search_path%3Dmyschema` to pick a schema.

import { createRequire } from 'node:module';
import type pg from 'pg';
import {
  LOOKUP_TAKEN_DO_NOTHING, MIGRATIONS, SCHEMA_VERSION_DDL, assertDistinctHashes, deviceFromRow, factorFromRow, factorLookup, sessionFromRow, groupKinds, pendingMigrations, placeFromRow, serviceKeyFromRow, signingKeyFromRow,
  statementsFor, userStateFromRow, type Row,
} from './migrations.ts';
import type { Store } from './types.ts';

/** Fixed key of the advisory lock that serialises migrations across instances (any constant; "gatehous" in ASCII). */
const MIGRATION_LOCK_KEY = '7449363237540164979';
const CONNECT_TIMEOUT_MS = 5000;

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// Lists order ties by id/kid COLLATE "C" (byte order, as SQLite does) whatever the database locale.

export function openPostgresStore(url: string): Store {
  // Loaded here, not at the top: a gateway on SQLite never pays for pg at start-up.
  const { Pool } = createRequire(import.meta.url)('pg') as typeof pg;
  const pool = new Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query reports the failure.
  pool.on('error', () => {});

  async function rows(sql: string, params: unknown[] = [], db: Queryable = pool): Promise<Row[]> {
    return (await db.query(sql, params)).rows as Row[];
  }
  async function changes(sql: string, params: unknown[] = [], db: Queryable = pool): Promise<number> {
    return (await db.query(sql, params)).rowCount ?? 0;
  }
  async function transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  return {
    async migrate() {
      return transaction(async (c) => {
        // Held until COMMIT/ROLLBACK: instances starting together apply migrations one at a time.
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        await c.query(SCHEMA_VERSION_DDL);
        const applied = (await rows('SELECT version FROM schema_version', [], c)).map((r) => Number(r.version));
        const notices: string[] = [];
        for (const m of pendingMigrations(applied, MIGRATIONS)) {
          if (m.notice) notices.push(...(await rows(m.notice.query.postgres, [], c)).map(m.notice.say));
          for (const sql of statementsFor(m, 'postgres')) await c.query(sql);
          await c.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)', [m.version, m.description, Date.now()]);
        }
        return notices;
      });
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      if (!pool.ended) await pool.end();
    },

    async listFactors(user) {
      return (await rows('SELECT * FROM factors WHERE username = $1 ORDER BY created_at, id COLLATE "C"', [user])).map(factorFromRow);
    },
    async getFactor(user, id) {
      const [row] = await rows('SELECT * FROM factors WHERE username = $1 AND id = $2', [user, id]);
      return row ? factorFromRow(row) : undefined;
    },
    async addFactor(rec) {
      return (await changes(
        `INSERT INTO factors (id, username, kind, name, data, created_at, last_used_at, lookup) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ${LOOKUP_TAKEN_DO_NOTHING}`,
        [rec.id, rec.user, rec.kind, rec.name, JSON.stringify(rec.data), rec.created_at, rec.last_used_at, factorLookup(rec)],
      )) === 1;
    },
    async factorsByCredentialId(credentialId) {
      return (await rows(`SELECT * FROM factors WHERE lookup = $1 AND kind = 'webauthn' ORDER BY created_at, id COLLATE "C"`, [credentialId])).map(factorFromRow);
    },
    async updateFactor(user, id, patch) {
      const sets: string[] = [];
      const values: unknown[] = [];
      const set = (column: string, value: unknown) => { values.push(value); sets.push(`${column} = $${values.length}`); };
      if (patch.name !== undefined) set('name', patch.name);
      if (patch.data !== undefined) set('data', JSON.stringify(patch.data));
      if (patch.last_used_at !== undefined) set('last_used_at', patch.last_used_at);
      if (sets.length === 0) return;
      values.push(user, id);
      await pool.query(`UPDATE factors SET ${sets.join(', ')} WHERE username = $${values.length - 1} AND id = $${values.length}`, values);
    },
    async updateFactorIfCounter(user, id, counter, patch) {
      const sets: string[] = [];
      const values: unknown[] = [];
      const set = (column: string, value: unknown) => { values.push(value); sets.push(`${column} = $${values.length}`); };
      if (patch.data !== undefined) set('data', JSON.stringify(patch.data));
      if (patch.last_used_at !== undefined) set('last_used_at', patch.last_used_at);
      // An empty patch still answers whether the counter is the one expected.
      if (sets.length === 0) sets.push('id = id');
      values.push(user, id, String(counter));
      const n = values.length;
      // The counter as JSON text: data is written by JSON.stringify, which spells an integer one way.
      return (await changes(`UPDATE factors SET ${sets.join(', ')} WHERE username = $${n - 2} AND id = $${n - 1} AND (data::json)->>'counter' = $${n}`, values)) === 1;
    },
    async removeFactor(user, id) {
      return (await changes('DELETE FROM factors WHERE username = $1 AND id = $2', [user, id])) > 0;
    },
    async removeAllFactors(user) {
      return changes('DELETE FROM factors WHERE username = $1', [user]);
    },
    async listEnrolledUsers() {
      return groupKinds(await rows('SELECT DISTINCT username, kind FROM factors'));
    },

    async replaceRecoveryCodes(user, hashes) {
      assertDistinctHashes(hashes);
      await transaction(async (c) => {
        await c.query('DELETE FROM recovery_codes WHERE username = $1', [user]);
        if (hashes.length > 0) {
          await c.query('INSERT INTO recovery_codes (username, hash, used_at) SELECT $1, h, NULL FROM unnest($2::text[]) AS h', [user, hashes]);
        }
      });
    },
    async consumeRecoveryCode(user, hash) {
      // Row lock + re-check of used_at under READ COMMITTED: of racing consumers exactly one updates the row.
      return (await changes(
        'UPDATE recovery_codes SET used_at = $1 WHERE username = $2 AND hash = $3 AND used_at IS NULL',
        [Date.now(), user, hash],
      )) === 1;
    },
    async countRecoveryCodes(user) {
      const [row] = await rows('SELECT COUNT(*) AS n FROM recovery_codes WHERE username = $1 AND used_at IS NULL', [user]);
      return Number(row?.n ?? 0);
    },

    async addDevice(rec) {
      await pool.query(
        'INSERT INTO devices (id, username, label, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [rec.id, rec.user, rec.label, rec.created_at, rec.expires_at, rec.last_used_at],
      );
    },
    async getDevice(id) {
      const [row] = await rows('SELECT * FROM devices WHERE id = $1', [id]);
      return row ? deviceFromRow(row) : undefined;
    },
    async listDevices(user) {
      return (await rows('SELECT * FROM devices WHERE username = $1 ORDER BY created_at, id COLLATE "C"', [user])).map(deviceFromRow);
    },
    async touchDevice(id, at) {
      await pool.query('UPDATE devices SET last_used_at = $1 WHERE id = $2', [at, id]);
    },
    async removeDevice(user, id) {
      return (await changes('DELETE FROM devices WHERE username = $1 AND id = $2', [user, id])) > 0;
    },
    async removeAllDevices(user) {
      return changes('DELETE FROM devices WHERE username = $1', [user]);
    },

    async addSession(rec, keep) {
      await transaction(async (c) => {
        await c.query('DELETE FROM sessions WHERE username = $1 AND expires_at <= $2', [rec.user, rec.created_at]);
        await c.query(
          'INSERT INTO sessions (id, username, label, network, created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [rec.id, rec.user, rec.label, rec.network, rec.created_at, rec.seen_at, rec.expires_at],
        );
        await c.query('DELETE FROM sessions WHERE username = $1 AND id NOT IN (SELECT id FROM sessions WHERE username = $1 ORDER BY seen_at DESC, id COLLATE "C" LIMIT $2)', [rec.user, keep]);
      });
    },
    async listSessions(user, now) {
      return (await rows('SELECT * FROM sessions WHERE username = $1 AND expires_at > $2 ORDER BY seen_at DESC, id COLLATE "C"', [user, now])).map(sessionFromRow);
    },
    async touchSession(id, at, network) {
      await pool.query('UPDATE sessions SET seen_at = $1, network = $2 WHERE id = $3 AND seen_at < $1', [at, network, id]);
    },
    async removeSession(user, id) {
      return (await changes('DELETE FROM sessions WHERE username = $1 AND id = $2', [user, id])) > 0;
    },
    async removeAllSessions(user) {
      return changes('DELETE FROM sessions WHERE username = $1', [user]);
    },

    async getUserState(user) {
      const [row] = await rows('SELECT * FROM user_state WHERE username = $1', [user]);
      return row ? userStateFromRow(row) : undefined;
    },
    async mfaResetsSince(since) {
      return (await rows('SELECT username, mfa_reset_at FROM user_state WHERE mfa_reset_at > $1', [since]))
        .map((r) => ({ user: String(r.username), at: Number(r.mfa_reset_at) }));
    },
    async putUserState(s) {
      await pool.query(
        `INSERT INTO user_state (username, deferrals, last_factor, mfa_reset_at, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (username) DO UPDATE SET deferrals = excluded.deferrals, last_factor = excluded.last_factor,
           mfa_reset_at = excluded.mfa_reset_at, updated_at = excluded.updated_at`,
        [s.user, s.deferrals, s.last_factor, s.mfa_reset_at, s.updated_at],
      );
    },

    async recordSignInPlace(user, p, forgetBefore) {
      await transaction(async (c) => {
        await c.query(
          `INSERT INTO sign_in_places (username, network, country, lat, lon, seen_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (username, network) DO UPDATE SET country = excluded.country, lat = excluded.lat, lon = excluded.lon,
             seen_at = GREATEST(sign_in_places.seen_at, excluded.seen_at)`,
          [user, p.network, p.country, p.lat, p.lon, p.at],
        );
        await c.query('DELETE FROM sign_in_places WHERE username = $1 AND seen_at < $2', [user, forgetBefore]);
      });
    },
    async listSignInPlaces(user) {
      return (await rows('SELECT * FROM sign_in_places WHERE username = $1 ORDER BY seen_at, network COLLATE "C"', [user])).map(placeFromRow);
    },

    async listSigningKeys() {
      return (await rows('SELECT * FROM signing_keys ORDER BY created_at, kid COLLATE "C"')).map(signingKeyFromRow);
    },
    async addSigningKey(k) {
      await pool.query(
        'INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [k.kid, k.alg, k.private_jwk, k.public_jwk, k.created_at, k.retired_at],
      );
    },
    async retireSigningKey(kid, at) {
      // The first retirement time stands: retiring again must not extend the grace period.
      await pool.query('UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL', [at, kid]);
    },
    async replaceSigningPrivateKey(kid, privateJwk) {
      await pool.query('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2', [privateJwk, kid]);
    },
    async deleteSigningKey(kid) {
      await pool.query('DELETE FROM signing_keys WHERE kid = $1', [kid]);
    },

    async failureCount(name) {
      const [row] = await rows('SELECT failures FROM consecutive_failures WHERE name = $1', [name]);
      return Number(row?.failures ?? 0);
    },
    async addFailure(name, at) {
      const [row] = await rows(
        `INSERT INTO consecutive_failures (name, failures, updated_at) VALUES ($1, 1, $2)
         ON CONFLICT (name) DO UPDATE SET failures = consecutive_failures.failures + 1, updated_at = excluded.updated_at
         RETURNING failures`,
        [name, at],
      );
      return Number(row!.failures);
    },
    async removeFailure(name) {
      // A count of 0 may stay as a row: one atomic statement, and 0 reads as no failures.
      await pool.query('UPDATE consecutive_failures SET failures = failures - 1 WHERE name = $1 AND failures > 0', [name]);
    },
    async clearFailures(names) {
      return changes('DELETE FROM consecutive_failures WHERE name = ANY($1::text[])', [[...names]]);
    },
    async listFailures(min) {
      return (await rows('SELECT name, failures, updated_at FROM consecutive_failures WHERE failures >= $1 ORDER BY failures DESC, name COLLATE "C"', [min]))
        .map((r) => ({ name: String(r.name), failures: Number(r.failures), updated_at: Number(r.updated_at) }));
    },

    async getServiceKey(name) {
      const [row] = await rows('SELECT * FROM service_keys WHERE name = $1', [name]);
      return row ? serviceKeyFromRow(row) : undefined;
    },
    async addServiceKey(k) {
      const r = await pool.query('INSERT INTO service_keys (name, sealed_private, public, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING',
        [k.name, k.sealed_private, k.public, k.created_at]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}
