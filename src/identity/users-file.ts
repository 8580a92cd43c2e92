// The users file (config/users.yaml): parse and validate it with line numbers,
// and edit it for `gatehouse user` without losing the operator's comments.
// Edits are validated before they are written, and written atomically, so the
// gateway (which reloads on change) never sees a half-written or invalid file.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { parsePhc } from './password-hash.ts';
import type { UserRecord } from './types.ts';
// The config loader's issue shape, so `gatehouse check` prints both alike.
// Paths here are "<file>: users.alice.email".
import type { ConfigIssue } from '../config/load.ts';

export type { ConfigIssue };


export const USERNAME_PATTERN = /^[a-z0-9._-]{1,64}$/;
// Group names end up comma-joined in an upstream header: no commas, spaces or controls.
export const GROUP_PATTERN = /^[A-Za-z0-9._:@/-]{1,128}$/;
export const EMAIL_PATTERN = /^[^\s@<>()[\]\\,;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;
// Display names reach headers and pages: no control characters (CR/LF injection).
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const USER_KEYS = ['display_name', 'email', 'password', 'groups', 'disabled'] as const;

export function parseUsersFile(text: string, file: string): { users: Map<string, UserRecord>; issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const issues: ConfigIssue[] = [];
  const users = new Map<string, UserRecord>();
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Node | null | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const issue = (path: string, node: unknown, message: string) => issues.push({ path: `${file}: ${path}`, line: lineOf(node), message });
  const deref = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);

  for (const err of doc.errors) {
    issues.push({ path: `${file}: (syntax)`, line: lineCounter.linePos(err.pos[0]).line, message: err.message.split('\n')[0] });
  }
  if (issues.length > 0) return { users, issues };

  const root = deref(doc.contents);
  if (!isMap(root)) {
    issue('(root)', root, 'expected a map with a `users:` key');
    return { users, issues };
  }
  let sawUsers = false;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (key !== 'users') {
      issue(key, pair.key, `unknown key "${key}" (expected only "users")`);
      continue;
    }
    sawUsers = true;
    const value = deref(pair.value);
    if (value === null || (isScalar(value) && value.value === null)) continue; // `users:` with nobody yet
    if (!isMap(value)) {
      issue('users', value ?? pair.key, 'must be a map of username to user');
      continue;
    }
    for (const entry of value.items) {
      const id = isScalar(entry.key) ? String(entry.key.value) : String(entry.key);
      const at = `users.${id}`;
      const before = issues.length;
      if (!isScalar(entry.key) || typeof entry.key.value !== 'string') {
        // YAML reads `007:` as the number 7 and `yes:` as true: the name would silently change.
        issue(at, entry.key, `username ${id} is not a string in YAML: quote it ("${id}")`);
      } else if (!USERNAME_PATTERN.test(id)) {
        issue(at, entry.key, `username "${id}" must match ${USERNAME_PATTERN.source} (lower-case letters, digits, . _ -; at most 64)`);
      }
      const body = deref(entry.value);
      if (!isMap(body)) {
        issue(at, body ?? entry.key, 'must be a map with display_name, email, password, groups, disabled');
        continue;
      }
      const fields = new Map<string, unknown>();
      for (const field of body.items) {
        const name = isScalar(field.key) ? String(field.key.value) : String(field.key);
        if (!(USER_KEYS as readonly string[]).includes(name)) {
          issue(`${at}.${name}`, field.key, `unknown key "${name}" (expected one of ${USER_KEYS.join(', ')})`);
          continue;
        }
        fields.set(name, deref(field.value));
      }
      const scalar = (name: string): unknown => {
        const node = fields.get(name);
        return isScalar(node) ? node.value : node === undefined ? undefined : node;
      };

      const password = scalar('password');
      if (!fields.has('password')) issue(`${at}.password`, entry.key, 'missing: set it with `gatehouse user passwd ' + id + '`');
      else if (typeof password !== 'string' || parsePhc(password) === null) {
        issue(`${at}.password`, fields.get('password'), 'must be an argon2 PHC hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash) within the accepted limits; set it with `gatehouse user passwd ' + id + '`');
      }

      const displayName = scalar('display_name');
      if (displayName !== undefined && (typeof displayName !== 'string' || displayName.trim() === '' || displayName.length > 200 || CONTROL_CHARS.test(displayName))) {
        issue(`${at}.display_name`, fields.get('display_name'), 'must be a non-empty string of at most 200 characters without control characters');
      }

      const email = scalar('email');
      if (email !== undefined && email !== null && (typeof email !== 'string' || !EMAIL_PATTERN.test(email))) {
        issue(`${at}.email`, fields.get('email'), `"${String(email)}" is not a valid email address`);
      }

      const groupsNode = fields.get('groups');
      const groups: string[] = [];
      if (groupsNode !== undefined && !(isScalar(groupsNode) && groupsNode.value === null)) {
        if (!isSeq(groupsNode)) issue(`${at}.groups`, groupsNode, 'must be a list of group names');
        else {
          groupsNode.items.forEach((item, i) => {
            const g = deref(item);
            const name = isScalar(g) ? g.value : undefined;
            if (typeof name !== 'string' || !GROUP_PATTERN.test(name)) {
              issue(`${at}.groups[${i}]`, g, `group name must match ${GROUP_PATTERN.source}`);
            } else if (!groups.includes(name)) groups.push(name);
          });
        }
      }

      const disabled = scalar('disabled');
      if (disabled !== undefined && disabled !== null && typeof disabled !== 'boolean') {
        issue(`${at}.disabled`, fields.get('disabled'), 'must be true or false');
      }

      if (issues.length === before) {
        users.set(id, {
          id,
          display_name: typeof displayName === 'string' ? displayName : id,
          email: typeof email === 'string' ? email : '',
          password_hash: password as string,
          groups,
          disabled: disabled === true,
        });
      }
    }
  }
  if (!sawUsers) issue('users', root, 'missing: the file needs a `users:` map');
  return { users, issues };
}

/** Used by `gatehouse check`: every problem in the users file, with line numbers; a file that cannot be read is one issue whose path is `path` itself. */
export async function validateUsersFile(path: string): Promise<ConfigIssue[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // Node's message ends ", open '<path as given>'": the full path replaces it.
    return [{ path, message: `cannot read the users file ${resolve(path)}: ${(err as Error).message.split(', ')[0]}` }];
  }
  return parseUsersFile(text, path).issues;
}

export type UsersFileErrorCode = 'exists' | 'unknown' | 'invalid';

export class UsersFileError extends Error {
  readonly code: UsersFileErrorCode;
  readonly issues: ConfigIssue[];
  constructor(code: UsersFileErrorCode, message: string, issues: ConfigIssue[] = []) {
    super(message);
    this.name = 'UsersFileError';
    this.code = code;
    this.issues = issues;
  }
}

export interface NewUser {
  id: string;
  password_hash: string;
  display_name?: string;
  email?: string;
  groups?: string[];
  disabled?: boolean;
}

const NEW_FILE = '# gatehouse users: argon2id password hashes. Manage with `gatehouse user add|passwd|disable|enable|list`.\nusers:\n';

/** Adds a user; creates the file when it does not exist yet. */
export async function addUser(path: string, user: NewUser): Promise<void> {
  await editUsersFile(path, true, (doc, users) => {
    if (users.has(user.id)) throw new UsersFileError('exists', `user "${user.id}" already exists in ${path}`);
    const node = doc.createNode({
      display_name: user.display_name ?? user.id,
      ...(user.email ? { email: user.email } : {}),
      password: user.password_hash,
      groups: user.groups ?? [],
      disabled: user.disabled ?? false,
    }) as YAMLMap;
    const groups = node.get('groups', true);
    if (isSeq(groups)) groups.flow = true; // groups: [admins, finance], as documented
    let usersNode = doc.get('users', true);
    if (!isMap(usersNode) || (usersNode.flow && usersNode.items.length === 0)) {
      usersNode = doc.createNode({}) as YAMLMap;
      doc.set('users', usersNode);
    }
    (usersNode as YAMLMap).set(user.id, node);
  });
}

export async function setPassword(path: string, id: string, passwordHash: string): Promise<void> {
  await editUsersFile(path, false, (doc, users) => {
    if (!users.has(id)) throw new UsersFileError('unknown', `no user "${id}" in ${path}`);
    doc.setIn(['users', id, 'password'], passwordHash);
  });
}

export async function setDisabled(path: string, id: string, disabled: boolean): Promise<void> {
  await editUsersFile(path, false, (doc, users) => {
    if (!users.has(id)) throw new UsersFileError('unknown', `no user "${id}" in ${path}`);
    doc.setIn(['users', id, 'disabled'], disabled);
  });
}

/**
 * Read, edit the YAML document in place (comments and layout survive), check
 * the result, write it atomically. A file that is already invalid is not
 * touched: the operator fixes it by hand first.
 */
async function editUsersFile(path: string, createIfMissing: boolean, edit: (doc: Document, users: Map<string, UserRecord>) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !createIfMissing) throw err;
    text = NEW_FILE;
  }
  const before = parseUsersFile(text, path);
  if (before.issues.length > 0) {
    throw new UsersFileError('invalid', `${path} has errors; fix them first (gatehouse check)`, before.issues);
  }
  const doc = parseDocument(text);
  edit(doc, before.users);
  const next = doc.toString({ flowCollectionPadding: false });
  const after = parseUsersFile(next, path);
  if (after.issues.length > 0) throw new UsersFileError('invalid', 'the change would make the users file invalid', after.issues);
  await writeFileAtomic(path, next);
}

/**
 * Temp file in the same directory (so rename is atomic), fsync, rename, fsync
 * the directory. Keeps the old file's owner and group; never world-readable.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const previous = await stat(path).catch(() => undefined);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    if (previous !== undefined) {
      await fh.chown(previous.uid, previous.gid).catch(() => {}); // only root may; same owner otherwise
      await fh.chmod((previous.mode & 0o660) | 0o600);
    } else await fh.chmod(0o600);
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await dh.close();
  }
}
