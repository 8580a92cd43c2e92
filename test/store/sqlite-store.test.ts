import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { checkDuplicatesMigrated, storeConformance } from './store-conformance.ts';
import { writeSqliteV4WithDuplicates } from './sqlite-v4-duplicates.ts';

t.test('conformance (:memory:)', async (t) => {
  storeConformance(t, async () => openSqliteStore(':memory:'));
});

t.test('conformance (file)', async (t) => {
  const dir = t.testdir();
  let n = 0;
  storeConformance(t, async () => openSqliteStore(join(dir, `store-${n++}.db`)));
});

t.test('file store: parent directory created, data persists across reopen', async (t) => {
  const path = join(t.testdir(), 'nested', 'deeper', 'gatehouse.db');
  const first = openSqliteStore(path);
  await first.migrate();
  await first.addFactor({ id: 'f1', user: 'alice', kind: 'totp', name: 'app', data: { key_id: 'k', ciphertext: 'c' }, created_at: 1, last_used_at: null });
  await first.replaceRecoveryCodes('alice', ['h1', 'h2']);
  await first.consumeRecoveryCode('alice', 'h1');
  await first.close();
  t.ok(existsSync(path), 'database file created inside the new directories');

  const second = openSqliteStore(path);
  t.teardown(() => second.close());
  await second.migrate();
  t.same((await second.listFactors('alice')).map((f) => f.id), ['f1'], 'factor survives reopen');
  t.equal(await second.countRecoveryCodes('alice'), 1, 'recovery code use survives reopen');
  t.equal(await second.consumeRecoveryCode('alice', 'h1'), false, 'a used code stays used after reopen');
});

t.test('file store uses WAL and records its schema version', async (t) => {
  const path = join(t.testdir(), 'wal.db');
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await store.migrate();
  await store.migrate();
  const probe = new DatabaseSync(path, { readOnly: true });
  t.teardown(() => probe.close());
  t.equal((probe.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal', 'journal_mode is WAL');
  t.same(
    (probe.prepare('SELECT version FROM schema_version ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
    'each migration recorded once despite two migrate() calls',
  );
  t.ok(existsSync(`${path}-wal`), 'WAL file present while open');
});

t.test('a schema newer than this code is refused', async (t) => {
  const path = join(t.testdir(), 'newer.db');
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await store.migrate();
  const other = new DatabaseSync(path);
  other.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (999, ?, 0)').run('from the future');
  other.close();
  await t.rejects(store.migrate(), /999 unknown/, 'migrate refuses an unknown version');
  await t.resolves(store.ping(), 'the store itself is still usable');
});

t.test('two stores on one file: a code consumed through one is spent for the other', async (t) => {
  const path = join(t.testdir(), 'shared.db');
  const a = openSqliteStore(path);
  const b = openSqliteStore(path);
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.migrate(), b.migrate()]);
  await a.replaceRecoveryCodes('alice', ['h1']);
  t.equal(await b.consumeRecoveryCode('alice', 'h1'), true, 'first consumer wins');
  t.equal(await a.consumeRecoveryCode('alice', 'h1'), false, 'the other connection sees it spent');
});

t.test('migration 2 indexes the WebAuthn credentials a version-1 store already holds', async (t) => {
  const path = join(t.testdir(), 'v1.db');
  const v1 = new DatabaseSync(path);
  v1.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
  for (const sql of MIGRATIONS[0].statements as string[]) v1.exec(sql);
  v1.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (1, ?, 0)').run(MIGRATIONS[0].description);
  v1.prepare("INSERT INTO factors (id, username, kind, name, data, created_at) VALUES ('w1', 'alice', 'webauthn', 'Laptop', ?, 1)")
    .run(JSON.stringify({ credential_id: 'Q1JFRA', public_key: 'cHVi', counter: 3 }));
  v1.close();
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await store.migrate();
  t.same((await store.factorsByCredentialId('Q1JFRA')).map((f) => [f.user, f.id]), [['alice', 'w1']], 'a passkey enrolled before the upgrade signs in without a username');
});

t.test('migration 5 makes credential ids unique over a store holding duplicates: the oldest row keeps its id', async (t) => {
  const path = join(t.testdir(), 'v4.db');
  writeSqliteV4WithDuplicates(path);

  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await checkDuplicatesMigrated(t, store);
});
