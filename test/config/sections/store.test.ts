import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'store', [
  { name: 'default: SQLite under data/', yaml: '', want: { kind: 'sqlite', path: 'data/gatehouse.db' } },
  { name: 'sqlite with a path', yaml: 'store: {kind: sqlite, path: /var/lib/gh.db}\n', want: { kind: 'sqlite', path: '/var/lib/gh.db' } },
  { name: 'sqlite without a path', yaml: 'store: {kind: sqlite}\n', want: { kind: 'sqlite', path: 'data/gatehouse.db' } },
  {
    name: 'postgres',
    yaml: 'store: {kind: postgres, url: "postgres://gh@db/gh"}\n',
    want: { kind: 'postgres', url: 'postgres://gh@db/gh' },
  },
  { name: 'postgres with another scheme', yaml: 'store:\n  kind: postgres\n  url: mysql://db/gh\n', issues: { 'store.url': [3, /must be a postgres:\/\/ or postgresql:\/\/ URL/] } },
  { name: 'schema: postgres without url', yaml: 'store:\n  kind: postgres\n', issues: { 'store.url': [1, /required when kind is postgres/] } },
  { name: 'schema: url on sqlite', yaml: 'store:\n  kind: sqlite\n  url: postgres://db/gh\n', issues: { 'store.url': [3, /only allowed when kind is postgres/] } },
  { name: 'schema: path on postgres', yaml: 'store:\n  kind: postgres\n  url: postgres://db/gh\n  path: x.db\n', issues: { 'store.path': [4, /only allowed when kind is sqlite/] } },
  { name: 'schema: kind is required', yaml: 'store:\n  path: x.db\n', issues: { 'store.kind': [1, /is required/] } },
]);
