import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, formatIssues, loadConfig, parseConfig, type ConfigIssue } from '../../src/config/load.ts';
import { pathPatternProblem } from '../../src/config/path-pattern-check.ts';
import type { Config } from '../../src/config/types.ts';

const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40), GATEHOUSE_AUDIT_KEY: 'a'.repeat(40) };

/** What server.instance_id defaults to: the host name, as the loader trims it. */
function hostnameId(): string {
  return hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'gatehouse';
}
const NOW = () => new Date('2026-11-15T12:00:00Z');

function issuesOf(text: string, env: NodeJS.ProcessEnv = SECRETS): ConfigIssue[] {
  try {
    parseConfig(text, 'g.yaml', { env, now: NOW, persistDevSecrets: false });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('the bundled config/gatehouse.yaml loads without issues', async (t) => {
  const c = loadConfig('config/gatehouse.yaml', { env: SECRETS, now: NOW });
  t.same(c.warnings, []);
  t.equal(c.source_path, resolve('config/gatehouse.yaml'));
  t.equal(c.server.listen, '127.0.0.1:8080');
  t.equal(c.server.public_url, 'http://localhost:8080');
  t.same(c.routes.map((r) => [r.path, r.upstream]), [['/', 'http://127.0.0.1:8081']]);
  t.same(c.identity, { source: 'file', file: { path: 'config/users.yaml' } });
  t.equal(c.policy.default, 'mfa');
  t.same(
    c.policy.rules.map((r) => [r.id, r.match.path, r.match.methods, r.require, r.max_age, r.factors, r.mode]),
    [
      ['static', ['/static/**'], undefined, 'none', undefined, undefined, 'enforce'],
      ['billing', ['/billing/**'], ['POST', 'PUT', 'PATCH', 'DELETE'], 'mfa', 300_000, ['webauthn', 'totp'], 'enforce'],
      ['export', ['/export/**'], undefined, 'mfa', 600_000, undefined, 'enforce'],
      ['api-keys', ['/settings/api-keys/**'], ['POST'], 'mfa', undefined, ['webauthn'], 'enforce'],
      ['reports-preview', ['/reports/**'], undefined, 'mfa', 60_000, undefined, 'report'],
    ],
  );
  t.same(c.rollout, { enforce_for: ['everyone'], grace_until: '2026-12-31', max_deferrals: 3 });
});

const DEFAULTS: Omit<Config, 'source_path' | 'warnings'> = {
  server: {
    listen: '127.0.0.1:8080',
    public_url: 'http://localhost:8080',
    trusted_proxies: [],
    metrics_allow: ['127.0.0.0/8', '::1/128'],
    header_timeout: 10_000,
    body_timeout: 10_000,
    keep_alive_timeout: 5_000,
    max_header_bytes: 16_384,
    max_header_count: 100,
    max_body_bytes: 1_073_741_824,
    shutdown_timeout: 10_000,
    workers: 1,
    log_level: 'info',
    instance_id: hostnameId(),
  },
  branding: { product_name: 'gatehouse' },
  ui: { languages: ['en'], default_language: 'en', time_zone: 'UTC', catalogs: {} },
  routes: [],
  identity: { source: 'file', file: { path: 'config/users.yaml' } },
  session: { secret: SECRETS.GATEHOUSE_SESSION_SECRET, cookie_name: 'gatehouse', max_age: 43_200_000, idle_timeout: 1_800_000, remember_device: 2_592_000_000 },
  factors: {
    encryption_key: SECRETS.GATEHOUSE_ENCRYPTION_KEY,
    totp: { issuer: 'gatehouse' },
    webauthn: { rp_name: 'gatehouse' },
    email_otp: { ttl: 600_000, length: 6 },
    recovery_codes: { count: 10 },
  },
  policy: { default: 'mfa', rules: [], stash_max_body: 1_048_576, stash_total_max: 67_108_864, inspect_body_max: 1_048_576, privileged_groups: ['admins'], exceptions: [] },
  rollout: { enforce_for: ['everyone'], max_deferrals: 3 },
  store: { kind: 'sqlite', path: 'data/gatehouse.db' },
  shared_state: { kind: 'memory' },
  notifier: { kind: 'file', path: 'data/outbox.log' },
  audit: {
    path: 'data/audit.log', max_bytes: 67_108_864, sync: 'group', key: SECRETS.GATEHOUSE_AUDIT_KEY,
    checkpoint: { lines: 1000, every: 300_000, email: false },
    forward: { queue_max: 268_435_456, retry_max: 30_000 },
  },
  headers: {
    prefix: 'X-Gatehouse-',
    jwt: true,
    names: {
      user: 'X-Gatehouse-User',
      email: 'X-Gatehouse-Email',
      groups: 'X-Gatehouse-Groups',
      auth_methods: 'X-Gatehouse-Auth-Methods',
      auth_time: 'X-Gatehouse-Auth-Time',
      assertion: 'X-Gatehouse-Assertion',
    },
  },
  risk: {
    enabled: false,
    signals: { new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60 },
    rules: [],
    relax_routine_below: 0,
    mode: 'enforce',
    risky_networks: [],
    remember_networks: 7_776_000_000,
    risky_cidrs: [],
    places: [],
  },
};

t.test('an empty file gets every default', async (t) => {
  for (const text of ['', '# only a comment\n', '{}\n']) {
    const c = parseConfig(text, 'empty.yaml', { env: SECRETS, now: NOW });
    t.strictSame({ ...c, source_path: undefined, warnings: undefined }, { ...DEFAULTS, source_path: undefined, warnings: undefined }, JSON.stringify(text));
    t.same(c.warnings, []);
  }
});

t.test('every key set: values converted and normalized', async (t) => {
  const c = loadConfig('test/fixtures/config/full.yaml', {
    env: { SESSION_SECRET: 'x'.repeat(32), ENC_KEY: 'y'.repeat(64), OIDC_SECRET: 'oidc-secret', AUDIT_KEY: 'z'.repeat(40) },
    now: NOW,
  });
  t.same(c.warnings, []);
  t.strictSame(c.server, {
    listen: '[::1]:9443',
    public_url: 'https://portal.example.com',
    trusted_proxies: ['10.0.0.0/8', '192.168.1.10/32', 'fd00::/8', '::1/128'],
    metrics_allow: ['10.9.0.0/16', 'fd00::1/128'],
    header_timeout: 5_000,
    body_timeout: 60_000,
    keep_alive_timeout: 2_000,
    max_header_bytes: 32_768,
    max_header_count: 50,
    max_body_bytes: 10_000_000,
    shutdown_timeout: 90_000,
    admin_listen: '127.0.0.1:9090',
    log_level: 'debug',
    instance_id: 'gw-eu-1',
    workers: 'auto',
  });
  t.strictSame(c.routes[1], {
    host: 'legacy.acme.test',
    path: '/crm',
    upstream: 'http://10.1.2.3:8080/crm',
    websocket: false,
    timeout: 120_000,
    case_insensitive: true,
    path_params: 'allow',
    preserve_host: true,
    method_override: 'evaluate',
    params_style: 'plain',
    strip_headers: [],
    strip_prefix: false,
    rewrite_location: [],
    assertion: false, // headers.jwt: false
  });
  t.strictSame(c.identity, {
    source: 'oidc',
    oidc: {
      issuer: 'https://idp.acme.test/realms/acme',
      client_id: 'gatehouse',
      client_secret: 'oidc-secret',
      scopes: ['openid', 'profile', 'email'],
      groups_claim: 'groups',
      username_claim: 'sub',
      trust_idp_mfa: ['hwk'],
    },
  });
  t.strictSame(c.session, { secret: 'x'.repeat(32), cookie_name: '__Host-gatehouse', max_age: 28_800_000, idle_timeout: 900_000, remember_device: 0 });
  t.strictSame(c.factors, {
    encryption_key: 'y'.repeat(64),
    totp: { issuer: 'ACME Portal' },
    webauthn: { rp_name: 'ACME Sign-in' },
    email_otp: { ttl: 300_000, length: 8 },
    sms_otp: { ttl: 180_000, length: 6 },
    recovery_codes: { count: 12 },
  });
  t.strictSame(c.policy.rules[0], {
    id: 'lan-only-admin',
    match: {
      host: 'legacy.acme.test',
      path: ['/admin', '/admin/**'],
      methods: ['GET', 'POST'],
      groups: ['admins'],
      not_groups: ['contractors'],
      networks: ['10.0.0.0/8', '10.9.9.9/32'],
    },
    require: 'mfa',
    max_age: 900_000,
    factors: ['webauthn', 'totp'],
    mode: 'enforce',
  });
  t.strictSame(c.policy.rules[1], { id: 'blocked', match: { path: ['/internal/*'] }, require: 'deny', mode: 'report' });
  t.equal(c.policy.stash_max_body, 262_144);
  t.same(c.policy.exceptions, [{ user: 'bob', rule: 'lan-only-admin', reason: 'key on order', owner: 'it@acme.test', expires: '2030-01-31' }]);
  t.same(c.rollout, { enforce_for: ['admins', 'finance'], grace_until: '2029-06-30', max_deferrals: 5 });
  t.same(c.store, { kind: 'postgres', url: 'postgres://gh:pw@db/gatehouse' });
  t.same(c.shared_state, { kind: 'redis', url: 'rediss://cache:6380/0', prefix: 'acme:' });
  t.same(c.notifier, {
    kind: 'webhook',
    url: 'https://hooks.acme.test/notify?token=abc',
    headers: { Authorization: 'Bearer xyz' },
    body_template: '{"to": "{{to}}"}',
  });
  t.strictSame(c.audit, {
    path: '/var/log/gatehouse/audit.log', max_bytes: 1_073_741_824, alert_email: 'security@acme.test',
    sync: 'always', key: 'z'.repeat(40),
    checkpoint: { lines: 500, every: 60_000, webhook: 'https://anchor.acme.test/checkpoints?src=gw', email: true },
    forward: {
      queue_max: 1_073_741_824, retry_max: 60_000,
      syslog: { address: 'siem.acme.test:6514', tls: true, ca_file: '/etc/ssl/siem-ca.pem', app_name: 'gatehouse-eu' },
      http: { url: 'https://hec.acme.test:8088/services/collector/event', format: 'splunk', headers: { Authorization: 'Splunk 0000-1111' } },
    },
  });
  t.same(c.headers, {
    prefix: 'Remote-',
    jwt: false,
    names: {
      user: 'Remote-User-Id',
      email: 'Remote-Email',
      groups: 'Remote-Groups',
      auth_methods: 'Remote-Auth-Methods',
      auth_time: 'Remote-Auth-Time',
      assertion: 'Remote-Assertion',
    },
  });
});

t.test('each error carries its key path and line', async (t) => {
  const cases: Array<{ name: string; yaml: string; want: Array<{ path: string; line: number | undefined; message: RegExp }> }> = [
    {
      name: 'typo in a key',
      yaml: '# comment\nserver:\n  public_url: http://localhost:8080\n  listn: 127.0.0.1:8080\n',
      want: [{ path: 'server.listn', line: 4, message: /^unknown key \(did you mean "listen"\?\)/ }],
    },
    {
      name: 'unknown top-level section',
      yaml: 'server: {}\npolicies:\n  default: mfa\n',
      want: [{ path: 'policies', line: 2, message: /unknown key \(did you mean "policy"\?\)/ }],
    },
    {
      name: 'wrong type',
      yaml: 'server:\n  max_header_count: lots\nroutes:\n  - path: /\n    upstream: http://a:1\n    websocket: yes\n',
      want: [
        { path: 'server.max_header_count', line: 2, message: /^must be a whole number$/ },
        { path: 'routes[0].websocket', line: 6, message: /^must be true or false$/ },
      ],
    },
    {
      name: 'bad CIDR',
      yaml: 'server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n    - not-an-ip\n',
      want: [
        { path: 'server.trusted_proxies[1]', line: 4, message: /"10\.0\.0\.0\/33" must be an IP address or CIDR/ },
        { path: 'server.trusted_proxies[2]', line: 5, message: /must be an IP address or CIDR/ },
      ],
    },
    {
      name: 'bad path patterns',
      yaml: 'policy:\n  rules:\n    - id: a\n      match:\n        path: /a/**/b\n      require: mfa\n    - id: b\n      match: { path: [/ok/*, "/x*"] }\n      require: none\n    - id: c\n      match: { path: /admin/../x }\n      require: none\n',
      want: [
        { path: 'policy.rules[0].match.path', line: 5, message: /\*\* is only allowed as the last segment/ },
        { path: 'policy.rules[1].match.path[1]', line: 8, message: /must be whole segments/ },
        { path: 'policy.rules[2].match.path', line: 11, message: /"\/admin\/\.\.\/x": dot segments/ },
      ],
    },
    {
      name: 'duplicate rule id',
      yaml: 'policy:\n  rules:\n    - id: billing\n      require: mfa\n    - id: other\n      require: none\n    - id: billing\n      require: login\n',
      want: [{ path: 'policy.rules[2].id', line: 7, message: /duplicate rule id "billing" \(also policy\.rules\[0\]\)/ }],
    },
    {
      name: 'bad upstream URL',
      yaml: 'routes:\n  - path: /\n    upstream: http://a:1\n  - path: /b\n    upstream: ftp://files.example.com\n  - path: /c\n    upstream: not a url\n',
      want: [
        { path: 'routes[1].upstream', line: 5, message: /must be an http\(s\) URL/ },
        { path: 'routes[2].upstream', line: 7, message: /must be an http\(s\) URL/ },
      ],
    },
    {
      name: 'YAML syntax error',
      yaml: 'server:\n  listen: 127.0.0.1:8080\n routes: []\n',
      want: [{ path: '', line: 3, message: /^YAML syntax: All mapping items must start at the same column/ }],
    },
    {
      name: 'YAML syntax error at the end of input',
      yaml: 'server:\n  listen: 127.0.0.1:8080\nroutes: "unterminated\n',
      want: [{ path: '', line: 3, message: /^YAML syntax: Missing closing "quote/ }],
    },
    {
      name: 'duplicate key',
      yaml: 'server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n',
      want: [{ path: '', line: 3, message: /YAML syntax: Map keys must be unique/ }],
    },
    {
      name: 'missing required key points at the parent',
      yaml: 'routes:\n  - path: /\n',
      want: [{ path: 'routes[0].upstream', line: 2, message: /^is required$/ }],
    },
    {
      name: 'kind-specific keys',
      yaml: 'store:\n  kind: sqlite\n  url: postgres://x\nnotifier:\n  kind: smtp\n',
      want: [
        { path: 'store.url', line: 3, message: /^only allowed when kind is postgres$/ },
        { path: 'notifier.url', line: 4, message: /^required when kind is smtp$/ },
        { path: 'notifier.from', line: 4, message: /^required when kind is smtp$/ },
      ],
    },
    {
      name: 'listen and public_url',
      yaml: 'server:\n  listen: 8080\n  public_url: https://portal.example.com/app?x=1\n',
      want: [
        { path: 'server.listen', line: 2, message: /must be a string/ },
        { path: 'server.public_url', line: 3, message: /must be an origin only/ },
      ],
    },
    {
      name: 'listen format',
      yaml: 'server:\n  listen: localhost\n  admin_listen: "127.0.0.1:99999"\n  metrics_listen: nope\n',
      want: [
        { path: 'server.listen', line: 2, message: /must be host:port/ },
        { path: 'server.admin_listen', line: 3, message: /must be host:port/ },
        { path: 'server.metrics_listen', line: 4, message: /must be host:port/ },
      ],
    },
    {
      name: 'metrics_allow CIDRs',
      yaml: 'server:\n  metrics_allow: [127.0.0.1, 10.0.0.0/33, prometheus.internal]\n',
      want: [
        { path: 'server.metrics_allow[1]', line: 2, message: /must be an IP address or CIDR/ },
        { path: 'server.metrics_allow[2]', line: 2, message: /must be an IP address or CIDR/ },
      ],
    },
    {
      name: 'durations and sizes',
      yaml: 'session:\n  max_age: 12\n  idle_timeout: 30 minutes\npolicy:\n  stash_max_body: 1 parsec\n',
      want: [
        { path: 'session.max_age', line: 2, message: /needs a unit/ },
        { path: 'session.idle_timeout', line: 3, message: /invalid duration/ },
        { path: 'policy.stash_max_body', line: 5, message: /invalid size/ },
      ],
    },
    {
      name: 'short secret and methods',
      yaml: 'session:\n  secret: too-short\npolicy:\n  rules:\n    - id: a\n      match: { methods: [get, "NOT A METHOD"] }\n      require: mfa\n',
      want: [
        { path: 'session.secret', line: 2, message: /at least 32 characters \(got 9\)/ },
        { path: 'policy.rules[0].match.methods[1]', line: 6, message: /is not an HTTP method/ },
      ],
    },
    {
      name: 'secret too short from the environment',
      yaml: 'server: {}\n',
      want: [{ path: 'session.secret', line: undefined, message: /\(from GATEHOUSE_SESSION_SECRET\) must be at least 32/ }],
    },
    {
      name: 'dates and exceptions',
      yaml: [
        'rollout:',
        '  grace_until: 2026-02-30',
        'policy:',
        '  rules:',
        '    - id: billing',
        '      require: mfa',
        '  exceptions:',
        '    - { user: bob, group: finance, rule: billing, reason: r, owner: o, expires: 2027-01-01 }',
        '    - { user: carol, rule: biling, reason: r, owner: o, expires: 01/02/2027 }',
        '',
      ].join('\n'),
      want: [
        { path: 'rollout.grace_until', line: 2, message: /"2026-02-30" is not a valid date/ },
        { path: 'policy.exceptions[0]', line: 8, message: /give exactly one of user or group/ },
        { path: 'policy.exceptions[1].expires', line: 9, message: /^must be a date written YYYY-MM-DD$/ },
        { path: 'policy.exceptions[1].rule', line: 9, message: /no rule with id "biling"/ },
      ],
    },
    {
      name: 'factor kinds and requirement',
      yaml: 'policy:\n  rules:\n    - id: a\n      require: always\n      factors: [totp, yubikey]\n',
      want: [
        { path: 'policy.rules[0].require', line: 4, message: /^must be one of: none, login, mfa, deny$/ },
        { path: 'policy.rules[0].factors[1]', line: 5, message: /must be one of: totp, webauthn, push, email, sms, recovery, phishing_resistant/ },
      ],
    },
    {
      name: '__Host- cookie on http',
      yaml: 'session:\n  cookie_name: __Host-gh\n',
      want: [{ path: 'session.cookie_name', line: 2, message: /needs an https server\.public_url/ }],
    },
    {
      name: 'duplicate route and bad route host',
      yaml: 'routes:\n  - { path: /a, upstream: "http://x:1" }\n  - { path: /a, upstream: "http://y:1" }\n  - { host: "*.example.com", path: /, upstream: "http://z:1" }\n',
      want: [
        { path: 'routes[1].path', line: 3, message: /routes\[0\] already has this path/ },
        { path: 'routes[2].host', line: 4, message: /must be a host name without port or wildcard/ },
      ],
    },
    {
      name: 'not a mapping',
      yaml: '- just\n- a list\n',
      want: [{ path: '', line: 1, message: /must be a YAML mapping/ }],
    },
  ];
  for (const c of cases) {
    const env = c.name.includes('from the environment') ? { ...SECRETS, GATEHOUSE_SESSION_SECRET: 'short' } : SECRETS;
    const issues = issuesOf(c.yaml, env);
    t.equal(issues.length, c.want.length, `${c.name}: issue count (${JSON.stringify(issues)})`);
    t.match(issues, c.want, c.name);
    for (const w of c.want) t.ok(issues.some((i) => i.path === w.path && i.line === w.line), `${c.name}: ${w.path} at line ${w.line}`);
  }
});

t.test('formatIssues and ConfigError message', async (t) => {
  const issues: ConfigIssue[] = [
    { path: 'routes[0].upstream', line: 12, message: 'must be an http(s) URL' },
    { path: '', message: 'cannot read the config file: ENOENT' },
  ];
  t.equal(
    formatIssues('config/gatehouse.yaml', issues),
    'config/gatehouse.yaml:12 routes[0].upstream: must be an http(s) URL\nconfig/gatehouse.yaml: cannot read the config file: ENOENT',
  );
  t.throws(() => loadConfig('/nonexistent/gatehouse.yaml'), {
    name: 'ConfigError',
    issues: [{ path: '', message: 'cannot read the config file: ENOENT' }],
  });
  const err = (() => { try { parseConfig('routes: [{ path: /, upstream: x }]\n', 'c.yaml', { env: SECRETS }); } catch (e) { return e as ConfigError; } })();
  t.equal(err?.message, 'c.yaml:1 routes[0].upstream: "x" must be an http(s) URL');
});

t.test('path patterns', async (t) => {
  for (const ok of ['/', '/a', '/a/b', '/a/', '/a/*', '/a/*/c', '/a/**', '/**', '/*', '/a.b/c-d_e~f', '/%7Euser']) {
    t.equal(pathPatternProblem(ok), undefined, ok);
  }
  for (const bad of ['a/b', '', '/a//b', '/a/**/b', '/a*', '/a/b*c', '/***', '/a?x=1', '/a#f', '/a\tb', '/admin/../x', '/a/./b', '/..']) {
    t.type(pathPatternProblem(bad), 'string', JSON.stringify(bad));
  }
});

t.test('policy exceptions: expired ones dropped, near ones warned', async (t) => {
  const yaml = [
    'policy:',
    '  rules: [{ id: billing, require: mfa }]',
    '  exceptions:',
    '    - { user: old, rule: billing, reason: r, owner: o, expires: 2026-11-14 }',
    '    - { user: today, rule: billing, reason: r, owner: o, expires: 2026-11-15 }',
    '    - { group: soon, rule: billing, reason: r, owner: o, expires: 2026-11-28 }',
    '    - { user: later, rule: billing, reason: r, owner: o, expires: 2026-12-31 }',
    '',
  ].join('\n');
  const c = parseConfig(yaml, 'x.yaml', { env: SECRETS, now: NOW });
  t.same(c.policy.exceptions.map((e) => e.user ?? e.group), ['today', 'soon', 'later'], 'an exception lasts through its expiry date');
  t.same(c.warnings, [
    'policy.exceptions[0] (user old, rule billing) expired on 2026-11-14: ignored',
    'policy.exceptions[1] (user today, rule billing) expires on 2026-11-15, within 14 days',
    'policy.exceptions[2] (group soon, rule billing) expires on 2026-11-28, within 14 days',
  ]);
});

t.test('development secrets are generated once and persisted 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-dev-'));
  const yaml = `store: { kind: sqlite, path: ${dir}/db/gatehouse.db }\n`;
  const first = parseConfig(yaml, 'x.yaml', { env: {} });
  const file = join(dir, 'db', 'dev-secrets.json');
  t.equal(first.session.secret.length, 48);
  t.equal(first.factors.encryption_key.length, 48);
  t.not(first.session.secret, first.factors.encryption_key);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(first.audit.key.length, 48);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { session_secret: first.session.secret, encryption_key: first.factors.encryption_key, audit_key: first.audit.key });
  t.same(first.warnings, [
    `session.secret not set: using a generated development secret stored in ${file}; set GATEHOUSE_SESSION_SECRET in production`,
    `factors.encryption_key not set: using a generated development key stored in ${file}; set GATEHOUSE_ENCRYPTION_KEY in production`,
    `audit.key not set: using a generated development key stored in ${file}; set GATEHOUSE_AUDIT_KEY in production (gatehouse audit verify needs it)`,
  ]);
  const second = parseConfig(yaml, 'x.yaml', { env: {} });
  t.equal(second.session.secret, first.session.secret, 'a restart keeps the secret');
  t.equal(second.factors.encryption_key, first.factors.encryption_key);

  t.equal(second.audit.key, first.audit.key);

  const withKey = parseConfig(yaml, 'x.yaml', { env: { GATEHOUSE_ENCRYPTION_KEY: 'e'.repeat(32), GATEHOUSE_AUDIT_KEY: 'a'.repeat(32) } });
  t.equal(withKey.factors.encryption_key, 'e'.repeat(32));
  t.equal(withKey.warnings.length, 1, 'only the missing secret is warned about');

  const noPersist = mkdtempSync(join(tmpdir(), 'gh-dev-'));
  parseConfig(`store: { kind: sqlite, path: ${noPersist}/gatehouse.db }\n`, 'x.yaml', { env: {}, persistDevSecrets: false });
  t.throws(() => statSync(join(noPersist, 'dev-secrets.json')), { code: 'ENOENT' }, 'persistDevSecrets: false writes nothing');

  writeFileSync(file, '{ broken');
  t.throws(() => parseConfig(yaml, 'x.yaml', { env: {} }), { name: 'ConfigError', message: /dev-secrets\.json/ });
  t.equal(readFileSync(file, 'utf8'), '{ broken', 'a corrupt secrets file is never overwritten');
});

t.test('the audit key once instances share a postgres store or redis: never generated; derived from the encryption key when absent', async (t) => {
  const both = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40) };
  for (const yaml of ['store: { kind: postgres, url: "postgres://db/gh" }\n', 'shared_state: { kind: redis, url: "redis://r:6379" }\n']) {
    const derived = parseConfig(yaml, 'x.yaml', { env: both, persistDevSecrets: false });
    t.ok(derived, `${yaml}: the encryption key is enough`);
    t.ok(derived.audit.key.length >= 32 && derived.audit.key !== both.GATEHOUSE_ENCRYPTION_KEY, 'a key derived from, not equal to, the encryption key');
    t.equal(parseConfig(yaml, 'y.yaml', { env: both, persistDevSecrets: false }).audit.key, derived.audit.key, 'the same on every instance');
    t.notSame(parseConfig(yaml, 'y.yaml', { env: { ...both, GATEHOUSE_ENCRYPTION_KEY: 'm'.repeat(40) }, persistDevSecrets: false }).audit.key, derived.audit.key, 'another encryption key, another audit key');
    t.match(derived.warnings, [/audit\.key not set: .*derived from factors\.encryption_key/], 'and a warning suggests a separate key');
    t.match(issuesOf(yaml, { GATEHOUSE_SESSION_SECRET: 's'.repeat(40) }), [{ path: 'factors.encryption_key' }, { path: 'audit.key', message: /is required because (store\.kind is postgres|shared_state\.kind is redis).*GATEHOUSE_AUDIT_KEY.*, or set factors\.encryption_key, from which it is derived$/ }], `${yaml}: without either key, both are named, and the audit key's error says the encryption key is enough`);
    t.equal(parseConfig(yaml, 'x.yaml', { env: { ...both, GATEHOUSE_AUDIT_KEY: 'a'.repeat(32) } }).audit.key, 'a'.repeat(32), 'from the environment');
  }
  t.match(issuesOf('audit: { key: short }\n'), [{ path: 'audit.key', message: /at least 32 characters/ }]);
  t.match(issuesOf('audit: { sync: sometimes }\n'), [{ path: 'audit.sync' }]);
  t.match(issuesOf('audit: { checkpoint: { email: true } }\n'), [{ path: 'audit.checkpoint.email', message: /alert_email/ }]);
  t.match(issuesOf('audit: { forward: { syslog: { address: "siem" } } }\n'), [{ path: 'audit.forward.syslog.address' }]);
  t.match(issuesOf('audit: { forward: { http: { url: "ftp://x" } } }\n'), [{ path: 'audit.forward.http.url' }]);
  t.match(issuesOf('server: { instance_id: "a b" }\n'), [{ path: 'server.instance_id' }]);
});

t.test('several instances (postgres store or redis shared state): both secrets are required, never generated', async (t) => {
  for (const yaml of ['store: { kind: postgres, url: "postgres://db/gh" }\n', 'shared_state: { kind: redis, url: "redis://cache:6379" }\n']) {
    const why = yaml.startsWith('store') ? 'store.kind is postgres' : 'shared_state.kind is redis';
    t.match(issuesOf(yaml, {}), [
      { path: 'session.secret', message: `is required because ${why}` },
      { path: 'factors.encryption_key', message: `is required because ${why}` },
      { path: 'audit.key', message: `is required because ${why}` },
    ], `${why}: every missing secret is an error`);
    const [only] = issuesOf(yaml, { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_AUDIT_KEY: 'a'.repeat(40) });
    t.match(only, { path: 'factors.encryption_key', message: /GATEHOUSE_ENCRYPTION_KEY.*openssl rand/ }, 'the message says how to set it');
    t.doesNotThrow(() => parseConfig(yaml, 'g.yaml', { env: SECRETS, now: NOW, persistDevSecrets: false }), 'with both set it loads');
  }
});

t.test('identity.oidc.username_claim: sub by default; another claim is warned about', async (t) => {
  const oidc = (extra: string) => `identity: { source: oidc, oidc: { issuer: "https://idp.example.com", client_id: gh${extra} } }\n`;
  const byDefault = parseConfig(oidc(''), 'g.yaml', { env: SECRETS, now: NOW, persistDevSecrets: false });
  t.equal(byDefault.identity.oidc?.username_claim, 'sub');
  t.notOk(byDefault.warnings.some((w) => w.includes('username_claim')), 'no warning for sub');
  for (const claim of ['preferred_username', 'email']) {
    const c = parseConfig(oidc(`, username_claim: ${claim}`), 'g.yaml', { env: SECRETS, now: NOW, persistDevSecrets: false });
    t.equal(c.identity.oidc?.username_claim, claim);
    t.ok(c.warnings.some((w) => w.startsWith(`identity.oidc.username_claim is ${claim}: users may be able to change ${claim} at the identity provider`)), `${claim} is warned about`);
  }
});

t.test('identity sections that do not match the source are warned about', async (t) => {
  const c = parseConfig('identity:\n  source: file\n  oidc: { issuer: https://idp.example.com, client_id: x }\n', 'x.yaml', { env: SECRETS });
  t.same(c.warnings, ['identity.oidc is ignored because identity.source is file']);
  t.match(issuesOf('identity:\n  source: oidc\n'), [{ path: 'identity.oidc', line: 1, message: 'required when source is oidc' }]);
  t.match(issuesOf('identity:\n  source: oidc\n  oidc: { issuer: http://idp.example.com, client_id: x }\n'), [
    { path: 'identity.oidc.issuer', line: 3, message: /must use https/ },
  ]);
});

t.test('server.metrics_listen is read as admin_listen, with a warning', async (t) => {
  const old = parseConfig('server:\n  metrics_listen: 127.0.0.1:9090\n', 'x.yaml', { env: SECRETS });
  t.equal(old.server.admin_listen, '127.0.0.1:9090');
  t.same(old.warnings, ['server.metrics_listen is now called server.admin_listen (it also serves healthz and readyz): rename it']);
  const both = parseConfig('server:\n  metrics_listen: 127.0.0.1:9090\n  admin_listen: 127.0.0.1:9191\n', 'x.yaml', { env: SECRETS });
  t.equal(both.server.admin_listen, '127.0.0.1:9191');
  t.same(both.warnings, ['server.metrics_listen is ignored because server.admin_listen is set']);
});

t.test('policy.rules[].rollout: follow, or absent', async (t) => {
  const c = parseConfig('policy:\n  rules:\n    - id: a\n      require: mfa\n      rollout: follow\n    - id: b\n      require: mfa\n', 'x.yaml', { env: SECRETS, now: NOW });
  t.equal(c.policy.rules[0].rollout, 'follow');
  t.equal(c.policy.rules[1].rollout, undefined, 'absent: the rule binds every user');
  t.match(issuesOf('policy:\n  rules:\n    - id: a\n      require: mfa\n      rollout: skip\n'), [{ path: 'policy.rules[0].rollout', line: 5 }]);
});

t.test('routes[].method_override: evaluate (default), reject or pass', async (t) => {
  const c = parseConfig('routes:\n  - { path: /, upstream: "http://127.0.0.1:9" }\n  - { path: /api, upstream: "http://127.0.0.1:9", method_override: reject }\n', 'x.yaml', { env: SECRETS, now: NOW });
  t.same(c.routes.map((r) => r.method_override), ['evaluate', 'reject']);
  t.match(issuesOf('routes:\n  - { path: /, upstream: "http://127.0.0.1:9", method_override: maybe }\n'), [{ path: 'routes[0].method_override' }]);
});
