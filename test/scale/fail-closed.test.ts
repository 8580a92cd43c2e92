// "Fail closed" (README "Security model") with the real backends taken away
// under running gateway processes: a private redis-server (the machine's shared
// one must not be stopped) is killed and restarted, and PostgreSQL is reached
// through a TCP forwarder that is cut and restored. While a backend is down
// every request that needs it gets the 503 page, readyz says 503, and nothing
// the policy would have challenged reaches the app; when it is back, the
// gateway recovers by itself.

import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { createPostgresSchema, POSTGRES_URL, requirePostgres } from '../helpers/services.ts';
import {
  Browser, haveBinary, privateRedis, randomPrefix, readyz, REDIS_SERVER_BIN, startInstance, tcpForwarder, waitFor, writeInstanceConfig, writeUsers, LB_URL } from './instances.ts';

const POLICY = {
  default: 'login',
  rules: [
    { id: 'public', match: { path: '/echo/public/**' }, require: 'none' },
    { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
  ],
};

function redisAvailable(): boolean {
  if (haveBinary(REDIS_SERVER_BIN)) return true;
  const reason = `redis-server is not installed at ${REDIS_SERVER_BIN} (apt-get install redis-server, or set GATEHOUSE_TEST_REDIS_SERVER)`;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: fail-closed tests must run in CI)`);
  const banner = `\n${'!'.repeat(78)}\n!! SKIPPING fail-closed tests: ${reason}\n${'!'.repeat(78)}\n`;
  process.stderr.write(banner);
  t.comment(banner);
  return false;
}

async function authz(port: number, cookie: string | undefined, uri: string, method = 'GET'): Promise<number> {
  const r = await request(`http://127.0.0.1:${port}/.gatehouse/authz`, {
    headers: { accept: 'application/json', 'x-forwarded-uri': uri, 'x-forwarded-method': method, ...(cookie ? { cookie } : {}) },
  });
  await r.body.text();
  return r.statusCode;
}

if (!(await requirePostgres(t)) || !redisAvailable()) {
  t.plan(0, 'PostgreSQL or redis-server not available (reason printed above)');
} else {
  t.test('backends down: fail closed with the 503 page; back up: recover by themselves', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-failclosed-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const schemaUrl = new URL(await createPostgresSchema(t));
    const pgLink = await tcpForwarder({ host: schemaUrl.hostname, port: Number(schemaUrl.port || 5432) });
    t.teardown(() => pgLink.close());
    schemaUrl.host = `127.0.0.1:${pgLink.port}`;
    const redis = await privateRedis(dir);
    t.teardown(() => redis.stop());
    const portal = await startDemoPortal({ port: 0, host: '127.0.0.1' });
    t.teardown(() => portal.close());
    const usersPath = await writeUsers(dir);
    const publicUrl = LB_URL; // one public origin for both, as behind a load balancer
    const common = {
      publicUrl, usersPath, upstream: `http://127.0.0.1:${portal.port}`, postgresUrl: schemaUrl.toString(),
      redisUrl: redis.url, redisPrefix: randomPrefix(), policy: POLICY, trustedProxies: ['127.0.0.1/32'],
    };
    const A = await startInstance('a', writeInstanceConfig(dir, 'a', { ...common, port: 0 }), 0);
    t.teardown(() => A.stop());
    const B = await startInstance('b', writeInstanceConfig(dir, 'b', { ...common, port: 0 }), 0);
    t.teardown(() => B.stop());
    t.comment(`PostgreSQL ${POSTGRES_URL.replace(/\/\/[^@]*@/, '//')} via forwarder :${pgLink.port}; private redis :${redis.port}`);

    // warm: signed in on A (A has the session cached); cold: signed in on B, never seen by A.
    const warm = new Browser(publicUrl, [A, B]);
    t.equal((await warm.signIn('a', 'alice', 'alice-test-pass', '/echo')).status, 303, 'warm session signed in on A');
    const cold = new Browser(publicUrl, [A, B]);
    t.equal((await cold.signIn('b', 'alice', 'alice-test-pass', '/echo')).status, 303, 'cold session signed in on B');
    const coldCookie = cold.cookieHeader();
    const loginCsrf = new Browser(publicUrl, [A, B]);
    const csrf = await loginCsrf.csrf('a', '/.gatehouse/login');

    /** The checks that hold whenever a backend is down. */
    async function whileDown(t: Test, what: string, signedIn: Browser): Promise<void> {
      const seen = portal.received.length;
      t.equal(await readyz(A.port), 503, `${what}: readyz is 503`);
      const post = await signedIn.post('a', '/billing/pay', { amount: '1.00', payee: 'Nobody' }, { referer: `${publicUrl}/billing` });
      t.not(post.status, 200, `${what}: a POST that needs a step-up is not let through (${post.status})`);
      t.ok(post.status === 503 || post.status === 302, `${what}: it gets the 503 page, or the challenge when the backend it needs is up (${post.status})`);
      const signIn = await loginCsrf.post('a', '/.gatehouse/login', { csrf, username: 'bob', password: 'bob-test-pass', rd: '/' });
      t.equal(signIn.status, 503, `${what}: sign-in gets the 503 page`);
      t.match(await signIn.text(), /503|unavailable/i);
      const anon = await new Browser(publicUrl, [A]).get('a', '/echo');
      t.equal(anon.status, 302, `${what}: an anonymous request is still sent to sign in, not let through`);
      t.not(await authz(A.port, coldCookie, '/billing/pay', 'POST'), 200, `${what}: forward-auth never says 200 for a step-up`);
      t.not(await authz(A.port, undefined, '/echo'), 200, `${what}: nor for an anonymous request`);
      t.notOk(portal.received.slice(seen).some((q) => q.method === 'POST' || q.url.startsWith('/billing')), `${what}: nothing challenged reached the app`);
    }

    await t.test('Redis down', async (t) => {
      await redis.stop();
      const ms = await waitFor('readyz 503 after Redis stopped', async () => (await readyz(A.port)) === 503, 10_000);
      t.comment(`readyz turned 503 ${ms} ms after Redis stopped`);
      const coldGet = await cold.get('a', '/echo');
      t.equal(coldGet.status, 503, 'a session A has not seen (revocation unknown) gets the 503 page');
      t.match(await coldGet.text(), /503|unavailable/i);
      t.equal(await authz(A.port, coldCookie, '/echo'), 403,
        'forward-auth with a session it cannot check answers 403 (nginx turns a 503 into a 500)');
      await whileDown(t, 'Redis down', warm);
      const warmGet = await warm.get('a', '/echo');
      t.comment(`a session A has cached, on a login-only page, while Redis is down: ${warmGet.status}`);
    });

    await t.test('Redis back: recovers by itself', async (t) => {
      await redis.start();
      const ms = await waitFor('readyz 200 after Redis restarted', async () => (await readyz(A.port)) === 200 && (await readyz(B.port)) === 200, 20_000);
      t.comment(`readyz back to 200 on both ${ms} ms after Redis restarted`);
      t.equal((await cold.get('a', '/echo')).status, 200, 'the cold session works on A');
      const b = new Browser(publicUrl, [A, B]);
      t.equal((await b.signIn('a', 'bob', 'bob-test-pass', '/echo')).status, 303, 'sign-in works');
      const html = await (await warm.get('b', '/.gatehouse/logout')).text();
      const csrfOut = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const cookie = warm.cookieHeader();
      t.equal((await warm.post('b', '/.gatehouse/logout', { csrf: csrfOut })).status, 200, 'logout on B after the outage');
      const after = await new Browser(publicUrl, [A]).get('a', '/echo', { cookie });
      t.equal(after.status, 302, 'A honours it (the revocation channel was resubscribed)');
    });

    await t.test('PostgreSQL cut', async (t) => {
      const again = new Browser(publicUrl, [A, B]);
      t.equal((await again.signIn('a', 'alice', 'alice-test-pass', '/echo')).status, 303);
      await pgLink.cut();
      const ms = await waitFor('readyz 503 after PostgreSQL cut', async () => (await readyz(A.port)) === 503, 10_000);
      t.comment(`readyz turned 503 ${ms} ms after the PostgreSQL link was cut`);
      await whileDown(t, 'PostgreSQL cut', again);
      const challenge = await again.get('a', '/.gatehouse/challenge?rd=%2Fbilling');
      t.equal(challenge.status, 503, 'the challenge page (needs the factor store) gets the 503 page');
    });

    await t.test('PostgreSQL back: recovers by itself', async (t) => {
      await pgLink.restore();
      const ms = await waitFor('readyz 200 after PostgreSQL restored', async () => (await readyz(A.port)) === 200, 20_000);
      t.comment(`readyz back to 200 ${ms} ms after the PostgreSQL link was restored`);
      const b = new Browser(publicUrl, [A, B]);
      t.equal((await b.signIn('a', 'bob', 'bob-test-pass', '/echo')).status, 303, 'sign-in works');
      t.equal((await b.get('b', '/echo')).status, 200, 'and the session works on B');
    });
  });
}
