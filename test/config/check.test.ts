import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runCheck, summary } from '../../src/cli/check.ts';
import { parseConfig } from '../../src/config/load.ts';

const run = promisify(execFile);

function capture() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true) },
      stderr: { write: (s: string) => ((err += s), true) },
      now: () => new Date('2026-11-15T12:00:00Z'),
    },
    get out() { return out; },
    get err() { return err; },
  };
}

t.test('valid config: exit 0, ok line, summary and exceptions', async (t) => {
  const c = capture();
  const code = await runCheck(['--config', 'test/fixtures/config/valid.yaml'], c.io);
  t.equal(code, 0, c.err);
  t.equal(c.err, '');
  t.match(c.out, /^ok: test\/fixtures\/config\/valid\.yaml\n/);
  t.match(c.out, /warning: session\.secret not set/);
  t.match(c.out, /routes: 1\n  \*\/ -> http:\/\/127\.0\.0\.1:8081\n/);
  t.match(c.out, /rules: 1; default: mfa/);
  t.match(c.out, /identity: file \(test\/fixtures\/config\/users\.yaml\)/);
  t.match(c.out, /policy exceptions: 1\n  group finance  rule billing  owner ops@example\.com  expires 2099-01-01  \(migration week\)\n/);
});

t.test('the bundled config and users file pass with the default --config', async (t) => {
  const c = capture();
  t.equal(await runCheck([], c.io), 0, c.err);
  t.match(c.out, /^ok: config\/gatehouse\.yaml\n/);
  t.match(c.out, /rules: 5 \(1 report-only\); default: mfa/);
});

t.test('invalid config: exit 1, every issue with file:line and key path on stderr', async (t) => {
  const c = capture();
  const code = await runCheck(['--config=test/fixtures/config/typo.yaml'], c.io);
  t.equal(code, 1);
  t.equal(c.out, '');
  t.match(c.err, /^test\/fixtures\/config\/typo\.yaml:2 server\.listn: unknown key \(did you mean "listen"\?\)/m);
  t.match(c.err, /^test\/fixtures\/config\/typo\.yaml:5 routes\[0\]\.upstream: "ftp:\/\/127\.0\.0\.1:8081" must be an http\(s\) URL$/m);
  t.match(c.err, /typo\.yaml: 2 errors\n$/);

  const missing = capture();
  t.equal(await runCheck(['--config', 'test/fixtures/config/nope.yaml'], missing.io), 1);
  t.match(missing.err, /nope\.yaml: cannot read the config file: ENOENT/);
});

t.test('the users file is validated when identity.source is file', async (t) => {
  const c = capture();
  const code = await runCheck(['--config', 'test/fixtures/config/bad-users-config.yaml'], c.io);
  t.equal(code, 1);
  t.match(c.err, /^test\/fixtures\/config\/bad-users\.yaml:3 users\.alice\.password: must be an argon2 PHC hash/m);
  t.notMatch(c.err, /bad-users\.yaml: test\/fixtures/, 'the file name is printed once');
});

t.test('usage errors: exit 2', async (t) => {
  for (const args of [['--verbose'], ['--config'], ['extra'], ['--config=']]) {
    const c = capture();
    t.equal(await runCheck(args, c.io), 2, args.join(' '));
    t.match(c.err, /usage: gatehouse check \[--config FILE\]/);
  }
  const help = capture();
  t.equal(await runCheck(['--help'], help.io), 0);
  t.match(help.out, /usage: gatehouse check/);
});

t.test('exceptions expiring within 14 days are flagged in the summary', async (t) => {
  const config = parseConfig(
    'policy:\n  rules: [{ id: export, require: mfa }]\n  exceptions:\n    - { user: bob, rule: export, reason: travel, owner: it, expires: 2026-11-20 }\n',
    'x.yaml',
    { env: { GATEHOUSE_SESSION_SECRET: 's'.repeat(32), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(32), GATEHOUSE_AUDIT_KEY: 'a'.repeat(32) }, now: () => new Date('2026-11-15T12:00:00Z') },
  );
  t.match(summary(config, new Date('2026-11-15T12:00:00Z')), /user bob  rule export  owner it  expires 2026-11-20  warning: expires in 6 days  \(travel\)/);
  t.same(config.warnings, ['policy.exceptions[0] (user bob, rule export) expires on 2026-11-20, within 14 days']);
});

t.test('as a child process: exit codes and streams', async (t) => {
  const node = 'node_modules/.bin/node';
  const script = "import { runCheck } from './src/cli/check.ts'; process.exitCode = await runCheck(process.argv.slice(1));";
  const ok = await run(node, ['--input-type=module', '-e', script, '--', '--config', 'test/fixtures/config/valid.yaml']);
  t.match(ok.stdout, /^ok: test\/fixtures\/config\/valid\.yaml/);
  for (const [args, code, stderr] of [
    [['--config', 'test/fixtures/config/typo.yaml'], 1, /typo\.yaml:2 server\.listn: unknown key/],
    [['--bogus'], 2, /unknown option --bogus\nusage:/],
    [['--confg', 'x.yaml'], 2, /unknown option --confg \(did you mean --config\?\)\nusage:/],
    [['stray'], 2, /unexpected argument stray: this command takes only options\nusage:/],
  ] as const) {
    const err = await run(node, ['--input-type=module', '-e', script, '--', ...args]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    t.equal(err?.code, code, args.join(' '));
    t.match(err?.stderr, stderr);
  }
});

t.test('a rule path with a dot segment is a clear config error for check and explain, never a stack trace', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { runExplain } = await import('../../src/cli/explain.ts');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, 'routes: [{ path: /, upstream: "http://127.0.0.1:9" }]\npolicy:\n  rules:\n    - id: x\n      match: { path: /admin/../x }\n      require: none\n');
  const c = capture();
  t.equal(await runCheck(['--config', file], c.io), 1, 'check refuses it');
  t.match(c.err, /g\.yaml:5 policy\.rules\[0\]\.match\.path: "\/admin\/\.\.\/x": dot segments/);
  t.notMatch(c.err, /\n\s+at /, 'no stack trace');
  const e = capture();
  t.equal(await runExplain(['--config', file, '--user', '-', '--method', 'GET', '--url', '/x'], { ...e.io, now: () => Date.parse('2026-11-15T12:00:00Z') }), 1, 'explain exits 1');
  t.match(e.err, /invalid config:\n.*g\.yaml:5 policy\.rules\[0\]\.match\.path: "\/admin\/\.\.\/x": dot segments/, 'with the same clear error');
  t.notMatch(e.err, /\n\s+at /, 'no stack trace');
});

t.test('check warns about an IP public_url: passkeys are off there', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-ip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [url, warned] of [['http://192.168.1.20:8080', true], ['http://[::1]:8080', true], ['https://sso.example.com', false], ['http://localhost:8080', false]] as const) {
    const file = join(dir, 'g.yaml');
    writeFileSync(file, `server: { public_url: "${url}" }\nroutes: [{ path: /, upstream: "http://127.0.0.1:9" }]\n`);
    const c = capture();
    t.equal(await runCheck(['--config', file], c.io), 0, `${url}: still valid (${c.err})`);
    if (warned) t.match(c.out, /warning: server\.public_url \S+ is an IP address: passkeys and security keys are off \(WebAuthn needs a domain name/, url);
    else t.notMatch(c.out, /is an IP address/, `${url}: no warning`);
  }
});

t.test('check warns (exit 0) about brand colours below WCAG AA', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-brand-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, 'branding:\n  colors: { primary: "#66a3ff", background: "#ffffff", text: "#1c2230" }\nroutes: [{ path: /, upstream: "http://127.0.0.1:9" }]\n');
  const c = capture();
  t.equal(await runCheck(['--config', file], c.io), 0, 'low contrast is a warning: the config is still valid');
  t.match(c.out, /warning: branding\.colors: primary \(links\) #66a3ff on #ffffff has contrast 2\.\d\d:1, below WCAG AA \(4\.5:1\)/);
  t.notMatch(c.out, /branding\.colors: text/, 'the text pair passes and is not reported');
});

t.test('check with risk on: the summary line, and impossible_travel with a country-only database', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-risk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'places.txt'), '10.1.0.0/16 48.85 2.35 FR\n10.2.0.0/16 51.5 -0.13 GB\n');
  writeFileSync(join(dir, 'risky.txt'), '203.0.113.0/24\n');
  writeFileSync(join(dir, 'not.mmdb'), 'not a database');
  const base = 'routes: [{ path: /, upstream: "http://127.0.0.1:9" }]\n';
  const cases: Array<[string, string, number, RegExp | null, RegExp | null]> = [
    ['bundled DB, no locations', 'risk: { mode: report, rules: [{ above: 50, require: mfa }] }\n', 0,
      /warning: risk: the bundled DB-IP country database has no coordinates and risk\.locations names no range: impossible_travel is unavailable \(never raised\)/,
      /^risk: mode report; above 50 mfa; 0 risky networks; 0 located ranges$/m],
    ['bundled DB with locations', `risk: { locations: ${join(dir, 'places.txt')}, risky_networks: [${join(dir, 'risky.txt')}], relax_routine_below: 10 }\n`, 0,
      /warning: risk: the bundled DB-IP country database has no coordinates: impossible_travel is judged only between addresses in risk\.locations \(2 ranges\)/,
      /^risk: mode enforce; no rules; routine factor skipped below 10; 1 risky network; 2 located ranges$/m],
    ['impossible_travel weighted 0: nothing to say', 'risk: { signals: { impossible_travel: 0 } }\n', 0, null, /^risk: mode enforce/m],
    ['a file that is not a MaxMind database', `risk: { geoip_db: ${join(dir, 'not.mmdb')} }\n`, 1, null, null],
  ];
  for (const [name, yaml, code, warning, line] of cases) {
    const file = join(dir, 'g.yaml');
    writeFileSync(file, base + yaml);
    const c = capture();
    t.equal(await runCheck(['--config', file], c.io), code, `${name}: exit (${c.err})`);
    if (code === 1) t.match(c.err, /risk\.geoip_db: cannot read .*not\.mmdb as a MaxMind database/, name);
    if (warning) t.match(c.out, warning, name);
    else t.notMatch(c.out, /warning: risk:/, `${name}: no risk warning`);
    if (line) t.match(c.out, line, name);
  }
});

t.test('check says what serve would do with a development secret, and writes no dev-secrets.json', async (t) => {
  const { existsSync, mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-dev-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, `routes: [{ path: /, upstream: "http://127.0.0.1:9" }]\nstore: { kind: sqlite, path: ${dir}/db/gatehouse.db }\n`);
  const c = capture();
  t.equal(await runCheck(['--config', file], c.io), 0, c.err);
  const stored = join(dir, 'db', 'dev-secrets.json');
  t.match(c.out, `warning: session.secret not set: serve would generate and store a development secret in ${stored}; set GATEHOUSE_SESSION_SECRET in production\n`);
  t.notMatch(c.out, /using a generated development/, 'never "stored in" a file that check does not write');
  t.notOk(existsSync(stored), 'nothing written');
});

t.test('a users file that cannot be read: the config key that names it and its full path', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-users-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, 'routes: [{ path: /, upstream: "http://127.0.0.1:9" }]\nidentity: { source: file, file: { path: gh-no-such-users.yaml } }\n');
  const c = capture();
  t.equal(await runCheck(['--config', file], c.io), 1);
  t.equal(c.err, `${file} identity.file.path: cannot read the users file ${resolve('gh-no-such-users.yaml')}: ENOENT: no such file or directory\n${file}: 1 error\n`);
});
