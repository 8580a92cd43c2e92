// The config validator kept on disk (GATEHOUSE_VALIDATOR_CACHE): written by the
// first process, read by the next, the same verdicts and errors as the one
// compiled in memory, and compiled anew for another schema or a spoiled file.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { cachedValidator, validatorFile } from '../../src/config/validator-cache.ts';

const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
const OPTIONS = { allErrors: true, verbose: true, strict: true, code: { optimize: false } } as const;
const SCHEMA = {
  type: 'object',
  properties: {
    listen: { type: 'string', minLength: 1, errorHint: 'host:port' },
    tag: { type: 'string', maxLength: 3 },
    workers: { type: 'integer', minimum: 1 },
  },
  required: ['listen'],
  additionalProperties: false,
};

function compiler(schema: object): { compile: (source: boolean) => { ajv: AjvClass; validate: ValidateFunction }; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    compile: (source) => {
      calls += 1;
      const ajv = new Ajv({ ...OPTIONS, code: { ...OPTIONS.code, source } });
      ajv.addKeyword({ keyword: 'errorHint', schemaType: 'string' });
      return { ajv, validate: ajv.compile(schema) };
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-validator-cache-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLES: unknown[] = [
  { listen: '127.0.0.1:8080' },
  { listen: '' },
  { listen: 5, tag: '\u{1F600}\u{1F600}\u{1F600}\u{1F600}', workers: 0, extra: true },
  {},
  'not an object',
];

function verdicts(validate: ValidateFunction): unknown[] {
  return SAMPLES.map((s) => [validate(s), validate.errors ?? null]);
}

t.test('written by the first process, read by the next: the same verdicts and errors', async (t) => {
  const first = compiler(SCHEMA);
  const written = cachedValidator(dir, SCHEMA, OPTIONS, first.compile);
  t.equal(first.calls(), 1, 'compiled when the directory holds none');
  const file = validatorFile(dir, SCHEMA, OPTIONS);
  t.ok(existsSync(file), 'and written');
  t.same(readdirSync(dir), [file.slice(dir.length + 1)], 'no partial file left behind');

  const second = compiler(SCHEMA);
  const read = cachedValidator(dir, SCHEMA, OPTIONS, second.compile);
  t.equal(second.calls(), 0, 'read, not compiled');
  t.not(read, written);
  const inMemory = compiler(SCHEMA).compile(false).validate;
  t.same(verdicts(read), verdicts(inMemory), 'the cached validator answers as the compiled one, errors (with parentSchema) included');
  t.same(verdicts(written), verdicts(inMemory));
  t.equal(read({ listen: 'x', tag: 'abcd' }), false, 'and it refuses what the schema refuses');
  t.match(read.errors, [{ keyword: 'maxLength', instancePath: '/tag', parentSchema: { maxLength: 3 } }]);
});

t.test('another schema or other options: another file, compiled', async (t) => {
  const other = { ...SCHEMA, required: [] };
  t.not(validatorFile(dir, other, OPTIONS), validatorFile(dir, SCHEMA, OPTIONS));
  t.not(validatorFile(dir, SCHEMA, { ...OPTIONS, allErrors: false }), validatorFile(dir, SCHEMA, OPTIONS));
  const c = compiler(other);
  const validate = cachedValidator(dir, other, OPTIONS, c.compile);
  t.equal(c.calls(), 1);
  t.equal(validate({}), true, 'the new schema, not the old file');
});

t.test('a spoiled file is compiled again; a directory that cannot be written only costs the compile', async (t) => {
  const spoiled = { ...SCHEMA, title: 'spoiled' };
  writeFileSync(validatorFile(dir, spoiled, OPTIONS), 'this is not JavaScript {');
  const c = compiler(spoiled);
  const validate = cachedValidator(dir, spoiled, OPTIONS, c.compile);
  t.equal(c.calls(), 1);
  t.equal(validate({ listen: 'a' }), true);
  const empty = { ...SCHEMA, title: 'empty' };
  writeFileSync(validatorFile(dir, empty, OPTIONS), '');
  const e = compiler(empty);
  t.equal(cachedValidator(dir, empty, OPTIONS, e.compile)({ listen: 'a' }), true, 'a file that exports no function is compiled again');
  t.equal(e.calls(), 1);
  const asFile = join(dir, 'a-file');
  writeFileSync(asFile, '');
  const d = compiler(SCHEMA);
  t.equal(cachedValidator(join(asFile, 'sub'), SCHEMA, OPTIONS, d.compile)({ listen: 'a' }), true);
  t.equal(d.calls(), 1);
});
