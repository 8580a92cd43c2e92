// Several instances need one encryption key (README "Several instances"). Two
// real `gatehouse serve` processes share PostgreSQL with a config of the core
// keys (README "Configuration") plus factors.encryption_key: a TOTP enrolled on
// A passes a challenge on B. Without the key (or without session.secret)
// `serve` and `check` refuse to start and say how to set it. And a seed sealed
// under a key the instance does not have gives the user a "use another method"
// page, not a 503.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { createSecretBox } from '../../src/store/secret-box.ts';
import { pendingEnrollmentKey } from '../../src/factors/totp.ts';
import { Client, startTestGateway } from '../helpers/gateway.ts';
import { createPostgresSchema, requirePostgres } from '../helpers/services.ts';
import { TotpDevice, enrollTotpOverHttp } from '../helpers/totp.ts';
import { Browser, ENCRYPTION_KEY, SESSION_SECRET, runToExit, startInstance, writeUsers } from './instances.ts';

const PUBLIC = 'http://localhost:8080';
const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const pathOf = (location: string) => { const u = new URL(location, PUBLIC); return u.pathname + u.search; };

/** The core configuration shape (README "Configuration"), with optional secrets. */
function specConfig(o: { dir: string; name: string; usersPath: string; upstream: string; postgresUrl: string; secret?: string; encryptionKey?: string }): string {
  const config = {
    server: { listen: '127.0.0.1:0', public_url: PUBLIC, trusted_proxies: [], header_timeout: '10s' },
    routes: [{ path: '/', upstream: o.upstream }],
    identity: { source: 'file', file: { path: o.usersPath } },
    session: { ...(o.secret ? { secret: o.secret } : {}), max_age: '12h', idle_timeout: '30m', remember_device: '30d' },
    factors: {
      totp: { issuer: 'Example Portal' }, webauthn: { rp_name: 'Example Portal' }, email_otp: { ttl: '10m' }, recovery_codes: { count: 10 },
      ...(o.encryptionKey ? { encryption_key: o.encryptionKey } : {}),
    },
    policy: { default: 'mfa', rules: [{ id: 'static', match: { path: '/static/**' }, require: 'none' }] },
    rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31', max_deferrals: 3 },
    store: { kind: 'postgres', url: o.postgresUrl },
    shared_state: { kind: 'memory' },
    notifier: { kind: 'file', path: join(o.dir, `${o.name}-outbox.log`) },
    audit: { path: join(o.dir, `${o.name}-audit.log`) },
    headers: { prefix: 'X-Gatehouse-', jwt: true },
  };
  const path = join(o.dir, `${o.name}.yaml`);
  writeFileSync(path, stringify(config));
  return path;
}

const CLEAN_ENV = { GATEHOUSE_ENCRYPTION_KEY: undefined, GATEHOUSE_SESSION_SECRET: undefined };

if (!(await requirePostgres(t))) {
  t.plan(0, 'PostgreSQL not reachable (reason printed above)');
} else {
  t.test('two instances on one PostgreSQL with the same encryption key', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shared-key-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const postgresUrl = await createPostgresSchema(t);
    const portal = await startDemoPortal({ port: 0, host: '127.0.0.1' });
    t.teardown(() => portal.close());
    const common = { dir, usersPath: await writeUsers(dir), upstream: `http://127.0.0.1:${portal.port}`, postgresUrl };

    await t.test('without factors.encryption_key or session.secret, serve and check refuse to start', async (t) => {
      const cases = [
        { what: 'factors.encryption_key', config: specConfig({ ...common, name: 'nokey', secret: SESSION_SECRET }), env: 'GATEHOUSE_ENCRYPTION_KEY' },
        { what: 'session.secret', config: specConfig({ ...common, name: 'nosecret', encryptionKey: ENCRYPTION_KEY }), env: 'GATEHOUSE_SESSION_SECRET' },
      ];
      for (const c of cases) {
        for (const command of ['serve', 'check']) {
          const r = await runToExit([command, '--config', c.config], CLEAN_ENV);
          t.equal(r.code, 1, `${command} without ${c.what} exits 1`);
          t.match(r.output, `${c.what}: is required because store.kind is postgres`, `${command} names the key and why`);
          t.match(r.output, c.env, 'and says how to set it');
          t.notMatch(r.output, /gatehouse listening/, 'nothing was served');
        }
      }
    });

    await t.test('a TOTP enrolled on A passes a challenge on B', async (t) => {
      const configA = specConfig({ ...common, name: 'a', secret: SESSION_SECRET, encryptionKey: ENCRYPTION_KEY });
      const configB = specConfig({ ...common, name: 'b', secret: SESSION_SECRET, encryptionKey: ENCRYPTION_KEY });
      const A = await startInstance('a', configA, 0);
      t.teardown(() => A.stop());
      const B = await startInstance('b', configB, 0);
      t.teardown(() => B.stop());

      const onA = new Browser(PUBLIC, [A, B]);
      t.equal((await onA.signIn('a', 'alice', 'alice-test-pass', '/echo')).status, 303, 'alice signs in on A');
      const setup = await (await onA.get('a', '/.gatehouse/enroll?rd=%2Fecho&method=totp')).text();
      const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(setup)?.[1] ?? '';
      t.ok(secret, 'A shows the TOTP secret');
      const device = new TotpDevice(secret);
      const enrolled = await onA.post('a', '/.gatehouse/enroll', { csrf: csrfIn(setup), rd: '/echo', action: 'totp', code: await device.next() });
      t.equal(enrolled.status, 303, 'A enrolls the authenticator app');

      const onB = new Browser(PUBLIC, [A, B]);
      t.equal((await onB.signIn('b', 'alice', 'alice-test-pass', '/echo')).status, 303, 'alice signs in on B');
      const asked = await onB.get('b', '/echo');
      t.equal(asked.status, 302, 'B asks for the second factor');
      const challenge = await (await onB.get('b', `${pathOf(asked.headers.get('location')!)}&method=totp`)).text();
      t.match(challenge, /authenticator app/, 'B offers the authenticator app');
      const passed = await onB.post('b', '/.gatehouse/challenge', { csrf: csrfIn(challenge), rd: '/echo', method: 'totp', code: await device.next() });
      t.equal(passed.status, 303, 'B accepts the code of the seed A sealed (not a 503)');
      const echo = await onB.get('b', '/echo', { accept: 'application/json' });
      t.equal(echo.status, 200, 'alice reaches the app through B');
      t.notOk(B.logs.some((l) => /unknown key/.test(String(l.msg))), 'B logged no unknown-key error');
      // Both instances sign assertions with the one stored key, sealed with the shared key.
      const jwksA = await (await onA.get('a', '/.gatehouse/jwks.json')).json() as { keys: { kid: string }[] };
      const jwksB = await (await onB.get('b', '/.gatehouse/jwks.json')).json() as { keys: { kid: string }[] };
      t.same(jwksA.keys.map((k) => k.kid), jwksB.keys.map((k) => k.kid), 'one signing key for both');
    });
  });
}

t.test('a seed sealed under a key this instance lacks: "use another method", not a 503', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'mfa' }, rollout: { grace_until: '2099-12-31' } } });
  t.teardown(() => f.close());
  await enrollTotpOverHttp(f, 'bob', 'bob-test-pass');
  // The seed as another instance with another factors.encryption_key would have sealed it.
  const store = f.gw.services.store;
  const [totp] = (await store.listFactors('bob')).filter((x) => x.kind === 'totp');
  const foreign = createSecretBox(['a-different-encryption-key-0123456789-abcdef']);
  await store.updateFactor('bob', totp.id, { data: { ...totp.data, secret: foreign.seal(Buffer.from('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')) } });

  const c = new Client(f.url);
  await c.signIn('bob', 'bob-test-pass', '/echo');
  const page = await (await c.fetch('/.gatehouse/challenge?rd=%2Fecho&method=totp')).text();
  const r = await c.postForm('/.gatehouse/challenge', { csrf: csrfIn(page), rd: '/echo', method: 'totp', code: '123456' });
  t.equal(r.status, 200, 'not a 503');
  const html = await r.text();
  t.match(html, /This sign-in method cannot be used right now\. Choose another method\./, 'the user is told plainly');
  t.match(html, /href="[^"]*method=email"/, 'and offered another method (a code by email)');
  t.notMatch(html, /href="[^"]*method=totp"/, 'not the broken one again');
  const logged = f.logs.find((l) => l.level === 50 && /sealed secret uses unknown key/.test(String(l.msg)));
  t.ok(logged, 'the operator gets a clear log line');
  t.equal(logged?.key_id, foreign.currentKid, 'naming the key id');
  t.equal(await f.gw.services.shared.get('fail:mfa:u:bob'), null, 'not counted as a wrong code');
});

t.test('a TOTP setup begun under another encryption key: a fresh setup, not a 503', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('bob', 'bob-test-pass', '/');
  const setup = await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  // The pending seed as an instance with another factors.encryption_key would have sealed it.
  const foreign = createSecretBox(['a-different-encryption-key-0123456789-abcdef']);
  // bob's only session here: its registry id is the browser the setup is bound to.
  const [browser] = await f.gw.services.store.listSessions('bob', Date.now());
  await f.gw.services.shared.set(pendingEnrollmentKey('bob', browser.id), foreign.seal(Buffer.from('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')), 60_000);
  const r = await c.postForm('/.gatehouse/enroll', { csrf: csrfIn(setup), rd: '/', action: 'totp', code: '123456' });
  t.equal(r.status, 400, 'not a 503');
  t.match(await r.text(), /this is a new key\. Scan it again/, 'the user gets a new code to scan');
  t.ok(f.logs.some((l) => l.level === 50 && l.key_id === foreign.currentKid && /unknown key/.test(String(l.msg))), 'the operator gets the log line');
});
