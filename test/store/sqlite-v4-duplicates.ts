// A SQLite store file left at schema version 4 (before migration 5 made
// credential ids unique) that holds DUPLICATE_ROWS: the upgrade a gateway or
// the operator CLI meets on its first start with the new code.

import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS, SCHEMA_VERSION_DDL, statementsFor } from '../../src/store/migrations.ts';
import { DUPLICATE_ROWS } from './store-conformance.ts';

export function writeSqliteV4WithDuplicates(path: string): void {
  const v4 = new DatabaseSync(path);
  v4.exec(SCHEMA_VERSION_DDL);
  for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
    for (const sql of statementsFor(m, 'sqlite')) v4.exec(sql);
    v4.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, 0)').run(m.version, m.description);
  }
  const insert = v4.prepare("INSERT INTO factors (id, username, kind, name, data, created_at, lookup) VALUES (?, ?, 'webauthn', 'Key', ?, ?, ?)");
  for (const [id, user, lookup, at] of DUPLICATE_ROWS) insert.run(id, user, JSON.stringify({ credential_id: lookup, public_key: 'cHVi', counter: 0 }), at, lookup);
  v4.close();
}
