// `gatehouse user add|passwd|disable|enable|list`: manages the users file of
// the `file` identity source. The file is edited in place (comments kept) and
// replaced atomically; a running gateway picks the change up by itself.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { hashPassword } from '../identity/password-hash.ts';
import {
  addUser,
  EMAIL_PATTERN,
  GROUP_PATTERN,
  parseUsersFile,
  setDisabled,
  setPassword,
  USERNAME_PATTERN,
  UsersFileError,
  type ConfigIssue,
} from '../identity/users-file.ts';
import type { UserRecord } from '../identity/types.ts';

const EXIT_OK = 0;
const EXIT_FIXABLE = 1;
const EXIT_USAGE = 2;

const USAGE = `usage:
  gatehouse user add USER [--email E] [--name N] [--groups a,b] [--password-stdin]
  gatehouse user passwd USER [--password-stdin]
  gatehouse user disable USER
  gatehouse user enable USER
  gatehouse user list
options:
  --users FILE       the users file (default: identity.file.path from the config)
  --config FILE      the gateway config (default config/gatehouse.yaml)
  --password-stdin   read the password from standard input instead of prompting
`;

const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;
// The most common passwords of at least 8 characters (breach corpora), plus
// this product's own name: each would fall to the first guesses.
const COMMON_PASSWORDS = new Set([
  'password', 'password1', 'password12', 'password123', 'password!', 'passw0rd', 'p@ssw0rd', 'p@ssword',
  '12345678', '123456789', '1234567890', '87654321', '11111111', '00000000', '12341234', '11223344',
  'qwertyui', 'qwertyuiop', 'qwerty12', 'qwerty123', 'qwerty1234', '1q2w3e4r', '1q2w3e4r5t', 'zaq12wsx', 'asdfghjk', 'asdfasdf',
  'iloveyou', 'iloveyou1', 'sunshine', 'princess', 'football', 'baseball', 'superman', 'starwars', 'whatever', 'trustno1',
  'letmein1', 'welcome1', 'welcome123', 'changeme', 'changeme1', 'admin123', 'administrator', 'abc12345', 'abcd1234',
  'computer', 'internet', 'michelle', 'jennifer', 'master12', 'monkey12', 'dragon12', 'shadow12', 'secret12', 'letmein!',
  'gatehouse', 'gatehouse1', 'gatehouse123',
]);

/** Why a new password is too weak, or undefined when it will do. */
export function passwordWeakness(password: string, username: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return 'is one of the most common passwords';
  if (lower === username.toLowerCase()) return 'must not be the username';
  if (/^(.)\1*$/su.test(password)) return 'must not be one character repeated';
  const codes = [...lower].map((c) => c.codePointAt(0)!);
  const step = codes[1] - codes[0];
  if (Math.abs(step) === 1 && codes.every((c, i) => i === 0 || c - codes[i - 1] === step)) return 'must not be a simple sequence';
  return undefined;
}

class ExitError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export async function runUser(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (err) {
    if (err instanceof ExitError) {
      process.stderr.write(err.code === EXIT_USAGE ? `gatehouse user: ${err.message}\n${USAGE}` : `gatehouse user: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof UsersFileError) {
      process.stderr.write(`gatehouse user: ${err.message}\n${err.issues.map((i) => `  ${formatIssue(i)}\n`).join('')}`);
      return EXIT_FIXABLE;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`gatehouse user: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
    return EXIT_FIXABLE;
  }
}

async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        users: { type: 'string' },
        config: { type: 'string' },
        email: { type: 'string' },
        name: { type: 'string' },
        groups: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ExitError(EXIT_USAGE, (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const [command, username, ...extra] = positionals;
  if (command === undefined) throw new ExitError(EXIT_USAGE, 'missing command');
  if (!['add', 'passwd', 'disable', 'enable', 'list'].includes(command)) throw new ExitError(EXIT_USAGE, `unknown command "${command}"`);
  if (extra.length > 0) throw new ExitError(EXIT_USAGE, `unexpected argument "${extra[0]}"`);
  if (command === 'list') {
    if (username !== undefined) throw new ExitError(EXIT_USAGE, `unexpected argument "${username}"`);
  } else if (username === undefined) throw new ExitError(EXIT_USAGE, `missing USER for "${command}"`);
  if (command !== 'add') {
    for (const flag of ['email', 'name', 'groups'] as const) {
      if (values[flag] !== undefined) throw new ExitError(EXIT_USAGE, `--${flag} is only for "add"`);
    }
  }
  if (values['password-stdin'] && command !== 'add' && command !== 'passwd') {
    throw new ExitError(EXIT_USAGE, `--password-stdin is only for "add" and "passwd"`);
  }

  const file = await usersFilePath(values.users, values.config);
  const users = await readUsers(file, command === 'add');

  switch (command) {
    case 'list':
      process.stdout.write(formatTable([...users.values()]));
      return EXIT_OK;
    case 'add': {
      const id = username!;
      if (!USERNAME_PATTERN.test(id)) {
        const hint = USERNAME_PATTERN.test(id.toLowerCase()) ? ` (usernames are lower-case: ${id.toLowerCase()})` : '';
        throw new ExitError(EXIT_FIXABLE, `invalid username "${id}": lower-case letters, digits, ".", "_" and "-", at most 64${hint}`);
      }
      if (users.has(id)) throw new ExitError(EXIT_FIXABLE, `user "${id}" already exists in ${file}`);
      if (values.email !== undefined && !EMAIL_PATTERN.test(values.email)) throw new ExitError(EXIT_FIXABLE, `invalid email "${values.email}"`);
      const groups = (values.groups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
      const badGroup = groups.find((g) => !GROUP_PATTERN.test(g));
      if (badGroup !== undefined) throw new ExitError(EXIT_FIXABLE, `invalid group name "${badGroup}"`);
      const password = await newPassword(id, values['password-stdin'] === true);
      await addUser(file, {
        id,
        display_name: values.name ?? id,
        email: values.email,
        password_hash: await hashPassword(password),
        groups,
        disabled: false,
      });
      process.stdout.write(`added user ${id} to ${file}\n`);
      return EXIT_OK;
    }
    case 'passwd': {
      const id = existing(users, username!, file);
      const password = await newPassword(id, values['password-stdin'] === true);
      await setPassword(file, id, await hashPassword(password));
      process.stdout.write(`changed the password of ${id}\n`);
      return EXIT_OK;
    }
    default: {
      const id = existing(users, username!, file);
      const disabled = command === 'disable';
      await setDisabled(file, id, disabled);
      process.stdout.write(`${disabled ? 'disabled' : 'enabled'} user ${id}\n`);
      return EXIT_OK;
    }
  }
}

function existing(users: Map<string, UserRecord>, id: string, file: string): string {
  if (!users.has(id)) throw new ExitError(EXIT_FIXABLE, `no user "${id}" in ${file}`);
  return id;
}

/** --users wins; otherwise identity.file.path from the gateway config. */
async function usersFilePath(usersFlag: string | undefined, configFlag: string | undefined): Promise<string> {
  if (usersFlag !== undefined) return resolve(usersFlag);
  const configPath = configFlag ?? 'config/gatehouse.yaml';
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    throw new ExitError(EXIT_FIXABLE, `cannot read ${configPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --users FILE or --config FILE`);
  }
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch (err) {
    throw new ExitError(EXIT_FIXABLE, `${configPath} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const identity = (config as { identity?: { source?: unknown; file?: { path?: unknown } } } | null)?.identity;
  if (identity?.source !== undefined && identity.source !== 'file') {
    throw new ExitError(EXIT_FIXABLE, `${configPath} uses identity source "${String(identity.source)}"; gatehouse user manages the file source only`);
  }
  const path = identity?.file?.path;
  if (typeof path !== 'string' || path === '') throw new ExitError(EXIT_FIXABLE, `${configPath} has no identity.file.path; pass --users FILE`);
  return resolve(path);
}

async function readUsers(file: string, mayBeMissing: boolean): Promise<Map<string, UserRecord>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && mayBeMissing) return new Map();
    throw new ExitError(EXIT_FIXABLE, `cannot read users file ${file}: ${(err as Error).message}`);
  }
  const { users, issues } = parseUsersFile(text, file);
  if (issues.length > 0) throw new UsersFileError('invalid', `${file} has errors; fix them first (gatehouse check)`, issues);
  return users;
}

async function newPassword(username: string, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
  } else if (process.stdin.isTTY) {
    password = await promptHidden('New password: ');
    const again = await promptHidden('Repeat password: ');
    if (again !== password) throw new ExitError(EXIT_FIXABLE, 'the passwords do not match');
  } else {
    throw new ExitError(EXIT_USAGE, 'standard input is not a terminal: use --password-stdin to pipe the password');
  }
  const weakness = passwordWeakness(password, username);
  if (weakness !== undefined) throw new ExitError(EXIT_FIXABLE, `weak password: it ${weakness}`);
  return password;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // Raw mode before the prompt appears, so nothing typed after it is echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolvePrompt, reject) => {
    let answer = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePrompt(answer);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new ExitError(130, 'interrupted'));
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function formatTable(users: UserRecord[]): string {
  const rows = [
    ['ID', 'NAME', 'EMAIL', 'GROUPS', 'DISABLED'],
    ...users.map((u) => [u.id, u.display_name, u.email || '-', u.groups.join(',') || '-', u.disabled ? 'yes' : 'no']),
  ];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]))).join('  ')).join('\n') + '\n';
}

function formatIssue(i: ConfigIssue): string {
  return `${i.path}${i.line === undefined ? '' : ` (line ${i.line})`}: ${i.message}`;
}
