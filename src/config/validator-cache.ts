// The compiled config validator kept on disk between processes, in the
// directory GATEHOUSE_VALIDATOR_CACHE names (the test suite sets it: every
// gateway, CLI command and test process would otherwise compile the schema
// again, about 0.2 s of CPU each). The file is ajv's standalone code for the
// schema, named by a hash of the schema, the ajv options and ajv's version, so
// a changed schema is compiled and written anew. Off unless the variable is
// set: the gateway writes no code where an operator did not ask for it.

import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Ajv, ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

/** A validator compiled by `compile`; with `source`, ajv keeps the code standalone output needs. */
export type CompileValidator = (source: boolean) => { ajv: Ajv; validate: ValidateFunction };

/** The file a validator of `schema` compiled with `options` is kept in, under `dir`. */
export function validatorFile(dir: string, schema: unknown, options: unknown): string {
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([ajvVersion, options, schema])).digest('hex').slice(0, 20);
  return join(resolve(dir), `config-validator-${key}.cjs`);
}

/**
 * The validator from `dir` when it holds one for this schema and these options;
 * otherwise compiled, and written there for the next process (best effort: a
 * directory that cannot be written only costs the next process a compile).
 */
export function cachedValidator(dir: string, schema: unknown, options: unknown, compile: CompileValidator): ValidateFunction {
  const file = validatorFile(dir, schema, options);
  try {
    const kept: unknown = require(file);
    if (typeof kept === 'function') return kept as ValidateFunction;
  } catch {
    // Not there yet (or unreadable): compile below.
  }
  const { ajv, validate } = compile(true);
  const { default: standaloneCode } = require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js');
  // The runtime helpers the code requires, by absolute path: the directory may be outside this package.
  const code = standaloneCode(ajv, validate).replace(/require\("(ajv\/[^"]+)"\)/g, (_, id: string) => `require(${JSON.stringify(require.resolve(id))})`);
  const partial = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(resolve(dir), { recursive: true });
    writeFileSync(partial, code);
    // A rename: a process reading at the same moment sees the old name or the whole file.
    renameSync(partial, file);
  } catch {
    try { rmSync(partial, { force: true }); } catch { /* the directory itself is not there */ }
  }
  return validate;
}
