// The config validator kept on disk (GATEHOUSE_VALIDATOR_CACHE): written by the
// first process, read by the next, the same verdicts and errors as the one
// compiled in memory, and compiled anew for another schema or a spoiled file.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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

// A hostile or spoiled file that is valid JavaScript: run, it would make every config
// validate (and mark that it ran). None of these may be run; each is compiled again.
const ACCEPT_ALL = 'globalThis.__gatehouseHostileRan = true; module.exports = function validate() { return true; };';
const ran = (): boolean => (globalThis as { __gatehouseHostileRan?: boolean }).__gatehouseHostileRan === true;

function refusesInvalid(t: Test, validate: ValidateFunction, calls: number): void {
  t.equal(calls, 1, 'compiled, not read');
  t.equal(validate({}), false, 'a config the schema refuses is refused');
  t.equal(validate({ listen: 'a' }), true);
  t.notOk(ran(), 'the planted code never ran');
}

t.test('a file without the digest of its code (hand-written, or from an older gateway) is not run', async (t) => {
  const s = { ...SCHEMA, title: 'hostile-plain' };
  writeFileSync(validatorFile(dir, s, OPTIONS), ACCEPT_ALL);
  const c = compiler(s);
  refusesInvalid(t, cachedValidator(dir, s, OPTIONS, c.compile), c.calls());
  const second = compiler(s);
  cachedValidator(dir, s, OPTIONS, second.compile);
  t.equal(second.calls(), 0, 'the compiled one replaced it, and is read by the next process');
});

t.test('a partial or altered file is not run; a header copied from another file does not help', async (t) => {
  const s = { ...SCHEMA, title: 'truncated' };
  cachedValidator(dir, s, OPTIONS, compiler(s).compile);
  const file = validatorFile(dir, s, OPTIONS);
  const whole = readFileSync(file, 'utf8');
  const header = whole.slice(0, whole.indexOf('\n') + 1);
  t.match(header, /^\/\/ gatehouse config validator sha256=[0-9a-f]{64}\n$/);
  // Cut at a line boundary: still JavaScript that parses (a crash before the data reached the disk).
  writeFileSync(file, whole.slice(0, whole.lastIndexOf('\n', whole.length / 2)));
  const c = compiler(s);
  t.equal(cachedValidator(dir, s, OPTIONS, c.compile)({}), false);
  t.equal(c.calls(), 1, 'a truncated file is compiled again');

  writeFileSync(file, header + ACCEPT_ALL);
  const d = compiler(s);
  refusesInvalid(t, cachedValidator(dir, s, OPTIONS, d.compile), d.calls());

  // A whole, genuine file of another schema, under this schema's name: its digest covers its own name.
  const other = { ...SCHEMA, required: [], title: 'other' };
  cachedValidator(dir, other, OPTIONS, compiler(other).compile);
  writeFileSync(file, readFileSync(validatorFile(dir, other, OPTIONS)));
  const e = compiler(s);
  t.equal(cachedValidator(dir, s, OPTIONS, e.compile)({}), false, 'the other schema\'s validator (which accepts {}) is not used');
  t.equal(e.calls(), 1);
});

t.test('a directory or file others may write, or a link, is not trusted', async (t) => {
  const s = { ...SCHEMA, title: 'shared-dir' };
  // Written by this process, with a valid digest: only the permissions make it untrusted.
  const open = mkdtempSync(join(tmpdir(), 'gatehouse-validator-open-'));
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  cachedValidator(open, s, OPTIONS, compiler(s).compile);
  const genuine = readFileSync(validatorFile(open, s, OPTIONS), 'utf8');
  const forged = (code: string) => `${genuine.slice(0, genuine.indexOf('=') + 1)}${createHash('sha256').update(basename(validatorFile(open, s, OPTIONS))).update('\n').update(code).digest('hex')}\n${code}`;
  writeFileSync(validatorFile(open, s, OPTIONS), forged(ACCEPT_ALL));
  chmodSync(open, 0o777);
  const c = compiler(s);
  refusesInvalid(t, cachedValidator(open, s, OPTIONS, c.compile), c.calls());
  t.equal(readFileSync(validatorFile(open, s, OPTIONS), 'utf8'), forged(ACCEPT_ALL), 'and nothing is written into a directory others may write');

  chmodSync(open, 0o700);
  chmodSync(validatorFile(open, s, OPTIONS), 0o666);
  const d = compiler(s);
  refusesInvalid(t, cachedValidator(open, s, OPTIONS, d.compile), d.calls());

  rmSync(validatorFile(open, s, OPTIONS));
  const elsewhere = join(open, 'elsewhere.cjs');
  writeFileSync(elsewhere, forged(ACCEPT_ALL), { mode: 0o600 });
  symlinkSync(elsewhere, validatorFile(open, s, OPTIONS));
  const e = compiler(s);
  refusesInvalid(t, cachedValidator(open, s, OPTIONS, e.compile), e.calls());
  t.equal(readFileSync(elsewhere, 'utf8'), forged(ACCEPT_ALL), 'the link\'s target is not written through');
});

t.test('processes writing at once: each its own partial file, the result whole', async (t) => {
  const s = { ...SCHEMA, title: 'racing' };
  const racing = mkdtempSync(join(tmpdir(), 'gatehouse-validator-race-'));
  t.teardown(() => rmSync(racing, { recursive: true, force: true }));
  const file = validatorFile(racing, s, OPTIONS);
  // Another process of this pid (a container's pid namespace) left or is writing its partial file; or a link sits there.
  writeFileSync(`${file}.${process.pid}.tmp`, ACCEPT_ALL);
  for (let i = 0; i < 4; i++) cachedValidator(racing, s, OPTIONS, compiler(s).compile);
  const c = compiler(s);
  t.equal(cachedValidator(racing, s, OPTIONS, c.compile)({}), false);
  t.equal(c.calls(), 0, 'the written file is whole and read');
  t.same(readdirSync(racing).sort(), [basename(file), `${basename(file)}.${process.pid}.tmp`].sort(), 'no partial file of ours left behind');
  t.notOk(ran());
});
