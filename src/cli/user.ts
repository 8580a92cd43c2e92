// `gatehouse user add|passwd|disable|enable|list`: manages the users file of
// the `file` identity source. The file is edited in place (comments kept) and
// replaced atomically; a running gateway picks the change up by itself.
// `gatehouse user locked|unlock` work on the store instead (cli/account-lock.ts),
// for every identity source.
//
// Exit 0 ok, 1 a failure the user can fix (weak password, unknown user, an
// invalid users file or config), 2 usage, 130 interrupted at the prompt.

import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { hashPassword } from '../identity/password-hash.ts';
import {
  addUser,
  EMAIL_PATTERN,
  GROUP_PATTERN,
  setDisabled,
  setPassword,
  USERNAME_PATTERN,
  UsersFileError,
} from '../identity/users-file.ts';
import type { UserRecord } from '../identity/types.ts';
import {
  CliError, CONFIG_OPTION, configPath, DEFAULT_CONFIG, EXIT, loadOperatorConfig, parseOptions, printUsage, readUsersFile, runCommand, STD_IO,
  table, usageError, usersFileIssues, type CommandInfo, type Streams,
} from './operator.ts';

export const USER: CommandInfo = {
  label: 'gatehouse user',
  usage: `usage:
  gatehouse user add USER [--email E] [--name N] [--groups a,b] [--password-stdin]
  gatehouse user passwd USER [--password-stdin]
  gatehouse user disable USER
  gatehouse user enable USER
  gatehouse user list
  gatehouse user locked                     accounts locked after 100 failed attempts in a row
  gatehouse user unlock USER [--by OPERATOR]
options:
  --users FILE       the users file (default: identity.file.path from the config)
  --by OPERATOR      who unlocks (recorded in the audit log; default: your login name)
  --config FILE      the gateway config (default ${DEFAULT_CONFIG})
  --password-stdin   read the password from standard input instead of prompting
`,
};

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

export async function runUser(args: string[], io: Streams = STD_IO): Promise<number> {
  return runCommand(USER, io, async () => {
    try {
      return await run(args, io);
    } catch (err) {
      if (err instanceof UsersFileError) throw new CliError(EXIT.FAILED, `${err.message}\n${usersFileIssues(err.issues)}`);
      throw err;
    }
  });
}

async function run(args: string[], io: Streams): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    users: { type: 'string' },
    ...CONFIG_OPTION,
    email: { type: 'string' },
    name: { type: 'string' },
    groups: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    by: { type: 'string' },
  }, true);
  if (values.help) return printUsage(USER, io);
  const [command, username, ...extra] = positionals;
  if (command === undefined) throw usageError('missing command');
  if (!['add', 'passwd', 'disable', 'enable', 'list', 'locked', 'unlock'].includes(command)) throw usageError(`unknown command "${command}"`);
  if (extra.length > 0) throw usageError(`unexpected argument "${extra[0]}"`);
  if (values.by !== undefined && command !== 'unlock') throw usageError('--by is only for "unlock"');
  if (command === 'locked' || command === 'unlock') {
    if (command === 'locked' && username !== undefined) throw usageError(`unexpected argument "${username}"`);
    if (command === 'unlock' && username === undefined) throw usageError('missing USER for "unlock"');
    if (values.users !== undefined || values.email !== undefined || values.name !== undefined || values.groups !== undefined || values['password-stdin']) {
      throw usageError(`"${command}" takes only --config${command === 'unlock' ? ' and --by' : ''}`);
    }
    const { listLocked, unlock } = await import('./account-lock.ts');
    const config = loadOperatorConfig(configPath(values));
    return command === 'locked' ? listLocked(io, config) : unlock(io, config, username!, values.by ?? userInfo().username);
  }
  if (command === 'list') {
    if (username !== undefined) throw usageError(`unexpected argument "${username}"`);
  } else if (username === undefined) throw usageError(`missing USER for "${command}"`);
  if (command !== 'add') {
    for (const flag of ['email', 'name', 'groups'] as const) {
      if (values[flag] !== undefined) throw usageError(`--${flag} is only for "add"`);
    }
  }
  if (values['password-stdin'] && command !== 'add' && command !== 'passwd') {
    throw usageError(`--password-stdin is only for "add" and "passwd"`);
  }

  const file = usersFilePath(values.users, values);
  const users = readUsersFile(file, command === 'add' ? { missing: 'empty' } : {});

  switch (command) {
    case 'list':
      io.stdout.write(formatTable([...users.values()]));
      return EXIT.OK;
    case 'add': {
      const id = username!;
      if (!USERNAME_PATTERN.test(id)) {
        const hint = USERNAME_PATTERN.test(id.toLowerCase()) ? ` (usernames are lower-case: ${id.toLowerCase()})` : '';
        throw new CliError(EXIT.FAILED, `invalid username "${id}": lower-case letters, digits, ".", "_" and "-", at most 64${hint}`);
      }
      if (users.has(id)) throw new CliError(EXIT.FAILED, `user "${id}" already exists in ${file}`);
      if (values.email !== undefined && !EMAIL_PATTERN.test(values.email)) throw new CliError(EXIT.FAILED, `invalid email "${values.email}"`);
      const groups = (values.groups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
      const badGroup = groups.find((g) => !GROUP_PATTERN.test(g));
      if (badGroup !== undefined) throw new CliError(EXIT.FAILED, `invalid group name "${badGroup}"`);
      const password = await newPassword(id, values['password-stdin'] === true);
      await addUser(file, {
        id,
        display_name: values.name ?? id,
        email: values.email,
        password_hash: await hashPassword(password),
        groups,
        disabled: false,
      });
      io.stdout.write(`added user ${id} to ${file}\n`);
      return EXIT.OK;
    }
    case 'passwd': {
      const id = existing(users, username!, file);
      const password = await newPassword(id, values['password-stdin'] === true);
      await setPassword(file, id, await hashPassword(password));
      io.stdout.write(`changed the password of ${id}\n`);
      return EXIT.OK;
    }
    default: {
      const id = existing(users, username!, file);
      const disabled = command === 'disable';
      await setDisabled(file, id, disabled);
      io.stdout.write(`${disabled ? 'disabled' : 'enabled'} user ${id}\n`);
      return EXIT.OK;
    }
  }
}

function existing(users: Map<string, UserRecord>, id: string, file: string): string {
  if (!users.has(id)) throw new CliError(EXIT.FAILED, `no user "${id}" in ${file}`);
  return id;
}

/** --users wins; otherwise identity.file.path from the gateway config, read by the gateway's loader. */
function usersFilePath(usersFlag: string | undefined, values: Parameters<typeof configPath>[0]): string {
  if (usersFlag !== undefined) return resolve(usersFlag);
  const file = configPath(values);
  if (!existsSync(file)) throw new CliError(EXIT.FAILED, `cannot read ${file} (ENOENT); pass --users FILE or --config FILE`);
  let identity: Config['identity'];
  try {
    // No secret is needed to find the users file: none is generated.
    identity = loadOperatorConfig(file, { generateDevSecrets: false }).identity;
  } catch (err) {
    // A config for another identity source is refused for that reason, even when it has other faults.
    const read = err instanceof CliError && err.cause instanceof ConfigError ? err.cause.unchecked?.identity : undefined;
    if (read === undefined || read.source === 'file') throw err;
    identity = read;
  }
  if (identity.source !== 'file') {
    throw new CliError(EXIT.FAILED, `${file} uses identity source "${identity.source}"; gatehouse user manages the file source only`);
  }
  if (!identity.file?.path) throw new CliError(EXIT.FAILED, `${file} has no identity.file.path; pass --users FILE`);
  return resolve(identity.file.path);
}

async function newPassword(username: string, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
  } else if (process.stdin.isTTY) {
    password = await promptHidden('New password: ');
    const again = await promptHidden('Repeat password: ');
    if (again !== password) throw new CliError(EXIT.FAILED, 'the passwords do not match');
  } else {
    throw usageError('standard input is not a terminal: use --password-stdin to pipe the password');
  }
  const weakness = passwordWeakness(password, username);
  if (weakness !== undefined) throw new CliError(EXIT.FAILED, `weak password: it ${weakness}`);
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
        if (ch === '\u0003') return finish(new CliError(EXIT.INTERRUPTED, 'interrupted'));
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function formatTable(users: UserRecord[]): string {
  const rows = users.map((u) => [u.id, u.display_name, u.email || '-', u.groups.join(',') || '-', u.disabled ? 'yes' : 'no']);
  return `${table(['ID', 'NAME', 'EMAIL', 'GROUPS', 'DISABLED'], rows, '').join('\n')}\n`;
}
