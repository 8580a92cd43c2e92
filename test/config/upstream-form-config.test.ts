// identity.upstream_form's keys: defaults, the derived policy.sign_in, and
// clear errors for bad values (nothing loads half-checked).

import t from 'tap';
import { ConfigError, parseConfig, type ConfigIssue } from '../../src/config/load.ts';

const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40) };
const NOW = () => new Date('2026-11-15T12:00:00Z');
const BASE = 'routes:\n  - { path: /, upstream: "http://127.0.0.1:9" }\nidentity:\n  source: upstream_form\n  upstream_form:\n';

function load(body: string) {
  return parseConfig(BASE + body, 'g.yaml', { env: SECRETS, now: NOW, persistDevSecrets: false });
}

function issues(body: string): ConfigIssue[] {
  try {
    load(body);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults and the derived sign-in rule', async (t) => {
  const c = load('    login_path: /login\n    success: { status: 302, set_cookie: SID }\n');
  const uf = c.identity.upstream_form!;
  t.equal(uf.username_case, 'fold');
  t.equal(uf.allow_unicode, false);
  t.same(uf.app_cookies, ['SID'], 'app_cookies default to success.set_cookie');
  t.equal(uf.login_match, undefined);
  t.same(c.policy.sign_in, { path: '/login' });
  t.same(c.warnings.filter((w) => w.includes('upstream_form')), []);
  const bare = load('    login_path: /login\n    success: { status: 302 }\n');
  t.match(bare.warnings.join('\n'), /no app_cookies/, 'warned when no app cookie is named');
});

t.test('every key given', async (t) => {
  const c = load([
    '    login_path: /doku.php',
    '    login_match: { params: { do: login }, fields: [u] }',
    '    logout_path: /doku.php',
    '    logout_match: { query: { do: logout } }',
    '    username_field: u',
    '    username_case: exact',
    '    allow_unicode: true',
    '    success: { status: 302, set_cookie: "DW*", user_header: X-App-User }',
    '    whoami: { path: /whoami, pattern: "<b>([^<]+)</b>" }',
    '    app_cookies: ["DW*", DokuWiki]',
    '',
  ].join('\n'));
  const uf = c.identity.upstream_form!;
  t.same(uf.login_match, { params: { do: 'login' }, fields: ['u'] });
  t.same(uf.logout_match, { query: { do: 'logout' } });
  t.equal(uf.username_case, 'exact');
  t.equal(uf.allow_unicode, true);
  t.same(uf.success, { status: 302, set_cookie: 'DW*', user_header: 'x-app-user' }, 'header names lower-cased');
  t.same(uf.whoami, { path: '/whoami', pattern: '<b>([^<]+)</b>' });
  t.same(uf.app_cookies, ['DW*', 'DokuWiki']);
  t.same(c.policy.sign_in, { path: '/doku.php', match: { params: { do: 'login' }, fields: ['u'] } });
});

t.test('bad values are errors naming the key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['    login_path: /l\n    success: { status: 302 }\n    username_case: lower\n', 'identity.upstream_form.username_case', /must be one of/],
    ['    login_path: /l\n    success: { status: 302 }\n    login_match: {}\n', 'identity.upstream_form.login_match', /at least one of query, params, fields/],
    ['    login_path: /l\n    success: { status: 302 }\n    login_match: { query: { do: [1] } }\n', 'identity.upstream_form.login_match.query.do', /string/],
    ['    login_path: /l\n    success: { status: 302 }\n    whoami: { path: /w }\n', 'identity.upstream_form.whoami.pattern', /is required/],
    ['    login_path: /l\n    success: { status: 302 }\n    whoami: { path: w, pattern: "(" }\n', 'identity.upstream_form.whoami', /path starting with \/|regular expression/],
    ['    login_path: /l\n    success: { status: 302 }\n    app_cookies: ["a b"]\n', 'identity.upstream_form.app_cookies[0]', /cookie name/],
  ];
  for (const [body, path, message] of cases) {
    const got = issues(body);
    t.ok(got.some((i) => i.path.startsWith(path) && message.test(i.message)), `${path}: ${JSON.stringify(got.map((i) => `${i.path}: ${i.message}`))}`);
  }
});
