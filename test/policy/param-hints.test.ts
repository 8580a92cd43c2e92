// gatehouse check's hints on parameter rules (policy/param-hints.ts), as a
// table: each config gets exactly the hints listed (by their start), none else.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { paramRuleHints } from '../../src/policy/param-hints.ts';
import { runCheck } from '../../src/cli/check.ts';

const UP = 'upstream: "http://127.0.0.1:9"';
function hintsFor(routes: string, rules: string, policy = ''): string[] {
  const text = `routes:\n${routes}\npolicy:\n  default: login\n${policy}  rules:\n${rules}\n`;
  return paramRuleHints(parseConfig(text, 'hints.yaml', { env: {}, persistDevSecrets: false }));
}

const WIKI_ADMIN = '    - { id: wiki-admin, match: { path: /doku.php, query: { do: admin } }, require: mfa }';
const WIKI_PARAMS = '    - { id: wiki-admin, match: { path: /doku.php, params: { do: admin } }, require: mfa }';
const ROOT = (extra = '') => `  - { path: /, ${UP}${extra} }`;
const DOKU = ', params_style: php, strip_headers: [X-DokuWiki-Do]';

const ROWS: Array<[string, string, string, string[], string?]> = [
  // [what, routes, rules, expected hint starts, policy extra]
  ['DokuWiki set up as the guide says: nothing to say', ROOT(DOKU), WIKI_PARAMS, []],
  ['the shipped phpMyAdmin shape: nothing to say', ROOT(', params_style: php'), '    - { id: db-export, match: { path: [/, /index.php], params: { route: "*export*" } }, require: mfa }', []],
  ['a query rule on a .php path without params_style php, nor strip_headers, read from the body too', ROOT(), WIKI_ADMIN,
    ['policy.rules[0] (wiki-admin) reads parameters on /doku.php, served by routes[0] (*/) with params_style: plain',
      'policy.rules[0] (wiki-admin) matches do in the query only, on /doku.php',
      'routes[0] (*/) serves DokuWiki (policy.rules[0] (wiki-admin) on /doku.php)']],
  ['params instead of query: no body hint', ROOT(DOKU), WIKI_PARAMS, []],
  ['a query rule for GET only: the body is no way in', ROOT(DOKU), '    - { id: wiki-admin, match: { path: /doku.php, methods: [GET, HEAD], query: { do: admin } }, require: mfa }', []],
  ['a query rule for POST: the body is', ROOT(DOKU), '    - { id: wiki-admin, match: { path: /doku.php, methods: [POST], query: { do: admin } }, require: mfa }',
    ['policy.rules[0] (wiki-admin) matches do in the query only']],
  ['query and params name the same parameter: covered', ROOT(DOKU), '    - { id: x, match: { path: /doku.php, query: { do: admin }, params: { do: admin } }, require: mfa }', []],
  ['a path that is not PHP: no PHP hint', ROOT(), '    - { id: api, match: { path: /api/export, query: { format: csv } }, require: mfa }', []],
  ['a rule without parameters: no hint', ROOT(), '    - { id: admin, match: { path: /admin.php }, require: mfa }', []],
  ['X-DokuWiki-Do spelled with _ in strip_headers counts', ROOT(', params_style: php, strip_headers: [x_dokuwiki_do]'), WIKI_PARAMS, []],
  ['the wiki under /wiki: the hint names that route, not /', `${ROOT(DOKU)}\n  - { path: /wiki, ${UP}, strip_prefix: true }`, '    - { id: wiki-admin, match: { path: /wiki/doku.php, params: { do: admin } }, require: mfa }',
    ['policy.rules[0] (wiki-admin) reads parameters on /wiki/doku.php, served by routes[1] (*/wiki)', 'routes[1] (*/wiki) serves DokuWiki']],
  ['a host-bound rule looks at that host\'s route only', `${ROOT()}\n  - { host: wiki.example.com, path: /, ${UP}${DOKU} }`, '    - { id: w, match: { host: wiki.example.com, path: /doku.php, params: { do: admin } }, require: mfa }', []],
  ['a rule for any host: every route that may serve it', `${ROOT(DOKU)}\n  - { host: wiki.example.com, path: /, ${UP} }`, WIKI_PARAMS,
    ['policy.rules[0] (wiki-admin) reads parameters on /doku.php, served by routes[1] (wiki.example.com/)', 'routes[1] (wiki.example.com/) serves DokuWiki']],
  ['a wildcard rule reaches a route mounted below it', `${ROOT(DOKU)}\n  - { path: /apps/db, ${UP} }`, '    - { id: db, match: { path: [/apps/**, /apps/db/index.php], params: { route: "*export*" } }, require: mfa }',
    ['policy.rules[0] (db) reads parameters on /apps/db/index.php, served by routes[1] (*/apps/db)']],
  ['two rules on one DokuWiki route: one strip_headers hint', ROOT(', params_style: php'), `${WIKI_PARAMS}\n    - { id: wiki-export, match: { path: /doku.php, params: { do: "export_*" } }, require: mfa }`,
    ['routes[0] (*/) serves DokuWiki (policy.rules[0] (wiki-admin)']],
  ['inspect_body_max 0 with a params rule', ROOT(DOKU), WIKI_PARAMS, ['policy.inspect_body_max is 0 bytes: on the paths of the params rules (wiki-admin) every body is decided as unread'], '  inspect_body_max: 0\n'],
  ['inspect_body_max tiny', ROOT(DOKU), WIKI_PARAMS, ['policy.inspect_body_max is 512 bytes: on the paths of the params rules (wiki-admin) a body over 512 bytes'], '  inspect_body_max: 512B\n'],
  ['inspect_body_max 8KiB is enough', ROOT(DOKU), WIKI_PARAMS, [], '  inspect_body_max: 8KiB\n'],
  ['inspect_body_max tiny but only query rules: no body is read', ROOT(DOKU), '    - { id: q, match: { path: /doku.php, methods: [GET], query: { do: admin } }, require: mfa }', [], '  inspect_body_max: 0\n'],
];

for (const [what, routes, rules, expected, policy] of ROWS) {
  t.test(what, async (t) => {
    const got = hintsFor(routes, rules, policy);
    t.equal(got.length, expected.length, `${expected.length} hint(s): ${JSON.stringify(got, null, 1)}`);
    for (const start of expected) t.ok(got.some((h) => h.startsWith(start)), `has: ${start}`);
  });
}

t.test('the hints say what to set', async (t) => {
  const [php, body, header] = hintsFor(ROOT(), WIKI_ADMIN);
  t.match(php, /PHP reads name\[key\]=… as name \(do\[x\]=… reaches the app as do\), which this rule does not see; set routes\[0\]\.params_style: php$/);
  // The example is the rule's own parameter: no DokuWiki on a phpMyAdmin rule.
  const [pma] = hintsFor(ROOT(), '    - { id: db-export, match: { path: [/, /index.php], params: { route: "*export*" } }, require: mfa }');
  t.match(pma, /^policy\.rules\[0\] \(db-export\) reads parameters on \/index\.php, .*PHP reads name\[key\]=… as name \(route\[x\]=… reaches the app as route\), which this rule does not see; set routes\[0\]\.params_style: php$/);
  t.notMatch(pma, /DokuWiki/);
  t.match(body, /\(\$_REQUEST\), where a query rule does not look; use params: \{ do: … \} if this app does$/);
  t.match(header, /DokuWiki also takes the action from an X-DokuWiki-Do header, which rules do not see; add X-DokuWiki-Do to routes\[0\]\.strip_headers$/);
});

t.test('gatehouse check prints them as hint lines (exit 0); the shipped legacy-app examples get none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-check-hints-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.yaml');
  writeFileSync(file, `routes:\n${ROOT()}\npolicy:\n  rules:\n${WIKI_ADMIN}\n`);
  for (const [config, hints] of [[file, 3], ['config/examples/dokuwiki.yaml', 0], ['config/examples/phpmyadmin.yaml', 0]] as const) {
    let out = '';
    const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: () => true }, now: () => new Date('2026-11-15T12:00:00Z') };
    t.equal(await runCheck(['--config', config], io), 0, `${config}: valid`);
    t.equal(out.match(/^hint: /gm)?.length ?? 0, hints, `${config}: ${hints} hint line(s)`);
  }
});
