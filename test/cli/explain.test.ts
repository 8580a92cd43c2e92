// `gatehouse explain`: the bundled config and temp configs through the same
// normalization, routing and policy code the gateway runs; exit codes from the
// real CLI; and the explanation compared with what a running gateway answers.

import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { runExplain, type Explanation } from '../../src/cli/explain.ts';
import { DUMMY_HASH } from '../../src/identity/password-hash.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { Client, startTestGateway } from '../helpers/gateway.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('src/cli/main.ts');
const BUNDLED = 'config/gatehouse.yaml';
const NOW = Date.parse('2026-11-22T12:00:00Z');

function gatehouse(args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function explainHere(args: string[], now = NOW) {
  let stdout = '';
  let stderr = '';
  const code = await runExplain(args, {
    stdout: { write: (x: string) => { stdout += x; return true; } },
    stderr: { write: (x: string) => { stderr += x; return true; } },
    now: () => now,
  });
  return { code, stdout, stderr };
}

/** The JSON explanation of one request (exit 0 expected). */
async function explain(t: Test, args: string[], now = NOW): Promise<Explanation> {
  const r = await explainHere([...args, '--json'], now);
  t.equal(r.code, 0, `explain ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Explanation;
}

t.test('the bundled config: rules, step-ups, report mode, default, rejected targets', async (t) => {
  const cfg = ['--config', BUNDLED];
  type Case = { name: string; args: string[]; want: Record<string, unknown>; reason?: RegExp; answer?: RegExp };
  const cases: Case[] = [
    { name: 'static assets need nothing', args: ['--user', '-', '--method', 'GET', '--url', '/static/app.css'],
      want: { outcome: 'allow', rule: { id: 'static', index: 0, require: 'none', mode: 'enforce' } }, reason: /rule static: no sign-in required/ },
    { name: 'anonymous elsewhere: sign in (default mfa)', args: ['--user', '-', '--method', 'GET', '--url', '/dashboard'],
      want: { outcome: 'challenge', summary: 'challenge (login)', rule: { id: 'default', index: -1, require: 'mfa' }, decision: { kind: 'login' } },
      answer: /302\) to \/\.gatehouse\/login\?rd=%2Fdashboard; other clients get 401 \{"error":"login_required","challenge":"login"\}/ },
    { name: 'billing POST, fresh sign-in: step up with webauthn or totp', args: ['--user', 'alice', '--method', 'POST', '--url', '/billing/pay', '--enrolled', 'totp'],
      want: { outcome: 'challenge', rule: { id: 'billing', index: 1, require: 'mfa', max_age: '5m', factors: ['webauthn', 'totp'], match: { path: ['/billing/**'], methods: ['POST', 'PUT', 'PATCH', 'DELETE'] } },
        decision: { action: 'challenge', kind: 'step_up', factors: ['webauthn', 'totp'], max_age: 300_000 } },
      reason: /needs webauthn or totp within 5m; none in this session/, answer: /the POST is stashed and completed after the challenge/ },
    { name: 'billing POST, totp 2m ago: allowed', args: ['--user', 'alice', '--method', 'POST', '--url', '/billing/pay', '--factors', 'totp', '--fresh', '2m'],
      want: { outcome: 'allow', rule: { id: 'billing' } }, reason: /totp 2m ago \(within 5m\)/, answer: /proxied to http:\/\/127\.0\.0\.1:8081 with identity headers/ },
    { name: 'billing POST, totp 6m ago: too old', args: ['--user', 'alice', '--method', 'POST', '--url', '/billing/pay', '--factors', 'totp', '--fresh', '6m'],
      want: { outcome: 'challenge', decision: { kind: 'step_up' } }, reason: /older than 5m \(last totp 6m ago\)/ },
    { name: 'billing GET is not the rule: routine mfa', args: ['--user', 'bob', '--method', 'GET', '--url', '/billing/pay', '--enrolled', 'totp'],
      want: { outcome: 'challenge', rule: { id: 'default' }, decision: { kind: 'mfa' } } },
    { name: 'api keys with only totp enrolled: enroll a passkey', args: ['--user', 'alice', '--method', 'POST', '--url', '/settings/api-keys/new', '--enrolled', 'totp,recovery'],
      want: { outcome: 'challenge', rule: { id: 'api-keys', factors: ['webauthn'] }, decision: { kind: 'enroll', factors: ['webauthn'] } },
      reason: /needs webauthn; user has only totp and recovery enrolled/, answer: /\/\.gatehouse\/enroll\?rd=%2Fsettings%2Fapi-keys%2Fnew&rule=api-keys&stash=ID; the POST is stashed/ },
    { name: 'api keys, webauthn hours ago: no max_age, allowed', args: ['--user', 'alice', '--method', 'POST', '--url', '/settings/api-keys/new', '--factors', 'phishing_resistant', '--fresh', '3h'],
      want: { outcome: 'allow', rule: { id: 'api-keys' } }, reason: /webauthn passed in this session/ },
    { name: 'remembered device: routine mfa satisfied', args: ['--user', 'bob', '--method', 'GET', '--url', '/dashboard', '--enrolled', 'totp', '--remembered'],
      want: { outcome: 'allow', subject: { remembered_device: true } }, reason: /remembered device/ },
    { name: 'remembered device never satisfies a step-up', args: ['--user', 'bob', '--method', 'POST', '--url', '/billing/pay', '--enrolled', 'totp', '--remembered'],
      want: { outcome: 'challenge', decision: { kind: 'step_up' } }, reason: /a remembered device does not count for step-up/ },
    { name: 'nothing enrolled: enroll', args: ['--user', 'bob', '--method', 'GET', '--url', '/dashboard', '--enrolled', 'none'],
      want: { outcome: 'challenge', decision: { kind: 'enroll' } }, answer: /\/\.gatehouse\/enroll\?rd=%2Fdashboard;/ },
    { name: 'nothing enrolled, deferred in this session', args: ['--user', 'bob', '--method', 'GET', '--url', '/dashboard', '--enrolled', 'none', '--deferred'],
      want: { outcome: 'allow' }, reason: /deferred enrollment/ },
    { name: 'report mode: would challenge, the default allows', args: ['--user', 'bob', '--method', 'GET', '--url', '/reports/q', '--factors', 'totp', '--fresh', '2m'],
      want: { outcome: 'report', summary: 'report-only: would challenge (step_up); allowed', rule: { id: 'reports-preview', mode: 'report', max_age: '1m' },
        enforced: { rule: { id: 'default', index: -1 }, decision: { action: 'allow' } } },
      answer: /proxied .*; counted as a would-be challenge of rule reports-preview/ },
    { name: 'report rule satisfied: a plain allow', args: ['--user', 'bob', '--method', 'GET', '--url', '/reports/q', '--factors', 'totp', '--fresh', '30s'],
      want: { outcome: 'allow', enforced: null } },
    { name: 'export: every method, 10m freshness', args: ['--user', 'bob', '--method', 'HEAD', '--url', '/export/all.csv', '--factors', 'totp', '--fresh', '11m'],
      want: { outcome: 'challenge', rule: { id: 'export', max_age: '10m' }, decision: { kind: 'step_up', max_age: 600_000 } } },
    { name: 'dot segments resolve before rules match', args: ['--user', 'alice', '--method', 'POST', '--url', '/static/../billing/pay', '--enrolled', 'totp'],
      want: { outcome: 'challenge', rule: { id: 'billing' }, request: { path: '/billing/pay' } } },
    { name: 'absolute URL: host from it', args: ['--user', 'alice', '--method', 'POST', '--url', 'http://LOCALHOST:8080/billing/pay?x=1', '--enrolled', 'totp'],
      want: { request: { host: 'localhost', target: '/billing/pay?x=1', path: '/billing/pay' }, rule: { id: 'billing' } } },
    { name: 'encoded slash: 400', args: ['--user', '-', '--method', 'GET', '--url', '/billing%2fpay'],
      want: { outcome: 'bad_target', summary: 'rejected: 400 Bad Request', rule: null, decision: null, route: null }, reason: /normalization: encoded slash/ },
    { name: 'double encoding: 400', args: ['--user', 'alice', '--method', 'GET', '--url', '/%252e%252e/admin'],
      want: { outcome: 'bad_target' }, reason: /double/ },
    { name: 'path parameters where no route allows them: 400', args: ['--user', '-', '--method', 'GET', '--url', '/app;jsessionid=1'],
      want: { outcome: 'bad_target' }, reason: /path parameters/ },
    { name: 'the gateway\'s own endpoints', args: ['--user', '-', '--method', 'GET', '--url', '/.gatehouse/login'],
      want: { outcome: 'reserved', rule: null } },
  ];
  for (const c of cases) {
    const e = await explain(t, [...c.args, ...cfg]);
    t.match(e, c.want, c.name);
    if (c.reason) t.match(e.reason, c.reason, `${c.name}: reason`);
    if (c.answer) t.match(e.answer, c.answer, `${c.name}: answer`);
  }
});

t.test('the human output names the rule, its conditions, the decision and why', async (t) => {
  const r = gatehouse(['explain', '--user', 'alice', '--method', 'post', '--url', '/billing/pay', '--enrolled', 'totp', '--factors', 'totp', '--fresh', '7m', '--config', BUNDLED]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^request:\s+POST \/billing\/pay\s+\(host localhost\)\n/);
  t.match(r.stdout, /\nuser:\s+alice\s+groups admins,finance\s+in rollout\s+enrolled totp\n/);
  t.match(r.stdout, /\nsession:\s+totp 7m ago\n/);
  t.match(r.stdout, /\nrule:\s+billing\s+\(policy\.rules\[1\]\)\n\s+match:\s+path \/billing\/\*\*\s+methods POST,PUT,PATCH,DELETE\n\s+require: mfa\s+max_age 5m\s+factors webauthn,totp\s+mode enforce\n/);
  t.match(r.stdout, /\ndecision:\s+challenge \(step_up\)\nreason:\s+rule billing: webauthn or totp older than 5m \(last totp 7m ago\)\n/);

  const report = gatehouse(['explain', '--user', 'bob', '--method', 'GET', '--url', '/reports/x', '--factors', 'totp', '--fresh', '5m', '--config', BUNDLED]);
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, /\ndecision:\s+report-only: would challenge \(step_up\); allowed\n/);
  t.match(report.stdout, /\nenforced:\s+allow: default policy: totp passed in this session\n/);

  const bad = gatehouse(['explain', '--user', '-', '--method', 'GET', '--url', '/a/%2e%2e%2f', '--config', BUNDLED]);
  t.equal(bad.code, 0, 'a rejected URL is an explanation, not an error');
  t.match(bad.stdout, /decision:\s+rejected: 400 Bad Request\nreason:\s+the request-target is rejected by normalization: encoded slash/);
});

t.test('exit codes: 1 for an unknown user or a bad config, 2 for usage', async (t) => {
  t.equal((await explainHere(['--user', '-', '--method', 'POST', '--url', '/x', '--override', 'DE LETE', '--config', BUNDLED])).code, 2, '--override must name HTTP methods');
  const unknown = gatehouse(['explain', '--user', 'zed', '--method', 'GET', '--url', '/', '--config', BUNDLED]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /no user "zed" in config\/users\.yaml \(use --user - for an anonymous request\)/);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.yaml'), 'policy:\n  default: maybe\n  rulez: []\n');
  const bad = gatehouse(['explain', '--user', '-', '--method', 'GET', '--url', '/', '--config', join(dir, 'bad.yaml')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /invalid config:\n.*bad\.yaml:3 policy\.rulez: unknown key/s);
  const usage: Array<[string[], RegExp]> = [
    [['--user', 'alice', '--method', 'GET'], /--url is required/],
    [['--method', 'GET', '--url', '/'], /--user is required/],
    [['--user', 'alice', '--method', 'GET', '--url', '/', '--factors', 'totp,carrier-pigeon'], /unknown factor kind "carrier-pigeon"/],
    [['--user', 'alice', '--method', 'GET', '--url', '/', '--fresh', '2m'], /--fresh says how old the --factors are/],
    [['--user', 'alice', '--method', 'GET', '--url', '/', '--factors', 'totp', '--fresh', 'soon'], /--fresh: invalid duration/],
    [['--user', 'alice', '--method', 'G E T', '--url', '/'], /not an HTTP method/],
    [['--user', 'alice', '--method', 'GET', '--url', '/', '--ip', '10.0.0.300'], /not an IP address/],
    [['--user', '-', '--method', 'GET', '--url', '/', '--factors', 'totp'], /makes no sense with --user -/],
    [['--user', 'alice', '--method', 'GET', '--url', '/', '--frobnicate'], /unknown option --frobnicate/],
  ];
  const child = gatehouse(['explain', ...usage[0][0], '--config', BUNDLED]);
  t.equal(child.code, 2, 'usage error from the real CLI: 2');
  t.match(child.stderr, /usage: gatehouse explain/);
  for (const [args, why] of usage) {
    const r = await explainHere([...args, '--config', BUNDLED]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, why);
  }
  const help = await explainHere(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: gatehouse explain/);
});

/** A temp deployment: config (routes and policy given), users file, and an optional store. */
function tempConfig(t: Test, over: Record<string, unknown>): { dir: string; config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const u = (groups: string[], disabled = false) => ({ display_name: 'x', email: 'x@example.com', password: DUMMY_HASH, groups, disabled });
  writeFileSync(join(dir, 'users.yaml'), stringify({ users: { bob: u(['staff']), carol: u(['contractors']), dave: u(['staff'], true), pia: u(['pilot']) } }));
  const db = join(dir, 'gatehouse.db');
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(config, stringify({
    routes: [{ path: '/', upstream: 'http://127.0.0.1:9' }],
    identity: { source: 'file', file: { path: join(dir, 'users.yaml') } },
    session: { secret: 'explain-test-session-secret-0123456789abcdef' },
    factors: { encryption_key: 'explain-test-encryption-key-0123456789abcdef' },
    store: { kind: 'sqlite', path: db },
    audit: { path: join(dir, 'audit.log') },
    ...over,
  }));
  return { dir, config, db };
}

t.test('temp configs: deny, groups, networks, hosts, case-blind routes, path params, exceptions, rollout', async (t) => {
  const { config } = tempConfig(t, {
    routes: [
      { path: '/', upstream: 'http://127.0.0.1:9' },
      { path: '/', host: 'iis.example.com', upstream: 'http://127.0.0.1:10', case_insensitive: true },
      { path: '/java', upstream: 'http://127.0.0.1:11', path_params: 'allow' },
      { path: '/', host: 'only.example.com', upstream: 'http://127.0.0.1:12' },
    ],
    policy: {
      default: 'mfa',
      rules: [
        { id: 'no-contractors', match: { path: '/admin/**', groups: ['contractors'] }, require: 'deny' },
        { id: 'office', match: { path: '/intranet/**', networks: ['10.0.0.0/8'] }, require: 'none' },
        { id: 'billing', match: { path: '/billing/**' }, require: 'deny' },
        { id: 'java-admin', match: { path: '/java/admin' }, require: 'deny' },
        { id: 'shadow', match: { path: '/legacy/**' }, require: 'deny', mode: 'report' },
      ],
      exceptions: [{ user: 'bob', rule: 'billing', reason: 'vendor migration', owner: 'it@example.com', expires: '2099-01-01' }],
    },
    rollout: { enforce_for: ['staff', 'contractors'] },
  });
  const cfg = ['--config', config];
  const e = (args: string[]) => explain(t, [...args, ...cfg]);

  t.match(await e(['--user', 'carol', '--method', 'GET', '--url', '/admin/users']), { outcome: 'deny', summary: 'deny: 403 Forbidden', rule: { id: 'no-contractors', match: { groups: ['contractors'] } }, answer: '403 error page' }, 'group rule denies its group');
  t.match(await e(['--user', 'bob', '--method', 'GET', '--url', '/admin/users', '--factors', 'totp']), { outcome: 'allow', rule: { id: 'default' } }, 'others fall through to the default');
  const anon = await e(['--user', '-', '--method', 'GET', '--url', '/admin/users']);
  t.match(anon, { outcome: 'challenge', decision: { kind: 'login' }, rule: { id: 'no-contractors' } }, 'group rules ask anonymous users to sign in');
  t.match(anon.reason, /applies by group membership; sign in first/);

  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/intranet/wiki', '--ip', '10.1.2.3']), { outcome: 'allow', rule: { id: 'office' } }, 'inside the network');
  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/intranet/wiki', '--ip', '192.168.1.1']), { outcome: 'challenge', rule: { id: 'default' } }, 'outside it');
  const noIp = await e(['--user', '-', '--method', 'GET', '--url', '/intranet/wiki']);
  t.match(noIp, { outcome: 'challenge', request: { ip: '' } });
  t.match(noIp.notes.join('\n'), /no --ip given: rules matching by network \(office\) were treated as not matching/);

  const exempt = await e(['--user', 'bob', '--method', 'GET', '--url', '/billing/x', '--factors', 'totp']);
  t.match(exempt, { outcome: 'allow', rule: { id: 'default' } }, 'an exception skips the rule');
  t.match(exempt.notes.join('\n'), /exception: user bob is exempt from rule billing until 2099-01-01 \(vendor migration; owner it@example\.com\)/);
  t.match(await e(['--user', 'carol', '--method', 'GET', '--url', '/billing/x']), { outcome: 'deny', rule: { id: 'billing' } }, 'not for others');

  t.match(await e(['--user', '-', '--method', 'GET', '--url', 'http://iis.example.com/BILLING/x']), { outcome: 'deny', rule: { id: 'billing' }, route: { case_insensitive: true }, request: { path: '/billing/x' } }, 'a case-blind route matches rules without regard to case');
  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/BILLING/x']), { outcome: 'challenge', rule: { id: 'default' }, route: { case_insensitive: false } }, 'a case-sensitive route does not');
  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/Billing/x', '--host', 'IIS.example.com']), { outcome: 'deny' }, '--host picks the route too');
  // The gateway refuses what a case-blind app would read as another name: explain says 400 too.
  for (const url of ['/billing.', '/billing./x', '/billing%20/x', '/%EF%BD%82illing/x']) {
    t.match(await e(['--user', '-', '--method', 'GET', '--url', url, '--host', 'iis.example.com']), { outcome: 'bad_target', summary: 'rejected: 400 Bad Request', route: { case_insensitive: true } }, `${url} on the case-blind route: 400, as the gateway answers`);
  }
  t.match(await e(['--user', 'bob', '--method', 'GET', '--url', '/java/x', '--factors', 'totp']), { outcome: 'allow' }, 'a GET');
  const overridden = await e(['--user', 'bob', '--method', 'POST', '--url', '/java/x', '--factors', 'totp', '--override', 'delete']);
  t.match(overridden, { outcome: 'allow', route: { method_override: 'evaluate' } }, '--override: judged as POST and as DELETE');
  t.match(await e(['--user', 'bob', '--method', 'POST', '--url', '/java/admin', '--factors', 'totp', '--override', 'DELETE']), { outcome: 'deny', rule: { id: 'java-admin' } });
  t.match(await e(['--user', 'carol', '--method', 'GET', '--url', '/admin/x', '--break-glass']), { outcome: 'deny' }, '--break-glass never skips a deny');
  const bg = await e(['--user', 'bob', '--method', 'GET', '--url', '/x', '--enrolled', 'none', '--break-glass']);
  t.match(bg, { outcome: 'allow', decision: { breakglass: true } }, '--break-glass waives the challenge, as the gateway does');
  t.match(bg.reason, /^break-glass \(would: /);

  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/java/admin;jsessionid=abc']), { outcome: 'deny', rule: { id: 'java-admin' }, request: { path: '/java/admin' } }, 'path_params: allow matches rules without the parameters');
  t.match(await e(['--user', '-', '--method', 'GET', '--url', '/other;jsessionid=abc']), { outcome: 'bad_target', route: { id: '*/' } }, 'other routes still reject them');
  t.match(await e(['--user', '-', '--method', 'GET', '--url', 'http://elsewhere.example.com/x']), { outcome: 'challenge', route: { id: '*/' } }, 'a hostless route serves any other host');

  t.match(await e(['--user', 'bob', '--method', 'GET', '--url', '/legacy/x', '--factors', 'totp']), { outcome: 'report', summary: 'report-only: would deny; allowed', rule: { id: 'shadow' }, enforced: { decision: { action: 'allow' } } }, 'a report-only deny');

  t.match(await e(['--user', 'pia', '--method', 'GET', '--url', '/x', '--enrolled', 'none']), { outcome: 'allow', subject: { in_rollout: false } }, 'outside the rollout: no routine mfa');
  t.match(await e(['--user', 'bob', '--method', 'GET', '--url', '/x', '--enrolled', 'none']), { outcome: 'challenge', decision: { kind: 'enroll' }, subject: { in_rollout: true } }, 'inside it: enroll');
  t.match(await e(['--user', 'pia', '--method', 'GET', '--url', '/x', '--enrolled', 'none', '--groups', 'staff']), { subject: { groups: ['staff'], in_rollout: true } }, '--groups overrides the users file');

  const disabled = await e(['--user', 'dave', '--method', 'GET', '--url', '/x']);
  t.match(disabled, { subject: null, outcome: 'challenge', decision: { kind: 'login' } }, 'a disabled user is explained as anonymous');
  t.match(disabled.notes.join('\n'), /dave is disabled/);
});

t.test('no route, and enrolled factors read from the store', async (t) => {
  const { config, db } = tempConfig(t, { routes: [{ path: '/', host: 'portal.example.com', upstream: 'http://127.0.0.1:9' }] });
  const nothing = await explain(t, ['--user', 'bob', '--method', 'GET', '--url', '/x', '--config', config]);
  t.match(nothing, { outcome: 'no_route', summary: 'no route: 404 Not Found', route: null }, 'public_url host matches no route');
  t.match(nothing.notes.join('\n'), /does not exist yet: nobody has enrolled/);

  const store = openSqliteStore(db);
  await store.migrate();
  await store.addFactor({ id: 'f1', user: 'bob', kind: 'totp', name: 'app', data: {}, created_at: NOW, last_used_at: null });
  await store.replaceRecoveryCodes('bob', ['h1', 'h2']);
  await store.close();
  const e = await explain(t, ['--user', 'bob', '--method', 'GET', '--url', 'http://portal.example.com/x', '--config', config]);
  t.match(e, { outcome: 'challenge', decision: { kind: 'mfa' }, subject: { enrolled: ['totp', 'recovery'] } }, 'enrolled from the store: routine mfa');
  const passed = await explain(t, ['--user', 'bob', '--method', 'GET', '--url', 'http://portal.example.com/x', '--factors', 'webauthn', '--config', config]);
  t.match(passed, { outcome: 'allow', subject: { enrolled: ['totp', 'recovery', 'webauthn'], factors: [{ kind: 'webauthn', age: '0s' }] } }, 'a factor passed in the session counts as enrolled');
});

t.test('explain agrees with a running gateway', async (t) => {
  const f = await startTestGateway({
    config: {
      policy: {
        default: 'login',
        rules: [
          { id: 'public', match: { path: '/static/**' }, require: 'none' },
          { id: 'closed', match: { path: '/closed/**' }, require: 'deny' },
          { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
        ],
      },
    },
  });
  t.teardown(() => f.close());
  const bob = new Client(f.url);
  t.equal((await bob.signIn('bob', 'bob-test-pass')).status, 303);
  const anon = new Client(f.url);
  const cases: Array<[Client, string, string, string]> = [
    [anon, '-', 'GET', '/static/app.css'],
    [anon, '-', 'GET', '/closed/x'],
    [anon, '-', 'GET', '/dashboard'],
    [anon, '-', 'GET', '/a%2fb'],
    [bob, 'bob', 'GET', '/closed/x'],
    [bob, 'bob', 'GET', '/'],
    [bob, 'bob', 'POST', '/billing/pay'],
  ];
  for (const [client, user, method, path] of cases) {
    const e = await explain(t, ['--user', user, '--method', method, '--url', f.url + path, '--config', f.configPath], Date.now());
    const res = await client.fetch(path, { method, headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', origin: f.url } : {}, body: method === 'POST' ? 'a=1' : undefined });
    const location = res.headers.get('location') ?? '';
    const what = `${user} ${method} ${path}: explain says ${e.summary}, gateway answered ${res.status} ${location}`;
    switch (e.outcome) {
      case 'allow': t.equal(res.status, 200, `${what} (from the portal)`); break;
      case 'deny': t.equal(res.status, 403, what); break;
      case 'bad_target': t.equal(res.status, 400, what); break;
      case 'challenge': {
        t.equal(res.status, 302, what);
        // The same URL, but for the stash id the gateway makes up.
        t.equal(location.replace(/stash=[\w-]+/, 'stash=ID'), /redirected \(302\) to (\S+?);? /.exec(e.answer)?.[1], what);
        break;
      }
      default: t.fail(`unexpected outcome ${e.outcome}: ${what}`);
    }
  }
});

t.test('forward-auth: a config without routes is explained as /.gatehouse/authz judges it, and agrees with it', async (t) => {
  const f = await startTestGateway({
    config: {
      routes: [],
      server: { trusted_proxies: ['127.0.0.1/32'] },
      policy: {
        default: 'login',
        rules: [
          { id: 'public', match: { path: '/public/**' }, require: 'none' },
          { id: 'admin', match: { path: '/admin/**' }, require: 'deny' },
          { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
        ],
      },
    },
  });
  t.teardown(() => f.close());
  const bob = new Client(f.url);
  t.equal((await bob.signIn('bob', 'bob-test-pass')).status, 303);
  const anon = new Client(f.url);
  const cases: Array<[Client, string, string, string, number]> = [
    [anon, '-', 'GET', '/public/a.css', 200],
    [anon, '-', 'GET', '/admin/x', 403],
    [anon, '-', 'GET', '/dashboard?tab=2', 401],
    [bob, 'bob', 'GET', '/dashboard', 200],
    [bob, 'bob', 'POST', '/billing/pay', 401],
  ];
  for (const [client, user, method, target, status] of cases) {
    const e = await explain(t, ['--user', user, '--method', method, '--url', f.url + target, '--config', f.configPath], Date.now());
    t.ok(e.notes.some((n) => /as forward-auth sees it .*no routes/.test(n)), `${method} ${target}: explained as forward-auth (no routes)`);
    const res = await client.fetch('/.gatehouse/authz', { headers: { accept: 'text/html', 'x-original-uri': target, 'x-original-method': method, 'x-forwarded-host': `localhost:${f.port}`, 'x-forwarded-proto': 'http' } });
    await res.arrayBuffer();
    const what = `${user} ${method} ${target}: explain says ${e.summary} (${e.answer}), authz answered ${res.status}`;
    t.equal(res.status, status, what);
    t.equal(e.outcome, ({ 200: 'allow', 403: 'deny', 401: 'challenge' } as Record<number, string>)[status], what);
    t.match(e.answer, String(status), `${what}: the answer names the status`);
    if (status === 401) t.equal(res.headers.get('location'), f.url + /with Location (\S+) for nginx/.exec(e.answer)?.[1], `${what}: the same challenge URL`);
  }
  const proxied = await explain(t, ['--user', '-', '--method', 'GET', '--url', `${f.url}/public/a.css`, '--via', 'proxy', '--config', f.configPath], Date.now());
  t.match(proxied, { outcome: 'no_route' }, '--via proxy: no route serves it');
  const form = await explainHere(['--user', '-', '--method', 'POST', '--url', '/billing/pay', '--via', 'forward-auth', '--form', 'a=1', '--config', f.configPath]);
  t.equal(form.code, 2, '--form with forward-auth is a usage error');
  t.match(form.stderr, /the proxy never sends the body/);
  t.equal((await explainHere(['--user', '-', '--method', 'GET', '--url', '/', '--via', 'nginx', '--config', f.configPath])).code, 2, '--via takes proxy or forward-auth');
});

t.test('parameter rules: a URL with a query and --form; which parameter matched', async (t) => {
  const { config } = tempConfig(t, {
    routes: [{ path: '/', upstream: 'http://127.0.0.1:9', params_style: 'php' }],
    policy: {
      default: 'login',
      rules: [
        { id: 'wiki-admin', match: { path: '/doku.php', query: { do: ['admin', 'export_*'] }, ignore_case: true }, require: 'mfa', max_age: '5m' },
        { id: 'db-export', match: { path: '/index.php', params: { route: ['/export', '/server/privileges*'] } }, require: 'mfa', max_age: '5m' },
      ],
    },
  });
  const e = (args: string[]) => explain(t, [...args, '--config', config, '--user', 'bob', '--enrolled', 'totp', '--factors', 'totp', '--fresh', '20m']);
  const admin = await e(['--method', 'GET', '--url', '/doku.php?do=ADMIN&id=start']);
  t.match(admin, { outcome: 'challenge', decision: { kind: 'step_up' }, rule: { id: 'wiki-admin', match: { query: { do: ['admin', 'export_*'] }, ignore_case: true } } });
  t.match(admin.params, [/^query\.do admin \| export_\* \(any case\): matched; query do="ADMIN"$/]);
  const php = await e(['--method', 'GET', '--url', '/doku.php?do[export_raw]=1']);
  t.match(php.params, [/matched; query do="export_raw"/], 'PHP array syntax on a params_style: php route');
  t.match(await e(['--method', 'GET', '--url', '/doku.php?do=show']), { outcome: 'allow', rule: { id: 'default' }, params: [] });

  const form = await e(['--method', 'POST', '--url', '/index.php?db=shop', '--form', 'route=%2Fexport&what=sql']);
  t.match(form, { outcome: 'challenge', rule: { id: 'db-export' } });
  t.match(form.params, [/^params\.route \/export \| \/server\/privileges\*: matched; body route="\/export"$/]);
  const both = await e(['--method', 'POST', '--url', '/index.php?route=/sql', '--form', 'route=/export']);
  t.match(both, { outcome: 'challenge', rule: { id: 'db-export' } });
  t.match(both.reason, /ambiguous or unread: the most demanding rule applies/);
  t.match(both.params, [/in doubt .*query route="\/sql", body route="\/export"/]);
  t.match(await e(['--method', 'POST', '--url', '/index.php', '--form', 'route=/sql']), { outcome: 'allow', rule: { id: 'default' } });

  const human = await explainHere(['--config', config, '--user', '-', '--method', 'POST', '--url', '/index.php', '--form', 'route=/export']);
  t.match(human.stdout, /match:   path \/index\.php  params route=\/export\|\/server\/privileges\*/);
  t.match(human.stdout, /params:    params\.route .*: matched; body route="\/export"/);
  const get = await e(['--method', 'GET', '--url', '/index.php', '--form', 'route=/export']);
  t.match(get.notes.join('\n'), /--form with GET: the body is not read/);
});

// ---- risk: --ip and --device, the score ----

const MIN = 60_000;

/** A temp config with the risk section on, bob last seen in London at `lastSeen`. */
async function riskSetup(t: Test, risk: Record<string, unknown>, lastSeen: number): Promise<string> {
  const places = mkdtempSync(join(tmpdir(), 'gatehouse-explain-risk-'));
  t.teardown(() => rmSync(places, { recursive: true, force: true }));
  writeFileSync(join(places, 'places.txt'), '198.51.100.0/24 51.5074 -0.1278 GB\n203.0.113.0/24 40.7128 -74.0060 US\n');
  writeFileSync(join(places, 'risky.txt'), '192.0.2.0/24\n');
  const { config, db } = tempConfig(t, {
    policy: { default: 'mfa' },
    risk: { locations: join(places, 'places.txt'), risky_networks: [join(places, 'risky.txt')], ...risk },
  });
  const store = openSqliteStore(db);
  await store.migrate();
  await store.recordSignInPlace('bob', { network: '198.51.100.0/24', country: 'GB', lat: 51.5074, lon: -0.1278, at: lastSeen }, 0);
  await store.close();
  return config;
}

const RISK_RULES = { rules: [{ above: 50, require: 'mfa' }, { above: 90, require: 'deny' }] };
const askRisk = (config: string, ...extra: string[]) => ['--config', config, '--user', 'bob', '--method', 'GET', '--url', '/dashboard', '--enrolled', 'totp', ...extra];

t.test('risk: the score of a sign-in from --ip on a --device', async (t) => {
  const config = await riskSetup(t, RISK_RULES, NOW - 10 * MIN);
  type Row = [string, string[], { outcome: string; rule?: string; score: number; signals: string[] }, RegExp?];
  const rows: Row[] = [
    ['known network, known device', ['--ip', '198.51.100.7', '--device', 'known'], { outcome: 'allow', score: 0, signals: [] }],
    ['--remembered is --device known', ['--ip', '198.51.100.7', '--remembered'], { outcome: 'allow', score: 0, signals: [] }],
    ['known network, new device: the routine factor', ['--ip', '198.51.100.7', '--device', 'new'], { outcome: 'challenge', rule: 'default', score: 20, signals: ['new_device'] }],
    ['New York 10 minutes after London: denied', ['--ip', '203.0.113.5', '--device', 'known'], { outcome: 'deny', rule: 'risk', score: 130, signals: ['new_network', 'new_country', 'impossible_travel'] }, /risk 130 \(impossible_travel 80, new_country 40, new_network 10\) above 90: denied/],
    ['a risky network, on a known device', ['--ip', '192.0.2.8', '--device', 'known'], { outcome: 'challenge', rule: 'risk', score: 70, signals: ['new_network', 'risky_network'] }, /risk 70 \(risky_network 60, new_network 10\) above 50: needs a second factor since the sign-in/],
    ['the risk step-up satisfied by a factor after the sign-in', ['--ip', '192.0.2.8', '--device', 'known', '--factors', 'totp', '--fresh', '1m'], { outcome: 'allow', score: 70, signals: ['new_network', 'risky_network'] }],
  ];
  for (const [name, args, want, reason] of rows) {
    const r = await explainHere([...askRisk(config, ...args), '--json']);
    t.equal(r.code, 0, `${name}: ${r.stderr}`);
    const e = JSON.parse(r.stdout) as Explanation;
    t.equal(e.outcome, want.outcome, `${name}: outcome`);
    if (want.rule) t.equal(e.decision?.rule, want.rule, `${name}: rule`);
    t.equal(e.risk?.score, want.score, `${name}: score`);
    t.same(e.risk?.signals, want.signals, `${name}: signals`);
    if (reason) t.match(e.reason, reason, `${name}: reason`);
  }
  const text = await explainHere(askRisk(config, '--ip', '203.0.113.5', '--device', 'new'));
  t.match(text.stdout, /^risk: {6}risk 150 \(impossible_travel 80, new_country 40, new_device 20, new_network 10\); above 90: deny$/m);
  t.match(text.stdout, /^rule: {6}risk \(a risk\.rules entry: the score above\)$/m);
  t.match(text.stdout, /^note: {6}risk: 203\.0\.113\.5 is US, 40\.7128,-74\.006$/m);
  t.match(text.stdout, /^note: {6}risk: from the last sign-in \(198\.51\.100\.0\/24\): 5570 km in 0\.17 h$/m);
  const noIp = await explainHere(askRisk(config, '--device', 'known'));
  t.match(noIp.stdout, /no --ip given: the sign-in's network, country and travel are unknown/);
});

t.test('risk: report mode and relaxation in the words', async (t) => {
  const config = await riskSetup(t, { ...RISK_RULES, mode: 'report', relax_routine_below: 30 }, NOW - 10 * MIN);
  const far = JSON.parse((await explainHere([...askRisk(config, '--ip', '203.0.113.5', '--device', 'known'), '--json'])).stdout) as Explanation;
  t.equal(far.outcome, 'report', 'allowed (the device is remembered), the would-be denial reported');
  t.equal(far.summary, 'report-only: would deny; allowed');
  t.match(far.enforced, { rule: { id: 'default' }, decision: { action: 'allow', reason: /remembered device/ } }, 'what is enforced: the policy without risk');
  t.match(far.risk, { score: 130, rule: 'above 90: deny (mode report: logged only)' });
  const near = await explainHere(askRisk(config, '--ip', '198.51.100.7', '--device', 'new'));
  t.match(near.stdout, /risk 20 \(new_device 20\); below relax_routine_below 30: the routine second factor may be skipped \(mode report: logged only\)/);
});

t.test('risk: --device usage errors', async (t) => {
  const config = await riskSetup(t, RISK_RULES, NOW - 10 * MIN);
  for (const [args, message] of [
    [['--device', 'maybe'], /--device is new or known/],
    [['--device', 'new', '--remembered'], /--remembered says the device is known/],
  ] as const) {
    const r = await explainHere(askRisk(config, ...args));
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
  }
  const anon = await explainHere(['--config', config, '--user', '-', '--method', 'GET', '--url', '/', '--device', 'known']);
  t.equal(anon.code, 2);
  t.match(anon.stderr, /--device describes a signed-in user/);
});
