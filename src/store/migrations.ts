// The durable store's schema, as an ordered list of migrations shared by the
// SQLite and PostgreSQL stores. Statements use the common subset of both
// dialects (TEXT, INTEGER, BIGINT; JSON kept as TEXT; timestamps are unix ms in
// BIGINT). The owner column is `username` in SQL because `user` is reserved in
// PostgreSQL; records call it `user`.
//
// Where the dialects must differ, a migration gives `{ sqlite, postgres }`
// instead of one list, so the difference is visible at the one place it lives.

import type { FactorKind } from '../config/types.ts';
import type { DeviceRecord, FactorRecord, ServiceKey, SessionRecord, SignInPlace, SigningKey, UserState } from './types.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  description: string;
  statements: string[] | Record<Dialect, string[]>;
  /**
   * Run before the statements: rows the migration is about to change in a way
   * an operator must hear of, worded by `say` (the store hands the lines back
   * from migrate(), the gateway logs them).
   */
  notice?: { query: Record<Dialect, string>; say: (row: Row) => string };
}

/** Created before any migration runs; one row per applied version. */
export const SCHEMA_VERSION_DDL =
  'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)';

const SESSIONS_DDL = `CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        label TEXT NOT NULL,
        network TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`;

/** The arbiter of LOOKUP_TAKEN_DO_NOTHING (the same column and WHERE). */
const FACTORS_LOOKUP_UNIQUE = 'CREATE UNIQUE INDEX factors_lookup_unique ON factors (lookup) WHERE lookup IS NOT NULL';

/** Registration's insert: a credential id someone already holds stores nothing (the index of migration 5 is the arbiter). */
export const LOOKUP_TAKEN_DO_NOTHING = 'ON CONFLICT (lookup) WHERE lookup IS NOT NULL DO NOTHING';

/** A factors row whose lookup an older row (created_at, then id in byte order) already holds. */
function laterDuplicate(dialect: Dialect): string {
  const byteOrder = dialect === 'postgres' ? ' COLLATE "C"' : '';
  return `lookup IS NOT NULL AND EXISTS (SELECT 1 FROM factors older WHERE older.lookup = factors.lookup
    AND (older.created_at < factors.created_at OR (older.created_at = factors.created_at AND older.id${byteOrder} < factors.id${byteOrder})))`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'factors, recovery codes, devices, user state, signing keys',
    statements: [
      `CREATE TABLE factors (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      )`,
      'CREATE INDEX factors_username ON factors (username)',
      `CREATE TABLE recovery_codes (
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        used_at BIGINT,
        PRIMARY KEY (username, hash)
      )`,
      `CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        last_used_at BIGINT
      )`,
      'CREATE INDEX devices_username ON devices (username)',
      `CREATE TABLE user_state (
        username TEXT PRIMARY KEY,
        deferrals INTEGER NOT NULL,
        last_factor TEXT,
        mfa_reset_at BIGINT,
        updated_at BIGINT NOT NULL
      )`,
      `CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        retired_at BIGINT
      )`,
    ],
  },
  {
    version: 2,
    description: 'factors.lookup (WebAuthn credential id: passkey sign-in without a username), sessions (signed-in browsers)',
    statements: {
      sqlite: [
        'ALTER TABLE factors ADD COLUMN lookup TEXT',
        "UPDATE factors SET lookup = json_extract(data, '$.credential_id') WHERE kind = 'webauthn'",
        'CREATE INDEX factors_lookup ON factors (lookup)',
        SESSIONS_DDL,
        'CREATE INDEX sessions_username ON sessions (username)',
      ],
      postgres: [
        'ALTER TABLE factors ADD COLUMN lookup TEXT',
        "UPDATE factors SET lookup = (data::json)->>'credential_id' WHERE kind = 'webauthn'",
        'CREATE INDEX factors_lookup ON factors (lookup)',
        SESSIONS_DDL,
        'CREATE INDEX sessions_username ON sessions (username)',
      ],
    },
  },
  {
    version: 3,
    description: 'sign-in places (risk signals: known networks, countries, the last place)',
    statements: [
      `CREATE TABLE sign_in_places (
        username TEXT NOT NULL,
        network TEXT NOT NULL,
        country TEXT,
        lat DOUBLE PRECISION,
        lon DOUBLE PRECISION,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (username, network)
      )`,
    ],
  },
  {
    version: 4,
    description: 'service keys (the VAPID key pair of Web Push, sealed)',
    statements: [
      `CREATE TABLE service_keys (
        name TEXT PRIMARY KEY,
        sealed_private TEXT NOT NULL,
        public TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    // Registration inserts and lets this index refuse a second owner (no check-then-insert race).
    // Rows registered twice before it (the race it closes): the oldest keeps the credential id,
    // later ones lose their lookup, so they no longer sign anyone in without a username (their
    // user still has them as a second factor after the password); the store reports each one.
    description: 'factors.lookup unique (a WebAuthn credential id has one owner)',
    statements: {
      sqlite: [`UPDATE factors SET lookup = NULL WHERE ${laterDuplicate('sqlite')}`, 'DROP INDEX factors_lookup', FACTORS_LOOKUP_UNIQUE],
      postgres: [`UPDATE factors SET lookup = NULL WHERE ${laterDuplicate('postgres')}`, 'DROP INDEX factors_lookup', FACTORS_LOOKUP_UNIQUE],
    },
    notice: {
      query: {
        sqlite: `SELECT id, username, lookup FROM factors WHERE ${laterDuplicate('sqlite')} ORDER BY created_at, id`,
        postgres: `SELECT id, username, lookup FROM factors WHERE ${laterDuplicate('postgres')} ORDER BY created_at, id COLLATE "C"`,
      },
      say: (r) => `store migration 5: factor ${String(r.id)} of user ${String(r.username)} shares WebAuthn credential id ${String(r.lookup)} with an older factor; `
        + 'it no longer signs in without a username (remove it if its user did not register it)',
    },
  },
  {
    version: 6,
    // The account side of brute-force regulation: consecutive failed attempts per account and
    // kind, durable so that neither a counter's expiry nor a restart starts an attacker afresh.
    description: 'consecutive failures (the account lock at 100 failed attempts in a row)',
    statements: [
      `CREATE TABLE consecutive_failures (
        name TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
    ],
  },
];

/** The operator's lines about the rows a migration is about to change (none for most). */
export async function migrationNotices(migration: Migration, dialect: Dialect, query: (sql: string) => Promise<Row[]>): Promise<string[]> {
  if (!migration.notice) return [];
  return (await query(migration.notice.query[dialect])).map(migration.notice.say);
}

/** The statements of one migration in one dialect. */
export function statementsFor(migration: Migration, dialect: Dialect): string[] {
  return Array.isArray(migration.statements) ? migration.statements : migration.statements[dialect];
}

/**
 * The migrations still to apply, given the versions already recorded.
 * Throws when the list is not strictly increasing, or when the database is
 * newer than this code (an older binary must not touch a newer schema).
 */
export function pendingMigrations(applied: readonly number[], migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version <= migrations[i - 1].version) {
      throw new Error(`store migrations out of order: version ${migrations[i].version} follows ${migrations[i - 1].version}`);
    }
  }
  const known = new Set(migrations.map((m) => m.version));
  const unknown = applied.filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new Error(`store schema has version(s) ${unknown.join(', ')} unknown to this gatehouse (newer release?); refusing to use it`);
  }
  const done = new Set(applied);
  return migrations.filter((m) => !done.has(m.version));
}

/** recovery_codes has PK (username, hash): refuse duplicates with a clear error before touching anything. */
export function assertDistinctHashes(hashes: readonly string[]): void {
  if (new Set(hashes).size !== hashes.length) throw new Error('replaceRecoveryCodes: duplicate hashes');
}

// Rows of this schema as records. Both drivers hand back plain objects keyed by
// column; PostgreSQL returns BIGINT as a string, hence Number() throughout.

export type Row = Record<string, unknown>;

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function factorFromRow(r: Row): FactorRecord {
  return {
    id: String(r.id),
    user: String(r.username),
    kind: r.kind as FactorKind,
    name: String(r.name),
    data: JSON.parse(String(r.data)) as Record<string, unknown>,
    created_at: Number(r.created_at),
    last_used_at: numOrNull(r.last_used_at),
  };
}

/** What factors.lookup holds for a record: a WebAuthn credential id, else nothing. */
export function factorLookup(rec: FactorRecord): string | null {
  return rec.kind === 'webauthn' && typeof rec.data.credential_id === 'string' ? rec.data.credential_id : null;
}

export function sessionFromRow(r: Row): SessionRecord {
  return {
    id: String(r.id),
    user: String(r.username),
    label: String(r.label),
    network: String(r.network),
    created_at: Number(r.created_at),
    seen_at: Number(r.seen_at),
    expires_at: Number(r.expires_at),
  };
}

export function deviceFromRow(r: Row): DeviceRecord {
  return {
    id: String(r.id),
    user: String(r.username),
    label: String(r.label),
    created_at: Number(r.created_at),
    expires_at: Number(r.expires_at),
    last_used_at: numOrNull(r.last_used_at),
  };
}

export function userStateFromRow(r: Row): UserState {
  return {
    user: String(r.username),
    deferrals: Number(r.deferrals),
    last_factor: (r.last_factor ?? null) as FactorKind | null,
    mfa_reset_at: numOrNull(r.mfa_reset_at),
    updated_at: Number(r.updated_at),
  };
}

export function serviceKeyFromRow(r: Row): ServiceKey {
  return { name: String(r.name), sealed_private: String(r.sealed_private), public: String(r.public), created_at: Number(r.created_at) };
}

const realOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function placeFromRow(r: Row): SignInPlace {
  return {
    network: String(r.network),
    country: r.country === null || r.country === undefined ? null : String(r.country),
    lat: realOrNull(r.lat),
    lon: realOrNull(r.lon),
    at: Number(r.seen_at),
  };
}

export function signingKeyFromRow(r: Row): SigningKey {
  return {
    kid: String(r.kid),
    alg: r.alg as 'ES256',
    private_jwk: String(r.private_jwk),
    public_jwk: String(r.public_jwk),
    created_at: Number(r.created_at),
    retired_at: numOrNull(r.retired_at),
  };
}

/** (username, kind) rows, any order, as users with their distinct kinds, both sorted by code unit (the same in every database locale). */
export function groupKinds(rows: Row[]): Array<{ user: string; kinds: FactorKind[] }> {
  const byUser = new Map<string, Set<FactorKind>>();
  for (const r of rows) {
    const user = String(r.username);
    let kinds = byUser.get(user);
    if (!kinds) byUser.set(user, (kinds = new Set()));
    kinds.add(r.kind as FactorKind);
  }
  const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...byUser.keys()].sort(byCodeUnit).map((user) => ({ user, kinds: [...byUser.get(user)!].sort(byCodeUnit) }));
}
