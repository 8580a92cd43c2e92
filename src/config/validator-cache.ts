// The compiled config validator kept on disk between processes, in the
// directory GATEHOUSE_VALIDATOR_CACHE names (the test suite sets it: every
// gateway, CLI command and test process would otherwise compile the schema
// again, about 0.2 s of CPU each). The file is ajv's standalone code for the
// schema, named by a hash of the schema, the ajv options and ajv's version, so
// a changed schema is compiled and written anew. Off unless the variable is
// set: the gateway writes no code where an operator did not ask for it.
//
// The file is code this process runs, and the validator it holds decides which
// configs load, so a kept file is run only when (fail closed: anything else, or
// any error, and the schema is compiled in memory as without the cache):
// - the directory and the file belong to this process's user and no one else
//   may write them (another local user could otherwise plant code, or a
//   validator that accepts every config), and the file is no symbolic link;
// - its first line carries the SHA-256 of its name's key and of the code below
//   it, so a partial, corrupt or renamed file is never run;
// - the bytes run are the bytes checked (read once, run from memory).
// Writers use a fresh exclusive temporary name and a rename, so processes
// writing at once never see or run each other's partial files.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { compileFunction } from 'node:vm';
import type { Ajv, ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

/** A validator compiled by `compile`; with `source`, ajv keeps the code standalone output needs. */
export type CompileValidator = (source: boolean) => { ajv: Ajv; validate: ValidateFunction };

/** Far above any validator's code; a larger file is not read. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const HEADER = '// gatehouse config validator sha256=';

/** The file a validator of `schema` compiled with `options` is kept in, under `dir`. */
export function validatorFile(dir: string, schema: unknown, options: unknown): string {
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([ajvVersion, options, schema])).digest('hex').slice(0, 20);
  return join(resolve(dir), `config-validator-${key}.cjs`);
}

/** The digest a kept file's first line must carry: its name (the key) and its code. */
function digest(file: string, code: string): string {
  return createHash('sha256').update(basename(file)).update('\n').update(code).digest('hex');
}

/** This process's user owns it and no one else may write it (no uid to compare off POSIX: nothing is trusted). */
function ownOnly(st: { uid: number; mode: number }): boolean {
  const uid = process.getuid?.();
  return uid !== undefined && st.uid === uid && (st.mode & 0o022) === 0;
}

function safeDirectory(dir: string): boolean {
  const st = statSync(dir);
  return st.isDirectory() && ownOnly(st);
}

/** The kept validator in `file`, or undefined when there is none this process may run. */
function readKept(dir: string, file: string): ValidateFunction | undefined {
  if (!safeDirectory(dir)) return undefined;
  // O_NOFOLLOW: a symbolic link planted at the name is refused, not followed.
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !ownOnly(st) || st.size > MAX_FILE_BYTES) return undefined;
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const newline = text.indexOf('\n');
  if (newline < 0 || !text.startsWith(HEADER)) return undefined;
  const code = text.slice(newline + 1);
  if (text.slice(HEADER.length, newline) !== digest(file, code)) return undefined;
  const module = { exports: {} as unknown };
  compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file })(module.exports, require, module, file, dir);
  return typeof module.exports === 'function' ? module.exports as ValidateFunction : undefined;
}

/**
 * The validator from `dir` when it holds one for this schema and these options
 * that passes the checks at the top of this file; otherwise compiled, and
 * written there for the next process (best effort: a directory that cannot be
 * written, or that others may write, only costs the next process a compile).
 */
export function cachedValidator(dir: string, schema: unknown, options: unknown, compile: CompileValidator): ValidateFunction {
  const where = resolve(dir);
  const file = validatorFile(where, schema, options);
  try {
    const kept = readKept(where, file);
    if (kept) return kept;
  } catch {
    // Not there yet, unreadable, or its code throws: compiled below.
  }
  const { ajv, validate } = compile(true);
  const { default: standaloneCode } = require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js');
  // The runtime helpers the code requires, by absolute path: the directory may be outside this package.
  const code = standaloneCode(ajv, validate).replace(/require\("(ajv\/[^"]+)"\)/g, (_, id: string) => `require(${JSON.stringify(require.resolve(id))})`);
  // A fresh name, created exclusively (never through a link planted there): each writer has its own.
  const partial = `${file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    mkdirSync(where, { recursive: true, mode: 0o700 });
    if (!safeDirectory(where)) return validate;
    writeFileSync(partial, `${HEADER}${digest(file, code)}\n${code}`, { flag: 'wx', mode: 0o600 });
    // A rename: a process reading at the same moment sees the old file or the whole new one.
    renameSync(partial, file);
  } catch {
    try { rmSync(partial, { force: true }); } catch { /* the directory itself is not there */ }
  }
  return validate;
}
