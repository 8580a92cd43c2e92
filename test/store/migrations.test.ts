import t from 'tap';
import { MIGRATIONS, pendingMigrations, statementsFor, type Migration } from '../../src/store/migrations.ts';

const m = (version: number): Migration => ({ version, description: `v${version}`, statements: [`-- ${version}`] });

t.test('pendingMigrations', async (t) => {
  const list = [m(1), m(2), m(3)];
  const cases: Array<[string, number[], number[]]> = [
    ['fresh database gets everything', [], [1, 2, 3]],
    ['partly migrated gets the rest', [1], [2, 3]],
    ['up to date gets nothing', [1, 2, 3], []],
    ['a gap is filled', [1, 3], [2]],
  ];
  for (const [name, applied, want] of cases) {
    t.same(pendingMigrations(applied, list).map((x) => x.version), want, name);
  }
  t.throws(() => pendingMigrations([1, 4], list), /4 unknown/, 'a newer schema is refused');
  t.throws(() => pendingMigrations([], [m(1), m(3), m(2)]), /out of order/, 'out-of-order list is refused');
  t.throws(() => pendingMigrations([], [m(1), m(1)]), /out of order/, 'duplicate version is refused');
});

t.test('statementsFor picks the dialect only where they differ', async (t) => {
  const common: Migration = { version: 1, description: 'c', statements: ['A'] };
  const split: Migration = { version: 2, description: 's', statements: { sqlite: ['S'], postgres: ['P'] } };
  t.same(statementsFor(common, 'sqlite'), ['A']);
  t.same(statementsFor(common, 'postgres'), ['A']);
  t.same(statementsFor(split, 'sqlite'), ['S']);
  t.same(statementsFor(split, 'postgres'), ['P']);
});

t.test('the shipped list is well formed', async (t) => {
  t.ok(MIGRATIONS.length > 0, 'has migrations');
  t.same(pendingMigrations([], MIGRATIONS), MIGRATIONS, 'strictly increasing, all pending on a fresh database');
  for (const mig of MIGRATIONS) {
    for (const d of ['sqlite', 'postgres'] as const) {
      t.notMatch(statementsFor(mig, d).join('\n'), /\buser\b/i, `v${mig.version} (${d}) never names a column "user" (reserved in PostgreSQL)`);
    }
  }
});
