import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileIdentitySource } from '../../src/identity/file-source.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { setDisabled, setPassword, UsersFileError, type ConfigIssue } from '../../src/identity/users-file.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

// Real default-cost hashes, so the timing comparison is the production one.
const aliceHash = await hashPassword('alice password');
const bobHash = await hashPassword('bob password');
const carolHash = await hashPassword('carol password');

function usersYaml(opts: { bobDisabled?: boolean; carolDisabled?: boolean } = {}): string {
  return `# test users
users:
  alice:
    display_name: Alice Example
    email: alice@example.com
    password: ${aliceHash}
    groups: [admins, finance]
  bob:
    display_name: Bob Builder
    password: ${bobHash}
    groups: [staff]
    disabled: ${opts.bobDisabled ?? false}
  carol:
    display_name: Carol Contractor
    password: ${carolHash}
    groups: [contractors]
    disabled: ${opts.carolDisabled ?? true}
`;
}

function fixture(text = usersYaml()): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-source-'));
  const file = join(dir, 'users.yaml');
  writeFileSync(file, text);
  return file;
}

t.test('authenticate: one answer for every kind of failure', async (t) => {
  const source = await createFileIdentitySource(fixture());
  t.teardown(() => source.close());

  const ok = await source.authenticate('alice', 'alice password');
  t.equal(ok.ok, true, 'the right password signs in');
  if (ok.ok) t.same(ok.user, { id: 'alice', display_name: 'Alice Example', email: 'alice@example.com', password_hash: aliceHash, groups: ['admins', 'finance'], disabled: false });
  t.equal((await source.authenticate('  Alice ', 'alice password')).ok, true, 'usernames are case-insensitive and trimmed');

  const invalid = { ok: false, reason: 'invalid' };
  t.same(await source.authenticate('alice', 'wrong password'), invalid, 'wrong password');
  t.same(await source.authenticate('mallory', 'alice password'), invalid, 'unknown user');
  t.same(await source.authenticate('carol', 'carol password'), invalid, 'disabled user with the right password');
  t.same(await source.authenticate('alice', ''), invalid, 'empty password');
  t.same(await source.authenticate('alice', 'x'.repeat(5000)), invalid, 'an overlong password');
  t.same(await source.authenticate('', ''), invalid, 'empty username');
  t.same(await source.authenticate(undefined as unknown as string, 'alice password'), invalid, 'a non-string username');
});

t.test('unknown users cost as much time as known ones', async (t) => {
  const source = await createFileIdentitySource(fixture());
  t.teardown(() => source.close());
  const known: number[] = [];
  const unknown: number[] = [];
  const disabled: number[] = [];
  // CPU time of this process (argon2's pool threads included), not wall time: what the
  // work costs, which other load on the machine cannot skew.
  const time = async (into: number[], user: string) => {
    const s = process.cpuUsage();
    await source.authenticate(user, 'not the password');
    const d = process.cpuUsage(s);
    into.push((d.user + d.system) / 1000);
  };
  // Interleaved so a burst of machine load affects all three alike.
  for (let i = 0; i < 7; i++) {
    await time(known, 'alice');
    await time(unknown, 'nobody-here');
    await time(disabled, 'carol');
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [k, u, d] = [median(known), median(unknown), median(disabled)];
  t.ok(u / k > 0.5 && u / k < 2, `unknown ${u.toFixed(1)} ms vs known ${k.toFixed(1)} ms`);
  t.ok(d / k > 0.5 && d / k < 2, `disabled ${d.toFixed(1)} ms vs known ${k.toFixed(1)} ms`);
});

t.test('getUser and listUsers', async (t) => {
  const source = await createFileIdentitySource(fixture());
  t.teardown(() => source.close());
  t.equal(source.getUser('bob')?.display_name, 'Bob Builder');
  t.equal(source.getUser('nobody'), undefined);
  t.same(source.listUsers().map((u) => u.id), ['alice', 'bob', 'carol']);
  const bob = source.getUser('bob')!;
  t.throws(() => { (bob as { disabled: boolean }).disabled = true; }, 'records are frozen: a caller cannot change them for everyone');
  t.throws(() => { bob.groups.push('admins'); }, 'nor their groups');
});

t.test('a change to the file is picked up by itself', async (t) => {
  const file = fixture();
  const reloads: number[] = [];
  const source = await createFileIdentitySource(file, { onReload: (n) => reloads.push(n) });
  t.teardown(() => source.close());
  t.equal(source.getUser('bob')!.disabled, false);

  await setDisabled(file, 'bob', true); // atomic rename, as `gatehouse user disable` does
  t.ok(await eventually(() => source.getUser('bob')!.disabled), 'bob is seen as disabled after the file changed');
  t.ok(reloads.length >= 1 && reloads.at(-1) === 3, 'onReload reported 3 users');
  t.same(await source.authenticate('bob', 'bob password'), { ok: false, reason: 'invalid' }, 'and can no longer sign in');

  writeFileSync(file, usersYaml({ bobDisabled: false, carolDisabled: false })); // an editor saving in place
  t.ok(await eventually(() => source.getUser('carol')!.disabled === false && !source.getUser('bob')!.disabled), 'an in-place write is picked up too');
  t.equal((await source.authenticate('carol', 'carol password')).ok, true, 'carol, enabled, can sign in');
});

t.test('after reload() the very next lookup sees the change', async (t) => {
  const file = fixture();
  const source = await createFileIdentitySource(file, { debounceMs: 10_000 }); // keep the watcher out of it
  t.teardown(() => source.close());
  writeFileSync(file, usersYaml({ bobDisabled: true }));
  await source.reload();
  t.equal(source.getUser('bob')!.disabled, true);
});

t.test('a broken file keeps the previous users and reports why', async (t) => {
  const file = fixture();
  const errors: ConfigIssue[][] = [];
  const source = await createFileIdentitySource(file, { onError: (issues) => errors.push(issues) });
  t.teardown(() => source.close());

  writeFileSync(file, readFileSync(file, 'utf8').replace('disabled: false', 'disabled: nope'));
  t.ok(await eventually(() => errors.length > 0), 'onError called');
  t.match(errors[0], [{ path: /users\.bob\.disabled/, line: 12, message: /true or false/ }], 'with the key path and line');
  t.equal(source.getUser('bob')!.disabled, false, 'the previous users stay in force');
  t.equal((await source.authenticate('alice', 'alice password')).ok, true, 'sign-in still works');

  writeFileSync(file, 'users: [');
  t.ok(await eventually(() => errors.length > 1), 'a syntax error is reported too');
  t.equal(source.listUsers().length, 3);

  writeFileSync(file, usersYaml({ bobDisabled: true }));
  t.ok(await eventually(() => source.getUser('bob')!.disabled), 'a fixed file loads again');
});

t.test('a broken file at start is an error, not an empty directory', async (t) => {
  const file = fixture(`users:\n  alice:\n    password: plaintext\n`);
  const err = await createFileIdentitySource(file).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof UsersFileError, 'rejects with UsersFileError');
  t.match((err as UsersFileError).issues, [{ path: /users\.alice\.password/, line: 3 }]);
  t.match((err as Error).message, /line 3/);
  await t.rejects(createFileIdentitySource(join(tmpdir(), 'gh-no-such-dir', 'users.yaml')), 'a missing file rejects');
});

t.test('a user disabled or re-keyed during the password check is refused', async (t) => {
  // A costly hash for alice, so the file changes while her check is running.
  const slow = await hashPassword('alice password', { memory: 65536, passes: 2 });
  const file = fixture(usersYaml().replace(aliceHash, slow));
  const source = await createFileIdentitySource(file, { debounceMs: 10_000 });
  t.teardown(() => source.close());

  // Edit the file first (the watcher is kept out by debounceMs), then start
  // the check: authenticate() reads alice's record as it starts, and only the
  // reload's read+parse has to beat the costly hash.
  await setDisabled(file, 'alice', true);
  let pending = source.authenticate('alice', 'alice password');
  await source.reload();
  t.same(await pending, { ok: false, reason: 'invalid' }, 'disabled mid-check: refused');

  await setDisabled(file, 'alice', false);
  await source.reload();
  const newHash = await hashPassword('a new password', { memory: 1024, passes: 1 });
  await setPassword(file, 'alice', newHash);
  pending = source.authenticate('alice', 'alice password');
  await source.reload();
  t.same(await pending, { ok: false, reason: 'invalid' }, 'password changed mid-check: the old one is refused');
  t.equal((await source.authenticate('alice', 'a new password')).ok, true, 'the new one works');
});
