import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillDevSecrets } from '../../src/config/dev-secrets.ts';
import { parseConfig } from '../../src/config/load.ts';

/** A loaded config with no secrets, its store in a fresh directory. */
function bare(): { config: Parameters<typeof fillDevSecrets>[0]; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-devsec-'));
  const config = parseConfig(`store: { kind: sqlite, path: ${dir}/gatehouse.db }\n`, 'x.yaml', { env: {}, generateDevSecrets: false });
  return { config, file: join(dir, 'dev-secrets.json') };
}

t.test('without generating, only the stored secrets are used; the others stay empty', async (t) => {
  const { config, file } = bare();
  t.equal(config.session.secret, '', 'nothing stored yet: nothing filled');
  writeFileSync(file, JSON.stringify({ audit_key: 'a'.repeat(48) }));
  const warnings: string[] = [];
  fillDevSecrets(config, warnings, true, false);
  t.equal(config.audit.key, 'a'.repeat(48));
  t.equal(config.session.secret, '');
  t.equal(config.factors.encryption_key, '');
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^audit\.key not set/);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { audit_key: 'a'.repeat(48) }, 'the file is unchanged');
});

t.test('a stored secret shorter than 32 characters is replaced; the others are kept', async (t) => {
  const { config, file } = bare();
  writeFileSync(file, JSON.stringify({ session_secret: 'short', encryption_key: 'e'.repeat(40), note: 'kept' }));
  fillDevSecrets(config, [], true, true);
  t.equal(config.session.secret.length, 48);
  t.equal(config.factors.encryption_key, 'e'.repeat(40));
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  t.same(stored, { session_secret: config.session.secret, encryption_key: 'e'.repeat(40), note: 'kept', audit_key: config.audit.key });
});

t.test('a secrets file that is not a JSON object is refused and left alone', async (t) => {
  for (const text of ['[]', 'null', '"x"']) {
    const { config, file } = bare();
    writeFileSync(file, text);
    t.throws(() => fillDevSecrets(config, [], true, true), { message: /not a JSON object/ }, text);
    t.equal(readFileSync(file, 'utf8'), text, `${text}: not overwritten`);
    t.equal(config.session.secret, '', `${text}: nothing filled`);
  }
});

t.test('unpersisted (gatehouse check), a fresh secret is what serve would store; a stored one is used', async (t) => {
  const { config, file } = bare();
  writeFileSync(file, JSON.stringify({ audit_key: 'a'.repeat(48) }));
  const warnings: string[] = [];
  fillDevSecrets(config, warnings, false, true);
  t.same(warnings, [
    `session.secret not set: serve would generate and store a development secret in ${file}; set GATEHOUSE_SESSION_SECRET in production`,
    `factors.encryption_key not set: serve would generate and store a development key in ${file}; set GATEHOUSE_ENCRYPTION_KEY in production`,
    `audit.key not set: using a generated development key stored in ${file}; set GATEHOUSE_AUDIT_KEY in production (gatehouse audit verify needs it)`,
  ]);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { audit_key: 'a'.repeat(48) }, 'the file is unchanged');
});
