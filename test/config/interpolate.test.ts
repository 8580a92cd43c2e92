import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolateString } from '../../src/config/interpolate.ts';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

// Secrets from the environment so no dev-secrets.json is written by these tests.
const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40), GATEHOUSE_AUDIT_KEY: 'a'.repeat(40) };

function issuesOf(fn: () => unknown): ConfigError['issues'] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('interpolateString', async (t) => {
  const env = { HOST: 'portal.example.com', EMPTY: '', PORT: '9090' };
  const ok: Array<[string, string]> = [
    ['${HOST}', 'portal.example.com'],
    ['https://${HOST}:${PORT}/x', 'https://portal.example.com:9090/x'],
    ['${UNSET:-fallback}', 'fallback'],
    ['${HOST:-fallback}', 'portal.example.com'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${UNSET:-}', ''],
    ['${UNSET:-a:-b}', 'a:-b'],
    ['$${HOST}', '${HOST}'],
    ['cost: $5 and $${literal}', 'cost: $5 and ${literal}'],
    ['no references', 'no references'],
  ];
  for (const [input, out] of ok) t.equal(interpolateString(input, env), out, input);
  t.throws(() => interpolateString('${UNSET}', env), { message: /environment variable UNSET is not set/ });
  t.throws(() => interpolateString('${not valid}', env), { message: /invalid reference/ });
  t.throws(() => interpolateString('${}', env), { message: /invalid reference/ });
});

t.test('interpolation in a config file', async (t) => {
  const text = [
    'server:',
    '  listen: ${LISTEN_HOST:-127.0.0.1}:${PORT}',
    '  max_header_count: ${COUNT}',
    '  log_level: "${LEVEL:-warn}"',
    'branding:',
    "  product_name: 'Pay $${USD}'",
    '  support_contact: "${COUNT}"',
    '',
  ].join('\n');
  const c = parseConfig(text, 'x.yaml', { env: { ...SECRETS, PORT: '9000', COUNT: '50' }, persistDevSecrets: false });
  t.equal(c.server.listen, '127.0.0.1:9000');
  t.equal(c.server.max_header_count, 50, 'an unquoted whole reference that reads as a number becomes one');
  t.equal(c.server.log_level, 'warn');
  t.equal(c.branding.product_name, 'Pay ${USD}', '$${ escapes a literal');
  t.equal(c.branding.support_contact, '50', 'a quoted value stays a string');

  const issues = issuesOf(() => parseConfig(text, 'x.yaml', { env: { ...SECRETS, COUNT: '50' } }));
  t.same(issues, [{ path: 'server.listen', line: 2, message: 'environment variable PORT is not set (write ${PORT:-default} to give a default)' }]);
});

t.test('environment values cannot inject YAML structure', async (t) => {
  const c = parseConfig('branding:\n  product_name: ${NAME}\n', 'x.yaml', {
    env: { ...SECRETS, NAME: 'x\nserver: { listen: "0.0.0.0:1" }' },
    persistDevSecrets: false,
  });
  t.equal(c.branding.product_name, 'x\nserver: { listen: "0.0.0.0:1" }');
  t.equal(c.server.listen, '127.0.0.1:8080');
});

t.test('*_file secrets', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-secrets-'));
  const secretFile = join(dir, 'session');
  writeFileSync(secretFile, `${'a'.repeat(40)}\n`);
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, 'b'.repeat(48));
  const pgFile = join(dir, 'pg');
  writeFileSync(pgFile, 'postgres://gh:pw@db.internal/gatehouse\n');
  const auditKeyFile = join(dir, 'audit');
  writeFileSync(auditKeyFile, `${'c'.repeat(40)}\n`);
  const hecFile = join(dir, 'hec');
  writeFileSync(hecFile, 'https://splunk.internal:8088/services/collector?token=t0k3n\n');
  const hookFile = join(dir, 'hook');
  writeFileSync(hookFile, 'https://hooks.internal/checkpoints/s3cr3t\n');

  const c = parseConfig(
    [
      'session:',
      `  secret_file: ${secretFile}`,
      'factors:',
      '  encryption_key_file: ${KEY_FILE}',
      'store:',
      '  kind: postgres',
      `  url_file: ${pgFile}`,
      'audit:',
      `  key_file: ${auditKeyFile}`,
      '  checkpoint:',
      `    webhook_file: ${hookFile}`,
      '  forward:',
      '    http:',
      `      url_file: ${hecFile}`,
      '      format: splunk',
      '',
    ].join('\n'),
    'x.yaml',
    { env: { KEY_FILE: keyFile } },
  );
  t.equal(c.session.secret, 'a'.repeat(40), 'read and trimmed');
  t.equal(c.factors.encryption_key, 'b'.repeat(48), 'the path itself may come from the environment');
  t.same(c.store, { kind: 'postgres', url: 'postgres://gh:pw@db.internal/gatehouse' });
  t.equal(c.audit.key, 'c'.repeat(40), 'audit.key_file');
  t.equal(c.audit.forward?.http?.url, 'https://splunk.internal:8088/services/collector?token=t0k3n', 'audit.forward.http.url_file');
  t.equal(c.audit.checkpoint.webhook, 'https://hooks.internal/checkpoints/s3cr3t', 'audit.checkpoint.webhook_file');
  t.same(c.warnings, []);

  const both = issuesOf(() =>
    parseConfig(`session:\n  secret: ${'c'.repeat(40)}\n  secret_file: ${secretFile}\n`, 'x.yaml', { env: SECRETS }),
  );
  t.same(both, [{ path: 'session.secret_file', line: 3, message: 'give either session.secret or session.secret_file, not both' }]);

  const missing = issuesOf(() =>
    parseConfig('identity:\n  source: oidc\n  oidc:\n    issuer: https://idp.example.com\n    client_id: gh\n    client_secret_file: /nonexistent/secret\n', 'x.yaml', { env: SECRETS }),
  );
  t.same(missing, [{ path: 'identity.oidc.client_secret_file', line: 6, message: 'cannot read /nonexistent/secret: ENOENT' }]);

  const empty = join(dir, 'empty');
  writeFileSync(empty, '  \n');
  const emptyIssues = issuesOf(() => parseConfig(`session:\n  secret_file: ${empty}\n`, 'x.yaml', { env: SECRETS }));
  t.match(emptyIssues, [{ path: 'session.secret_file', line: 2, message: /is empty/ }]);

  const notSecret = issuesOf(() => parseConfig('audit:\n  path_file: /etc/x\n', 'x.yaml', { env: SECRETS }));
  t.match(notSecret, [{ path: 'audit.path_file', line: 2, message: /unknown key/ }], 'only secret keys take _file');

  const injected = parseConfig(`session:\n  secret_file: ${secretFile}\n`, 'x.yaml', {
    env: SECRETS,
    readFile: (p) => (p === secretFile ? 'z'.repeat(33) : ''),
  });
  t.equal(injected.session.secret, 'z'.repeat(33), 'readFile option is used for secrets');
});
