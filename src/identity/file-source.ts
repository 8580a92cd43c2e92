// The `file` identity source: users from config/users.yaml, reloaded when the
// file changes. A broken file never replaces a good one: the previous users
// stay in force and the problems are reported.

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { verifyAgainstDummy, verifyPassword } from './password-hash.ts';
import type { AuthResult, IdentitySource, UserRecord } from './types.ts';
import { parseUsersFile, UsersFileError, type ConfigIssue } from './users-file.ts';

export interface FileIdentitySourceOptions {
  onReload?(users: number): void;
  onError?(issues: ConfigIssue[]): void;
  /** Editors and `gatehouse user` touch the file several times per save. */
  debounceMs?: number;
}

export type FileIdentitySource = IdentitySource & { reload(): Promise<void>; close(): void };

/** Longer passwords are refused before hashing (bounded work per attempt). */
const MAX_PASSWORD_LENGTH = 1024;
const INVALID: AuthResult = Object.freeze({ ok: false, reason: 'invalid' });

export async function createFileIdentitySource(path: string, opts: FileIdentitySourceOptions = {}): Promise<FileIdentitySource> {
  const file = resolve(path);
  let users = await load(file).then((r) => {
    if ('issues' in r) throw new UsersFileError('invalid', `${path} is invalid: ${r.issues.map(formatIssue).join('; ')}`, r.issues);
    return r.users;
  });

  // One reload at a time, in order, so an older read never wins over a newer one.
  let reloading: Promise<void> = Promise.resolve();
  function reload(): Promise<void> {
    reloading = reloading.then(async () => {
      let r: Awaited<ReturnType<typeof load>>;
      try {
        r = await load(file);
      } catch (err) {
        r = { issues: [{ path: file, message: `reload failed: ${(err as Error).message}` }] };
      }
      if ('issues' in r) opts.onError?.(r.issues);
      else {
        users = r.users;
        opts.onReload?.(users.size);
      }
    });
    return reloading;
  }

  // Watch the directory, not the file: an atomic save replaces the file (new
  // inode), which a watch on the file itself would stop seeing.
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(file), { persistent: false }, (_event, name) => {
    if (name !== null && name !== basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 50);
    timer.unref();
  });
  watcher.on('error', (err) => opts.onError?.([{ path: file, message: `watching for changes failed: ${err.message}` }]));

  return {
    async authenticate(username, password) {
      const id = typeof username === 'string' ? username.trim().toLowerCase() : '';
      const usable = typeof password === 'string' && password.length <= MAX_PASSWORD_LENGTH;
      const user = users.get(id);
      // Always exactly one argon2 verification, whatever the outcome.
      const matched = user !== undefined && usable ? await verifyPassword(user.password_hash, password) : await verifyAgainstDummy(usable ? password : '');
      // Look again: a reload during the verification may have disabled the
      // user or changed the password.
      const current = users.get(id);
      if (!matched || user === undefined || current === undefined || current.disabled || current.password_hash !== user.password_hash) return INVALID;
      return { ok: true, user: current };
    },
    getUser(id) {
      return users.get(id);
    },
    listUsers() {
      return [...users.values()];
    },
    reload,
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

async function load(file: string): Promise<{ users: Map<string, UserRecord> } | { issues: ConfigIssue[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { issues: [{ path: file, message: `cannot read users file: ${(err as Error).message}` }] };
  }
  const { users, issues } = parseUsersFile(text, file);
  if (issues.length > 0) return { issues };
  // Records are shared with every caller: freeze them so none can edit another's view.
  for (const user of users.values()) {
    Object.freeze(user.groups);
    Object.freeze(user);
  }
  return { users };
}

function formatIssue(i: ConfigIssue): string {
  return `${i.path}${i.line === undefined ? '' : ` (line ${i.line})`}: ${i.message}`;
}
