// What every `gatehouse` command shares (src/cli/operator.ts): one argument
// style, one help and error output, one exit-code scheme, and the config read
// through the gateway's own loader, never written to.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runAudit } from '../../src/cli/audit.ts';
import { runCheck } from '../../src/cli/check.ts';
import { runDemo } from '../../src/cli/demo.ts';
import { runExplain } from '../../src/cli/explain.ts';
import { runMfa } from '../../src/cli/mfa.ts';
import {
  CliError, configFailure, EXIT, loadOperatorConfig, parseOptions, requiredOptions, runCommand, usageError, CONFIG_OPTION,
} from '../../src/cli/operator.ts';
import { runReport } from '../../src/cli/report.ts';
import { runServe } from '../../src/cli/serve.ts';
import { runUser } from '../../src/cli/user.ts';
import { ConfigError } from '../../src/config/load.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('src/cli/main.ts');

function capture() {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (s: string) => ((out.stdout += s), true) },
    stderr: { write: (s: string) => ((out.stderr += s), true) },
  };
  return { io, out };
}

const COMMANDS: Array<[string, (args: string[], io: ReturnType<typeof capture>['io']) => Promise<number>, RegExp]> = [
  ['serve', runServe, /^usage: gatehouse serve \[--config FILE\]/],
  ['demo', runDemo, /^usage: gatehouse demo \[--config FILE\]/],
  ['check', runCheck, /^usage: gatehouse check \[--config FILE\]/],
  ['explain', runExplain, /^usage: gatehouse explain --user USER/],
  ['user', runUser, /^usage:\n  gatehouse user add USER/],
  ['mfa', runMfa, /^usage:\n  gatehouse mfa list \[USER\]/],
  ['audit', runAudit, /^usage: gatehouse audit verify/],
  ['report', runReport, /^usage: gatehouse report/],
];

t.test('every command: --help and -h print its usage on stdout, exit 0', async (t) => {
  for (const [name, run, usage] of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const { io, out } = capture();
      t.equal(await run([flag], io), EXIT.OK, `${name} ${flag}: exit 0`);
      t.match(out.stdout, usage, `${name} ${flag}: its usage`);
      t.ok(out.stdout.endsWith('\n'), `${name} ${flag}: ends with a newline`);
      t.equal(out.stderr, '', `${name} ${flag}: nothing on stderr`);
    }
  }
});

t.test('every command: an unknown option is a usage error (exit 2, the reason, then the usage, on stderr)', async (t) => {
  for (const [name, run, usage] of COMMANDS) {
    const { io, out } = capture();
    t.equal(await run(['--frobnicate'], io), EXIT.USAGE, `${name}: exit 2`);
    t.equal(out.stdout, '', `${name}: nothing on stdout`);
    const [reason, ...rest] = out.stderr.split('\n');
    t.match(reason, /--frobnicate/, `${name}: names the option`);
    t.match(rest.join('\n'), usage, `${name}: then its usage`);
  }
});

t.test('every command that reads the config: --config without a file, or empty, is a usage error', async (t) => {
  for (const [name, run] of COMMANDS) {
    for (const args of [['--config'], ['--config=']]) {
      const { io, out } = capture();
      t.equal(await run(args, io), EXIT.USAGE, `${name} ${args[0]}: exit 2`);
      t.match(out.stderr, /--config needs a (value|file)/, `${name} ${args[0]}: says so`);
    }
  }
});

t.test('parseOptions: node:util parseArgs, typed, --help always known, -c for --config', async (t) => {
  const p = parseOptions(['-c', 'x.yaml', '--json', 'a', 'b'], { ...CONFIG_OPTION, json: { type: 'boolean' } }, true);
  t.same(p.values, { config: 'x.yaml', json: true });
  t.same(p.positionals, ['a', 'b']);
  t.same(parseOptions(['-h'], {}).values, { help: true });
  const usage = (args: string[], positionals = false) => {
    try {
      parseOptions(args, { ...CONFIG_OPTION, name: { type: 'string' } }, positionals);
      return undefined;
    } catch (err) {
      return err instanceof CliError ? { code: err.code, message: err.message } : err;
    }
  };
  t.same(usage(['--bogus']), { code: EXIT.USAGE, message: 'unknown option --bogus' });
  t.same(usage(['--nmae']), { code: EXIT.USAGE, message: 'unknown option --nmae (did you mean --name?)' }, 'a typo gets a suggestion');
  t.same(usage(['extra']), { code: EXIT.USAGE, message: 'unexpected argument extra: this command takes only options' });
  t.same(usage(['--name']), { code: EXIT.USAGE, message: '--name needs a value' });
  t.same(usage(['-c']), { code: EXIT.USAGE, message: '--config needs a value' });
  t.same(usage(['--config=']), { code: EXIT.USAGE, message: '--config needs a file' });
  t.equal(usage(['extra'], true), undefined, 'positionals where the command takes them');
});

t.test('requiredOptions: a missing one names itself', async (t) => {
  t.same(requiredOptions({ a: 'x', b: 'y' } as { a?: string; b?: string }, ['a', 'b']), { a: 'x', b: 'y' });
  t.throws(() => requiredOptions({ a: 'x' } as { a?: string; b?: string }, ['a', 'b']), { code: EXIT.USAGE, message: '--b is required' });
});

t.test('runCommand: CliErrors become their exit code and one message; other errors are bugs and propagate', async (t) => {
  const info = { label: 'gatehouse x', usage: 'usage: gatehouse x' };
  const cases: Array<[CliError, number, string]> = [
    [new CliError(EXIT.FAILED, 'no user "zed"'), 1, 'gatehouse x: no user "zed"\n'],
    [usageError('--url is required'), 2, 'gatehouse x: --url is required\nusage: gatehouse x\n'],
    [new CliError(EXIT.INTERRUPTED, 'interrupted'), 130, 'gatehouse x: interrupted\n'],
  ];
  for (const [err, code, stderr] of cases) {
    const { io, out } = capture();
    t.equal(await runCommand(info, io, async () => { throw err; }), code, err.message);
    t.equal(out.stderr, stderr);
    t.equal(out.stdout, '');
  }
  const refused = capture();
  t.equal(await runCommand(info, refused.io, async () => { readFileSync(tmpdir()); return 0; }), EXIT.FAILED, 'a refused system call: exit 1');
  t.equal(refused.out.stderr, `gatehouse x: EISDIR: illegal operation on a directory, read\n`, 'its message, once');
  const { io } = capture();
  await t.rejects(runCommand(info, io, async () => { throw new TypeError('a bug'); }), TypeError);
});

t.test('configFailure: every issue listed; an unreadable file said plainly; other errors untouched', async (t) => {
  const invalid = configFailure('g.yaml', new ConfigError('g.yaml', [{ path: 'policy.rulez', line: 3, message: 'unknown key' }, { path: 'server.listn', line: 1, message: 'unknown key' }]));
  t.match(invalid, { code: EXIT.FAILED, message: 'invalid config:\ng.yaml:3 policy.rulez: unknown key\ng.yaml:1 server.listn: unknown key' });
  t.ok((invalid as CliError).cause instanceof ConfigError, 'the ConfigError is kept as the cause');
  const unreadable = configFailure('g.yaml', new ConfigError('g.yaml', [{ path: '', message: 'cannot read the config file: ENOENT' }]));
  t.match(unreadable, { code: EXIT.FAILED, message: 'cannot read config g.yaml: cannot read the config file: ENOENT' });
  const other = new Error('boom');
  t.equal(configFailure('g.yaml', other), other);
});

t.test('loadOperatorConfig: the real loader (${VAR} interpolated); never writes dev secrets; generates none when told', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-operator-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, `store: { kind: sqlite, path: ${join(dir, 'data', 'gatehouse.db')} }\naudit:\n  path: \${AUDIT_DIR}/audit.log\n`);
  process.env.AUDIT_DIR = join(dir, 'logs');
  t.teardown(() => { delete process.env.AUDIT_DIR; });
  const generated = loadOperatorConfig(file);
  t.equal(generated.audit.path, join(dir, 'logs', 'audit.log'), '${AUDIT_DIR} interpolated by the loader');
  t.ok(generated.session.secret.length >= 32, 'a development secret in memory');
  const none = loadOperatorConfig(file, { generateDevSecrets: false });
  t.equal(none.audit.key, '', 'generateDevSecrets: false: no audit key invented');
  t.equal(none.session.secret, '');
  t.notOk(existsSync(join(dir, 'data')), 'nothing written: no data/dev-secrets.json');
  t.same(readdirSync(dir), ['g.yaml']);
  delete process.env.AUDIT_DIR;
  t.throws(() => loadOperatorConfig(file), { code: EXIT.FAILED, message: /invalid config:\n.*audit\.path: environment variable AUDIT_DIR is not set/s });
});

t.test('gatehouse user: the users file path comes through the loader (interpolated), and a broken file-source config is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-operator-user-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'people.yaml'), 'users:\n');
  writeFileSync(join(dir, 'g.yaml'), 'identity:\n  source: file\n  file: { path: "${PEOPLE_DIR}/people.yaml" }\n');
  const run = (args: string[], env: Record<string, string> = {}) => {
    const { PEOPLE_DIR: _unset, ...inherited } = process.env;
    const r = spawnSync(NODE, [CLI, 'user', ...args], { cwd: dir, encoding: 'utf8', env: { ...inherited, ...env }, timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const listed = run(['list', '--config', 'g.yaml'], { PEOPLE_DIR: dir });
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^ID\s+NAME/);
  const unset = run(['list', '--config', 'g.yaml']);
  t.equal(unset.code, 1);
  t.match(unset.stderr, /gatehouse user: invalid config:\n.*identity\.file\.path: environment variable PEOPLE_DIR is not set/s, 'the loader\'s error, not a guessed path');
  writeFileSync(join(dir, 'bad.yaml'), 'identity:\n  source: file\n  file: { path: people.yaml }\npolicy:\n  rulez: []\n');
  const bad = run(['list', '--config', 'bad.yaml']);
  t.equal(bad.code, 1, 'a file-source config with faults: exit 1');
  t.match(bad.stderr, /invalid config:\n.*bad\.yaml:5 policy\.rulez: unknown key/s);
  // Only what the command could write is checked: under `npm test` the runner's
  // module cache may appear in the working directory too.
  const left = readdirSync(dir);
  t.notOk(left.includes('dev-secrets.json') || left.includes('data'), `no dev-secrets.json, no data/ (found ${left.join(', ')})`);
  t.notOk(readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('dev-secrets.json')), 'no dev-secrets.json anywhere below');
});

t.test('gatehouse main: help lists every command; help COMMAND is COMMAND --help; an unknown command exits 2', async (t) => {
  const run = (args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  const help = run(['--help']);
  t.equal(help.status, 0);
  for (const [name] of COMMANDS) t.match(help.stdout, new RegExp(`^  ${name} `, 'm'), `lists ${name}`);
  // The commands whose only option is --config (their own usage: `gatehouse NAME [--config FILE]`) say so.
  for (const name of ['serve', 'demo', 'check']) {
    t.match(run([name, '--help']).stdout, new RegExp(`^usage: gatehouse ${name} \\[--config FILE\\] `), `${name} --help: only --config`);
    t.match(help.stdout, new RegExp(`^  ${name} +\\[--config FILE\\] +\\S`, 'm'), `gatehouse --help: ${name} [--config FILE]`);
  }
  const none = run([]);
  t.equal(none.status, 2, 'no command: usage, exit 2');
  t.equal(none.stdout, help.stdout);
  const viaHelp = run(['help', 'report']);
  const viaFlag = run(['report', '--help']);
  t.equal(viaHelp.status, 0);
  t.equal(viaHelp.stdout, viaFlag.stdout, 'help report = report --help');
  const unknown = run(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^gatehouse: unknown command 'frobnicate'\n\nusage: gatehouse <command>/);
});

// The package's bin is bin/gatehouse.js, plain JavaScript so an old Node can
// read it and say why it stops (it cannot parse the TypeScript behind it).
t.test('bin/gatehouse.js: Node 24 runs the command; an old Node gets one line, not a stack trace', async (t) => {
  const bin = resolve('bin/gatehouse.js');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
  t.equal(resolve(pkg.bin.gatehouse), bin, 'package.json names the shim as the gatehouse binary');
  const ok = spawnSync(resolve('node_modules/.bin/node'), [bin, 'chek'], { encoding: 'utf8' });
  t.equal(ok.status, 2);
  t.match(ok.stderr, /^gatehouse: unknown command 'chek' \(did you mean 'check'\?\)\n\nusage:/, 'an unknown command gets a suggestion');
  const help = spawnSync(resolve('node_modules/.bin/node'), [bin, '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /^usage: gatehouse <command>/);

  const oldNode = '/usr/bin/node';
  const version = existsSync(oldNode) ? spawnSync(oldNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim() : '';
  if (!version || Number(version.split('.')[0]) >= 24) {
    if (process.env.CI === 'true') t.fail(`no Node older than 24 at ${oldNode} (found ${version || 'none'})`);
    else t.test(`no Node older than 24 at ${oldNode} (found ${version || 'none'})`, { skip: 'install an old Node at /usr/bin/node to run this part' }, () => {});
    return;
  }
  const old = spawnSync(oldNode, [bin, 'check'], { encoding: 'utf8' });
  t.equal(old.status, 1, `Node ${version}: exit 1`);
  t.equal(old.stdout, '');
  t.match(old.stderr, new RegExp(`^gatehouse needs Node\\.js 24 or newer \\(this is v${version.replaceAll('.', '\\.')}\\); run it with npx gatehouse`));
  t.equal(old.stderr.split('\n').filter(Boolean).length, 1, 'one line');
  t.notMatch(old.stderr, /\n\s+at |ERR_|Error/, 'no stack trace');
});
