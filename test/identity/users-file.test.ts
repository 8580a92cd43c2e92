import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, verifyPassword } from '../../src/identity/password-hash.ts';
import {
  addUser,
  parseUsersFile,
  setDisabled,
  setPassword,
  UsersFileError,
  validateUsersFile,
  writeFileAtomic,
} from '../../src/identity/users-file.ts';

// A cheap valid hash for fixtures (the parser only checks the form).
const H = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHlzYWx0c2FsdA$uOtuab9Ru/GH/b9A5uCdmlWrjtGnI0CgDcrJ58vl0q8';

const tempDir = () => mkdtempSync(join(tmpdir(), 'gh-users-'));

t.test('the bundled demo users file is valid and its documented passwords work', async (t) => {
  const text = readFileSync('config/users.yaml', 'utf8');
  t.match(text, /demo credentials/i, 'says it holds demo credentials');
  const { users, issues } = parseUsersFile(text, 'config/users.yaml');
  t.same(issues, []);
  t.same([...users.keys()], ['alice', 'bob', 'carol']);
  t.same(users.get('alice'), {
    id: 'alice', display_name: 'Alice Example', email: 'alice@example.com', password_hash: users.get('alice')!.password_hash,
    groups: ['admins', 'finance'], disabled: false,
  });
  t.same(users.get('bob')!.groups, ['staff']);
  t.same(users.get('carol')!.groups, ['contractors']);
  for (const id of ['alice', 'bob', 'carol']) {
    t.match(users.get(id)!.password_hash, /^\$argon2id\$v=19\$/, `${id} has an argon2id hash`);
    t.equal(await verifyPassword(users.get(id)!.password_hash, `${id}-demo-pass`), true, `${id}-demo-pass verifies`);
  }
  t.same(await validateUsersFile('config/users.yaml'), []);
});

t.test('defaults for optional fields', async (t) => {
  const { users, issues } = parseUsersFile(`users:\n  dave:\n    password: ${H}\n`, 'u.yaml');
  t.same(issues, []);
  t.same(users.get('dave'), { id: 'dave', display_name: 'dave', email: '', password_hash: H, groups: [], disabled: false });
  t.same(parseUsersFile('users:\n', 'u.yaml'), { users: new Map(), issues: [] }, 'an empty users map is fine');
  t.same(parseUsersFile('users: {}\n', 'u.yaml').issues, []);
});

t.test('every problem is reported with its key path and line', async (t) => {
  const cases: { name: string; yaml: string; path: string; line?: number; message: RegExp }[] = [
    { name: 'unknown top-level key', yaml: `users: {}\nuser: {}\n`, path: 'u.yaml: user', line: 2, message: /unknown key "user"/ },
    { name: 'unknown user key (typo)', yaml: `users:\n  alice:\n    password: ${H}\n    disabeld: true\n`, path: 'u.yaml: users.alice.disabeld', line: 4, message: /unknown key "disabeld"/ },
    { name: 'upper-case username', yaml: `users:\n  Alice:\n    password: ${H}\n`, path: 'u.yaml: users.Alice', line: 2, message: /must match/ },
    { name: 'username with a space', yaml: `users:\n  "al ice":\n    password: ${H}\n`, path: 'u.yaml: users.al ice', line: 2, message: /must match/ },
    { name: 'numeric username (YAML would read 007 as 7)', yaml: `users:\n  007:\n    password: ${H}\n`, path: 'u.yaml: users.7', line: 2, message: /quote it/ },
    { name: 'username too long', yaml: `users:\n  ${'a'.repeat(65)}:\n    password: ${H}\n`, path: `u.yaml: users.${'a'.repeat(65)}`, line: 2, message: /must match/ },
    { name: 'bad email', yaml: `users:\n  alice:\n    email: alice.example.com\n    password: ${H}\n`, path: 'u.yaml: users.alice.email', line: 3, message: /not a valid email/ },
    { name: 'email with a newline', yaml: `users:\n  alice:\n    email: "a@example.com\\nBcc: x@evil.test"\n    password: ${H}\n`, path: 'u.yaml: users.alice.email', line: 3, message: /not a valid email/ },
    { name: 'plaintext password', yaml: `users:\n  alice:\n    password: hunter22\n`, path: 'u.yaml: users.alice.password', line: 3, message: /argon2 PHC hash/ },
    { name: 'bcrypt password', yaml: `users:\n  alice:\n    password: $2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\n`, path: 'u.yaml: users.alice.password', line: 3, message: /argon2 PHC hash/ },
    { name: 'hash past the limits', yaml: `users:\n  alice:\n    password: ${H.replace('m=256', 'm=4194304')}\n`, path: 'u.yaml: users.alice.password', line: 3, message: /within the accepted limits/ },
    { name: 'missing password', yaml: `users:\n  alice:\n    email: a@example.com\n`, path: 'u.yaml: users.alice.password', line: 2, message: /missing/ },
    { name: 'groups not a list', yaml: `users:\n  alice:\n    password: ${H}\n    groups: admins\n`, path: 'u.yaml: users.alice.groups', line: 4, message: /list/ },
    { name: 'group with a comma', yaml: `users:\n  alice:\n    password: ${H}\n    groups: [ok, "a,b"]\n`, path: 'u.yaml: users.alice.groups[1]', line: 4, message: /group name/ },
    { name: 'disabled not a boolean', yaml: `users:\n  alice:\n    password: ${H}\n    disabled: "yes"\n`, path: 'u.yaml: users.alice.disabled', line: 4, message: /true or false/ },
    { name: 'display name with CR/LF', yaml: `users:\n  alice:\n    display_name: "A\\r\\nX-Gatehouse-User: root"\n    password: ${H}\n`, path: 'u.yaml: users.alice.display_name', line: 3, message: /control characters/ },
    { name: 'user is not a map', yaml: `users:\n  alice: yes\n`, path: 'u.yaml: users.alice', line: 2, message: /must be a map/ },
    { name: 'users is a list', yaml: `users:\n  - alice\n`, path: 'u.yaml: users', line: 2, message: /map of username/ },
    { name: 'no users key', yaml: `# nothing\nother: 1\n`, path: 'u.yaml: users', line: 2, message: /missing/ },
    { name: 'empty file', yaml: ``, path: 'u.yaml: (root)', message: /expected a map/ },
    { name: 'duplicate user', yaml: `users:\n  alice:\n    password: ${H}\n  alice:\n    password: ${H}\n`, path: 'u.yaml: (syntax)', line: 4, message: /unique/ },
    { name: 'YAML syntax error', yaml: `users:\n  alice: [unclosed\n`, path: 'u.yaml: (syntax)', message: /./ },
  ];
  for (const c of cases) {
    const { users, issues } = parseUsersFile(c.yaml, 'u.yaml');
    const found = issues.find((i) => i.path === c.path);
    t.ok(found, `${c.name}: reported at ${c.path}`, { issues });
    if (found) {
      t.match(found.message, c.message, `${c.name}: message`);
      if (c.line !== undefined) t.equal(found.line, c.line, `${c.name}: line`);
    }
    t.notOk(users.has('alice') && issues.some((i) => i.path.includes('users.alice')), `${c.name}: an invalid user is not loaded`);
  }
});

t.test('validateUsersFile reads the file', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'users.yaml');
  writeFileSync(file, `users:\n  alice:\n    password: nope\n`);
  const issues = await validateUsersFile(file);
  t.equal(issues.length, 1);
  t.equal(issues[0].line, 3);
  t.equal(issues[0].path, `${file}: users.alice.password`);
  const missing = await validateUsersFile(join(dir, 'absent.yaml'));
  t.same(missing, [{ path: join(dir, 'absent.yaml'), message: `cannot read the users file ${join(dir, 'absent.yaml')}: ENOENT: no such file or directory` }]);
});

const COMMENTED = `# Users of the portal. Keep this list short.
users:
  # the finance lead
  alice:
    display_name: Alice Example   # full name as shown on pages
    email: alice@example.com
    password: ${H}
    groups: [admins, finance]
    disabled: false

  # contractor, until March
  carol:
    display_name: Carol
    password: ${H}
    groups: [contractors]
# end of file
`;

t.test('edits keep comments and change only what they should', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'users.yaml');
  writeFileSync(file, COMMENTED);
  const bobHash = await hashPassword('bob password', { memory: 256, passes: 1 });
  await addUser(file, { id: 'bob', display_name: 'Bob Builder', email: 'bob@example.com', password_hash: bobHash, groups: ['staff', 'ops'] });
  const newHash = await hashPassword('new alice password', { memory: 256, passes: 1 });
  await setPassword(file, 'alice', newHash);
  await setDisabled(file, 'carol', true);

  const text = readFileSync(file, 'utf8');
  for (const comment of ['# Users of the portal. Keep this list short.', '# the finance lead', '# full name as shown on pages', '# contractor, until March', '# end of file']) {
    t.ok(text.includes(comment), `kept "${comment}"`);
  }
  t.match(text, /groups: \[admins, finance\]/, 'flow lists keep their style');
  t.match(text, /groups: \[staff, ops\]/, 'a new user gets the documented flow style');
  const { users, issues } = parseUsersFile(text, file);
  t.same(issues, [], 'the result is valid');
  t.equal(users.get('alice')!.password_hash, newHash, 'password replaced');
  t.equal(users.get('alice')!.email, 'alice@example.com', 'other fields untouched');
  t.equal(users.get('carol')!.disabled, true, 'carol disabled (a key that was absent is added)');
  t.same(users.get('bob'), { id: 'bob', display_name: 'Bob Builder', email: 'bob@example.com', password_hash: bobHash, groups: ['staff', 'ops'], disabled: false });
  await setDisabled(file, 'carol', false);
  t.equal(parseUsersFile(readFileSync(file, 'utf8'), file).users.get('carol')!.disabled, false, 'and enabled again');
});

t.test('bad edits throw a clear error and leave the file alone', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'users.yaml');
  writeFileSync(file, COMMENTED);
  const expectCode = async (p: Promise<unknown>, code: string, name: string) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof UsersFileError && err.code === code, `${name}: UsersFileError ${code} (${(err as Error)?.message})`);
  };
  await expectCode(addUser(file, { id: 'alice', password_hash: H }), 'exists', 'adding an existing user');
  await expectCode(setPassword(file, 'zed', H), 'unknown', 'passwd of an unknown user');
  await expectCode(setDisabled(file, 'zed', true), 'unknown', 'disabling an unknown user');
  await expectCode(addUser(file, { id: 'dave', email: 'not-an-email', password_hash: H }), 'invalid', 'an invalid email');
  await expectCode(addUser(file, { id: 'Dave', password_hash: H }), 'invalid', 'an upper-case username');
  await expectCode(setPassword(file, 'alice', 'plaintext'), 'invalid', 'a non-PHC password');
  t.equal(readFileSync(file, 'utf8'), COMMENTED, 'the file is unchanged');

  const broken = `${COMMENTED}  dave:\n    password: plaintext\n`;
  writeFileSync(file, broken);
  await expectCode(setDisabled(file, 'alice', true), 'invalid', 'editing a file that is already invalid');
  t.equal(readFileSync(file, 'utf8'), broken, 'an invalid file is not touched');
  t.same(readdirSync(dir), ['users.yaml'], 'no temp files left behind');
});

t.test('addUser creates a missing file, private to its owner', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'users.yaml');
  await addUser(file, { id: 'alice', password_hash: H, groups: [] });
  t.equal(statSync(file).mode & 0o777, 0o600, 'mode 0600');
  const { users, issues } = parseUsersFile(readFileSync(file, 'utf8'), file);
  t.same(issues, []);
  t.ok(users.has('alice'));
  writeFileSync(join(dir, 'empty.yaml'), '# only a comment\nusers:\n');
  await addUser(join(dir, 'empty.yaml'), { id: 'bob', password_hash: H });
  const text = readFileSync(join(dir, 'empty.yaml'), 'utf8');
  t.match(text, /^# only a comment\nusers:\n  bob:\n/, 'a `users:` with nobody gets a block map');
});

t.test('writes are atomic: a reader never sees a partial file', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'users.yaml');
  writeFileSync(file, COMMENTED, { mode: 0o640 });
  const inodeBefore = statSync(file).ino;
  // A reader holding the old file open keeps reading the complete old content.
  const fd = openSync(file, 'r');
  let reads = 0;
  let bad = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const { issues } = parseUsersFile(readFileSync(file, 'utf8'), file);
      reads++;
      if (issues.length > 0) bad++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 0; i < 30; i++) await setDisabled(file, 'carol', i % 2 === 0);
  stop = true;
  await reader;
  t.ok(reads > 10, `the reader read ${reads} times during 30 edits`);
  t.equal(bad, 0, 'and every read was a complete, valid file');
  t.not(statSync(file).ino, inodeBefore, 'the file was replaced by rename, not rewritten in place');
  const buf = Buffer.alloc(COMMENTED.length);
  readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  t.equal(buf.toString('utf8'), COMMENTED, 'an open handle still sees the old complete file');
  t.equal(statSync(file).mode & 0o777, 0o640, 'the previous permissions (group-readable) are kept');
  t.same(readdirSync(dir), ['users.yaml'], 'no temp files left behind');
});

t.test('writeFileAtomic never widens permissions', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'f');
  writeFileSync(file, 'old', { mode: 0o644 });
  await writeFileAtomic(file, 'new');
  t.equal(readFileSync(file, 'utf8'), 'new');
  t.equal(statSync(file).mode & 0o777, 0o640, 'world-readable bit dropped');
  await t.rejects(writeFileAtomic(join(dir, 'no-such-dir', 'f'), 'x'), { code: 'ENOENT' }, 'a missing directory is an error');
});
