// `gatehouse user …` run as a child process (src/cli/main.ts), the way an operator runs it.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { verifyPassword } from '../../src/identity/password-hash.ts';
import { parseUsersFile } from '../../src/identity/users-file.ts';
import { passwordWeakness } from '../../src/cli/user.ts';

// The real entry point, as an operator types it: `gatehouse user …`.
const CLI = resolve('src/cli/main.ts');

function gatehouseUser(args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, 'user', ...args], { input: opts.input ?? '', cwd: opts.cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempUsersFile(text?: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gh-cli-')), 'users.yaml');
  if (text !== undefined) writeFileSync(file, text);
  return file;
}

const readUsers = (file: string) => parseUsersFile(readFileSync(file, 'utf8'), file);

t.test('add, passwd, disable, enable, list', async (t) => {
  const file = tempUsersFile('# our users\nusers:\n');
  let r = gatehouseUser(['add', 'alice', '--users', file, '--email', 'alice@example.com', '--name', 'Alice Example', '--groups', 'admins, finance', '--password-stdin'], { input: 'first alice pass\n' });
  t.equal(r.code, 0, `add exits 0 ${r.stderr}`);
  t.match(r.stdout, /added user alice/);
  let { users, issues } = readUsers(file);
  t.same(issues, []);
  t.same({ ...users.get('alice'), password_hash: '' }, { id: 'alice', display_name: 'Alice Example', email: 'alice@example.com', password_hash: '', groups: ['admins', 'finance'], disabled: false });
  t.equal(await verifyPassword(users.get('alice')!.password_hash, 'first alice pass'), true, 'the piped password (minus its newline) is the one stored');
  t.match(readFileSync(file, 'utf8'), /^# our users\n/, 'the comment survived');

  r = gatehouseUser(['add', 'bob', '--users', file, '--password-stdin'], { input: 'bob secret words' });
  t.equal(r.code, 0, 'add without optional fields');
  t.same(readUsers(file).users.get('bob')!.groups, []);

  r = gatehouseUser(['passwd', 'alice', '--users', file, '--password-stdin'], { input: 'second alice pass\r\n' });
  t.equal(r.code, 0, `passwd exits 0 ${r.stderr}`);
  ({ users } = readUsers(file));
  t.equal(await verifyPassword(users.get('alice')!.password_hash, 'second alice pass'), true, 'the new password works');
  t.equal(await verifyPassword(users.get('alice')!.password_hash, 'first alice pass'), false, 'the old one does not');

  r = gatehouseUser(['disable', 'bob', '--users', file]);
  t.equal(r.code, 0);
  t.equal(readUsers(file).users.get('bob')!.disabled, true, 'bob disabled');

  r = gatehouseUser(['list', '--users', file]);
  t.equal(r.code, 0);
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+NAME\s+EMAIL\s+GROUPS\s+DISABLED$/, 'a header row');
  t.match(lines[1], /^alice\s+Alice Example\s+alice@example\.com\s+admins,finance\s+no$/);
  t.match(lines[2], /^bob\s+bob\s+-\s+-\s+yes$/);
  t.notMatch(r.stdout, /argon2/, 'hashes are never printed');

  r = gatehouseUser(['enable', 'bob', '--users', file]);
  t.equal(r.code, 0);
  t.equal(readUsers(file).users.get('bob')!.disabled, false, 'bob enabled again');
});

t.test('user-fixable errors exit 1 and change nothing', async (t) => {
  const file = tempUsersFile();
  t.equal(gatehouseUser(['add', 'alice', '--users', file, '--password-stdin'], { input: 'alice long pass' }).code, 0);
  const before = readFileSync(file, 'utf8');
  const cases: [string, string[], string, RegExp][] = [
    ['existing user', ['add', 'alice', '--password-stdin'], 'another long pass', /already exists/],
    ['unknown user passwd', ['passwd', 'zed', '--password-stdin'], 'another long pass', /no user "zed"/],
    ['unknown user disable', ['disable', 'zed'], '', /no user "zed"/],
    ['short password', ['add', 'bob', '--password-stdin'], 'short', /at least 8/],
    ['common password', ['add', 'bob', '--password-stdin'], 'Password123\n', /most common/],
    ['password equal to the username', ['add', 'robert99', '--password-stdin'], 'robert99', /username/],
    ['repeated character', ['passwd', 'alice', '--password-stdin'], 'aaaaaaaaaaa', /repeated/],
    ['sequence', ['passwd', 'alice', '--password-stdin'], 'abcdefghij', /sequence/],
    ['empty stdin', ['add', 'bob', '--password-stdin'], '', /at least 8/],
    ['upper-case username', ['add', 'Bob', '--password-stdin'], 'bob long pass', /lower-case: bob/],
    ['bad username', ['add', 'bob smith', '--password-stdin'], 'bob long pass', /invalid username/],
    ['bad email', ['add', 'bob', '--email', 'bob-at-example', '--password-stdin'], 'bob long pass', /invalid email/],
    ['bad group', ['add', 'bob', '--groups', 'staff,no spaces', '--password-stdin'], 'bob long pass', /invalid group/],
  ];
  for (const [name, args, input, message] of cases) {
    const r = gatehouseUser([...args, '--users', file], { input });
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.stderr, message, `${name}: says why`);
  }
  t.equal(readFileSync(file, 'utf8'), before, 'the file is unchanged');

  writeFileSync(file, `${before}  dave:\n    password: plaintext\n`);
  const r = gatehouseUser(['disable', 'alice', '--users', file]);
  t.equal(r.code, 1, 'an invalid users file: exit 1');
  t.match(r.stderr, /users\.dave\.password \(line \d+\)/, 'with the problems listed');
});

t.test('usage errors exit 2', async (t) => {
  const file = tempUsersFile('users:\n');
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /missing command/],
    ['unknown command', ['frobnicate'], /unknown command/],
    ['missing USER', ['add', '--password-stdin'], /missing USER/],
    ['unknown option', ['list', '--colour'], /unknown option --colour/],
    ['extra argument', ['disable', 'alice', 'bob'], /unexpected argument/],
    ['add-only flag on passwd', ['passwd', 'alice', '--email', 'a@example.com'], /only for "add"/],
    ['no terminal and no --password-stdin', ['add', 'alice'], /--password-stdin/],
  ];
  for (const [name, args, message] of cases) {
    const r = gatehouseUser([...args, '--users', file]);
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(r.stderr, message, `${name}: says why`);
  }
  const help = gatehouseUser(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /gatehouse user add USER/);
});

t.test('the users file comes from the config unless --users is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-cli-cfg-'));
  writeFileSync(join(dir, 'gatehouse.yaml'), 'server: { listen: 127.0.0.1:8080 }\nidentity:\n  source: file\n  file: { path: people.yaml }\n');
  t.equal(gatehouseUser(['add', 'erin', '--config', 'gatehouse.yaml', '--password-stdin'], { input: 'erin long pass', cwd: dir }).code, 0);
  t.ok(readUsers(join(dir, 'people.yaml')).users.has('erin'), 'identity.file.path was used (relative to the working directory)');

  writeFileSync(join(dir, 'oidc.yaml'), 'identity:\n  source: oidc\n');
  let r = gatehouseUser(['list', '--config', 'oidc.yaml'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, /identity source "oidc"/);

  r = gatehouseUser(['list', '--config', 'missing.yaml'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot read missing\.yaml.*--users FILE/);

  r = gatehouseUser(['list']); // the repository's default config and demo users
  t.equal(r.code, 0, `default config/gatehouse.yaml works ${r.stderr}`);
  t.match(r.stdout, /^alice\s+Alice Example/m);
  t.match(r.stdout, /^carol\s+Carol Contractor/m);
});

t.test('on a terminal the password is asked twice and not echoed', async (t) => {
  if (spawnSync('script', ['--version']).error !== undefined) {
    const reason = '`script` (util-linux) is not installed: cannot give the CLI a terminal';
    if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: this test must run)`);
    process.stderr.write(`\n!! SKIPPING terminal prompt test: ${reason}\n`);
    return t.plan(0, reason);
  }
  const file = tempUsersFile();
  /** Runs the CLI on a pseudo-terminal, answering each prompt when it appears. */
  const onTerminal = (args: string[], answers: string[]) =>
    new Promise<{ code: number | null; output: string }>((done) => {
      const command = [process.execPath, CLI, 'user', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      let prompts = 0;
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const seen = (output.match(/password: /g) ?? []).length;
        while (prompts < seen && prompts < answers.length) child.stdin.write(`${answers[prompts++]}\r`);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        child.stdin.end();
        done({ code, output });
      });
    });

  let r = await onTerminal(['add', 'frank', '--users', file], ['frank long pass', 'frank long pass']);
  t.equal(r.code, 0, 'add on a terminal exits 0');
  t.match(r.output, /New password: [\s\S]*Repeat password: /, 'asked twice');
  t.notMatch(r.output, /frank long pass/, 'the password was not echoed');
  t.equal(await verifyPassword(readUsers(file).users.get('frank')!.password_hash, 'frank long pass'), true, 'and was stored');

  r = await onTerminal(['passwd', 'frank', '--users', file], ['frank new pass 1', 'frank new pass 2']);
  t.equal(r.code, 1, 'mismatched answers exit 1');
  t.match(r.output, /do not match/);
  t.equal(await verifyPassword(readUsers(file).users.get('frank')!.password_hash, 'frank long pass'), true, 'the password is unchanged');
});

t.test('passwordWeakness', async (t) => {
  const table: [string, string, RegExp | undefined][] = [
    ['correct horse battery', 'alice', undefined],
    ['alice-demo-pass', 'alice', undefined],
    ['Zx9!kq2#', 'alice', undefined],
    ['1234567', 'alice', /at least 8/],
    ['ünïcödé', 'alice', /at least 8/], // 7 characters, more bytes
    ['ünïcödé!', 'alice', undefined],
    ['PASSWORD1', 'alice', /most common/],
    ['qwerty123', 'alice', /most common/],
    ['gatehouse', 'alice', /most common/],
    ['AliceAlice', 'alicealice', /username/],
    ['zzzzzzzzz', 'alice', /repeated/],
    ['98765432', 'alice', /sequence/],
    ['x'.repeat(1025), 'alice', /at most/],
  ];
  for (const [password, user, expected] of table) {
    const got = passwordWeakness(password, user);
    if (expected === undefined) t.equal(got, undefined, `${password.slice(0, 20)} is accepted`);
    else t.match(got, expected, `${password.slice(0, 20)} is refused`);
  }
});
