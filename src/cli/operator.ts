// What the `gatehouse` commands share: the one error type and its exit codes,
// the one argument parser (node:util parseArgs), the one way a command reports
// a failure, and reading the operator's config, users file and store.
//
// Exit codes, for every command: 0 ok, 1 a failure the user can fix (bad
// config, unknown user, unreachable store, tampering found), 2 usage, 130
// interrupted at a prompt.

import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ConfigError, formatIssues, loadConfig, type ConfigIssue } from '../config/load.ts';
import { closest } from '../config/schema-messages.ts';
import type { Config } from '../config/types.ts';
import { parseUsersFile } from '../identity/users-file.ts';
import type { UserRecord } from '../identity/types.ts';
import type { Store } from '../store/types.ts';
import type { AuditLog } from '../audit/audit-log.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

export const DEFAULT_CONFIG = 'config/gatehouse.yaml';

/** A failure with its exit code (EXIT.FAILED, EXIT.USAGE, ...); the message is what the operator reads. */
export class CliError extends Error {
  readonly code: number;
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.USAGE, message);
}

/** Where a command writes: the process's streams, or a test's buffers. */
export interface Streams {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
}

export interface CliIO extends Streams {
  /** The clock (ms since the epoch); Date.now when absent. */
  now?: () => number;
}

export const STD_IO: Streams = { stdout: process.stdout, stderr: process.stderr };

/** How a command introduces itself in `gatehouse --help` and on its errors. */
export interface CommandInfo {
  /** Its usage text, printed by --help (stdout) and after a usage error (stderr). */
  usage: string;
  /** What starts each error line: `gatehouse NAME` for most commands. */
  label: string;
}

/**
 * Runs a command body: every CliError is answered the same way for every
 * command (`LABEL: message`, plus the usage after a usage error), and so is a
 * file the system refused (`EACCES: permission denied, open ...`: the
 * operator's to fix, exit 1). Anything else is a bug and propagates (main.ts
 * prints it with its stack).
 */
export async function runCommand(info: CommandInfo, io: Streams, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const failure = err instanceof CliError ? err : systemFailure(err);
    if (failure === undefined) throw err;
    io.stderr.write(`${info.label}: ${failure.message}\n${failure.code === EXIT.USAGE ? withNewline(info.usage) : ''}`);
    return failure.code;
  }
}

/** A command whose one option is --config: its usage on --help, else `body` with the config file's path. */
export function runConfigCommand(info: CommandInfo, args: string[], io: Streams, body: (file: string) => Promise<number>): Promise<number> {
  return runCommand(info, io, async () => {
    const { values } = parseOptions(args, CONFIG_OPTION);
    return values.help ? printUsage(info, io) : body(configPath(values));
  });
}

/** A failed system call (its message names the call and the file) as exit 1. */
function systemFailure(err: unknown): CliError | undefined {
  const e = err as NodeJS.ErrnoException;
  return err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string' ? new CliError(EXIT.FAILED, e.message, { cause: err }) : undefined;
}

export function printUsage(info: CommandInfo, io: Streams): number {
  io.stdout.write(withNewline(info.usage));
  return EXIT.OK;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** `--config FILE` (`-c FILE`), the same for every command that reads the config. */
export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * node:util parseArgs (strict) with usage errors as CliError(EXIT.USAGE).
 * Every command accepts --help/-h; `--config` (when the command has it) must
 * name a file.
 */
export function parseOptions<const O extends ParseArgsOptionsConfig>(args: string[], options: O, positionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, ...HELP_OPTION }, strict: true, allowPositionals: positionals });
  } catch (err) {
    const e = err as Error & { code?: string };
    const missing = e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /^Option '(-[^ ]+)(?:, (--[^ ]+))? <value>' argument missing$/.exec(e.message) : null;
    if (missing) throw usageError(`${missing[2] ?? missing[1]} needs a value`);
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']*)'/.exec(e.message) : null;
    if (unknown) throw usageError(unknownOption(unknown[1], Object.keys({ ...options, ...HELP_OPTION })));
    const stray = e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? /^Unexpected argument '([^']*)'/.exec(e.message) : null;
    throw usageError(stray ? `unexpected argument ${stray[1]}: this command takes only options` : e.message);
  }
  if ((parsed.values as { config?: unknown }).config === '') throw usageError('--config needs a file');
  return parsed;
}

/** `unknown option --jsn (did you mean --json?)`: node's own message talks about positionals after `--`. */
export function unknownOption(given: string, known: readonly string[]): string {
  const name = given.replace(/^-+/, '').split('=')[0];
  const guess = closest(name, [...known]);
  return `unknown option ${given}${guess ? ` (did you mean --${guess}?)` : ''}`;
}

/** The values of options a command cannot do without; a missing one is a usage error (`--url is required`). */
export function requiredOptions<V extends object, K extends keyof V & string>(values: V, keys: readonly K[]): { [P in K]-?: NonNullable<V[P]> } {
  for (const key of keys) if (values[key] === undefined) throw usageError(`--${key} is required`);
  return values as { [P in K]-?: NonNullable<V[P]> };
}

/** The --config value, else the default config file. */
export function configPath(values: { config?: string }): string {
  return values.config ?? DEFAULT_CONFIG;
}

export interface OperatorConfigOptions {
  /** The clock the loader checks exception expiry against. */
  now?: number;
  /**
   * Generate missing development secrets in memory (default true). Commands
   * that must not invent a key (audit verify: a fresh key makes every MAC look
   * forged; user: needs none) pass false and still use a stored one.
   */
  generateDevSecrets?: boolean;
}

/**
 * The config through the gateway's own loader (same interpolation, secret
 * files and checks); every issue listed, exit 1. Never writes dev secrets:
 * an operator command changes nothing it was not asked to.
 */
export function loadOperatorConfig(file: string, opts: OperatorConfigOptions = {}): Config {
  const now = opts.now;
  try {
    return loadConfig(file, {
      persistDevSecrets: false,
      ...(opts.generateDevSecrets === false ? { generateDevSecrets: false } : {}),
      ...(now !== undefined ? { now: () => new Date(now) } : {}),
    });
  } catch (err) {
    throw configFailure(file, err);
  }
}

/** A ConfigError as the operator reads it (CliError, exit 1, every issue listed); anything else unchanged. */
export function configFailure(file: string, err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  const unreadable = err.issues.length === 1 && err.issues[0].message.startsWith('cannot read the config file');
  const message = unreadable ? `cannot read config ${file}: ${err.issues[0].message}` : `invalid config:\n${formatIssues(file, err.issues)}`;
  return new CliError(EXIT.FAILED, message, { cause: err });
}

/** Resolves with the signal (SIGTERM, SIGINT) that asks a long-running command to stop. */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolveSignal(signal);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** The users of the file identity source, or null when the source has no user list (oidc, upstream_form). */
export function readDirectory(config: Config): { path: string; users: Map<string, UserRecord> } | null {
  if (config.identity.source !== 'file' || !config.identity.file) return null;
  const path = config.identity.file.path;
  return { path, users: readUsersFile(path) };
}

/** A users file's users; unreadable or invalid is exit 1 with every problem listed (`missing: 'empty'`: no file yet, no users). */
export function readUsersFile(path: string, opts: { missing?: 'empty' } = {}): Map<string, UserRecord> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.missing === 'empty') return new Map();
    throw new CliError(EXIT.FAILED, `cannot read the users file ${path}: ${code ?? (err as Error).message}`);
  }
  const { users, issues } = parseUsersFile(text, path);
  if (issues.length > 0) {
    throw new CliError(EXIT.FAILED, `the users file ${path} has errors (run gatehouse check):\n${usersFileIssues(issues)}`);
  }
  return users;
}

/** A users file's problems, one indented line each: `  users.dave.password (line 4): ...`. */
export function usersFileIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n');
}

/** The store, migrated; for reading commands a SQLite file that does not exist yet is null (nothing to read, nothing created). */
export async function openExistingStore(config: Config): Promise<Store | null> {
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) return null;
  return openMigratedStore(config);
}

export async function openMigratedStore(config: Config): Promise<Store> {
  // Loaded here: the database drivers cost every command's start-up, and most never open the store.
  const { openStore } = await import('../store/open-store.ts');
  let store: Store | undefined;
  try {
    store = openStore(config.store);
    // A command may be what upgrades the store: what the migration changed is said here, since no gateway will.
    for (const notice of await store.migrate()) process.stderr.write(`gatehouse: ${notice}\n`);
    return store;
  } catch (err) {
    await store?.close().catch(() => undefined);
    throw new CliError(EXIT.FAILED, `cannot open the store ${storeName(config)}: ${(err as Error).message}`);
  }
}

/** The store as an operator recognises it, without a password. */
export function storeName(config: Config): string {
  if (config.store.kind === 'sqlite') return config.store.path;
  try {
    const u = new URL(config.store.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/** A table's lines, columns padded to their widest cell (the last one not), indented by two spaces unless told. */
export function table(header: string[], rows: string[][], indent = '  '): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => `${indent}${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')}`.trimEnd());
}

/** `2026-11-22 12:00 UTC` from an ISO timestamp. */
export function utcMinute(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Closes a command's audit log, which makes its records durable; a record that
 * could not be written fails the command, saying what was done (`done`) all the same.
 */
export async function closeAudit(audit: AuditLog, errors: Error[], done: string): Promise<AuditLog['head']> {
  const head = audit.head;
  try {
    await audit.close();
  } catch (err) {
    errors.push(err as Error);
  }
  if (errors.length > 0) throw new CliError(EXIT.FAILED, `${done}, but the audit record may be missing: ${errors.map((e) => e.message).join('; ')}`);
  return head;
}
