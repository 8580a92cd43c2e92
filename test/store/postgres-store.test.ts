import pg from 'pg';
import t, { type Test } from 'tap';
import { MIGRATIONS, SCHEMA_VERSION_DDL, statementsFor } from '../../src/store/migrations.ts';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createPostgresSchema, requirePostgres } from '../helpers/services.ts';
import { DUPLICATE_ROWS, checkDuplicatesMigrated, storeConformance } from './store-conformance.ts';

if (!(await requirePostgres(t))) {
  t.plan(0, 'PostgreSQL store tests: PostgreSQL not reachable (reason printed above)');
} else {
  t.test('conformance', async (t) => {
    // A fresh schema for every store the suite opens: subtests never see each other's rows.
    storeConformance(t, async () => openPostgresStore(await createPostgresSchema(t)));
  });

  t.test('the search_path carried by the URL decides where tables live', async (t) => {
    const url = await createPostgresSchema(t);
    const store = openPostgresStore(url);
    t.teardown(() => store.close());
    await store.migrate();
    const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
    t.match(schema, /^gh_test_[0-9a-f]{12}$/, 'URL names the test schema');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    const { rows } = await client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [schema],
    );
    t.same(rows.map((r) => r.table_name), ['consecutive_failures', 'devices', 'factors', 'recovery_codes', 'schema_version', 'service_keys', 'sessions', 'sign_in_places', 'signing_keys', 'user_state'],
      'every table created in the test schema');
    const { rows: [current] } = await client.query('SELECT current_schema() AS s');
    t.equal(current.s, schema, 'connections from the URL use that schema');
  });

  t.test('several instances migrating together do not race', async (t) => {
    const url = await createPostgresSchema(t);
    const stores: Store[] = Array.from({ length: 4 }, () => openPostgresStore(url));
    t.teardown(() => Promise.all(stores.map((s) => s.close())));
    await t.resolves(Promise.all(stores.map((s) => s.migrate())), 'four concurrent migrate() calls all succeed');
    await t.resolves(Promise.all(stores.map((s) => s.migrate())), 'and again, idempotently');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    const { rows } = await client.query('SELECT version FROM schema_version ORDER BY version');
    t.same(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version), 'each migration applied exactly once');
  });

  /** Two instances' stores on one fresh schema, migrated. */
  async function twoInstances(t: Test): Promise<[Store, Store]> {
    const url = await createPostgresSchema(t);
    const a = openPostgresStore(url);
    const b = openPostgresStore(url);
    t.teardown(async () => { await a.close(); await b.close(); });
    await Promise.all([a.migrate(), b.migrate()]);
    return [a, b];
  }

  t.test('a recovery code raced across instances is consumed exactly once', async (t) => {
    const [a, b] = await twoInstances(t);
    await a.replaceRecoveryCodes('alice', ['race']);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consumeRecoveryCode('alice', 'race')));
    t.equal(results.filter(Boolean).length, 1, 'exactly one of 20 attempts over two pools wins');
  });

  t.test('a credential id raced across instances is registered once; a sign counter raced across them is written once', async (t) => {
    const [a, b] = await twoInstances(t);
    const cred = (i: number, counter = 0) => ({ id: `w${i}`, user: `user${i}`, kind: 'webauthn' as const, name: 'Key', data: { credential_id: 'UkFDRQ', public_key: 'cHVi', counter }, created_at: i, last_used_at: null });
    const added = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).addFactor(cred(i, 4))));
    t.equal(added.filter(Boolean).length, 1, 'exactly one of 20 registrations over two pools is stored');
    const [owner] = await a.factorsByCredentialId('UkFDRQ');
    const written = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).updateFactorIfCounter(owner.user, owner.id, 4, { data: { ...owner.data, counter: 5 + i } })));
    t.equal(written.filter(Boolean).length, 1, 'exactly one of 20 counter writes from one read applies');
  });

  t.test('migration 5 makes credential ids unique over a store holding duplicates: the oldest row keeps its id', async (t) => {
    const url = await createPostgresSchema(t);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    await client.query(SCHEMA_VERSION_DDL);
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      for (const sql of statementsFor(m, 'postgres')) await client.query(sql);
      await client.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, 0)', [m.version, m.description]);
    }
    for (const [id, user, lookup, at] of DUPLICATE_ROWS) {
      await client.query("INSERT INTO factors (id, username, kind, name, data, created_at, lookup) VALUES ($1, $2, 'webauthn', 'Key', $3, $4, $5)",
        [id, user, JSON.stringify({ credential_id: lookup, public_key: 'cHVi', counter: 0 }), at, lookup]);
    }
    const store = openPostgresStore(url);
    t.teardown(() => store.close());
    await checkDuplicatesMigrated(t, store);
  });

  t.test('an unreachable server surfaces as thrown errors (callers fail closed)', async (t) => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const store = openPostgresStore('postgres://postgres@127.0.0.1:1/test');
    t.teardown(() => store.close());
    await t.rejects(store.ping(), 'ping rejects');
    await t.rejects(store.migrate(), 'migrate rejects');
    await t.rejects(store.consumeRecoveryCode('alice', 'x'), 'a security check rejects rather than answering false');
  });
}
