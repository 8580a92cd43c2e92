// A logout is honoured by every instance (README "Several instances"), even
// across a network partition. Instance B reaches Redis through a link the test cuts;
// while it is cut, alice signs out on A (A's Redis is fine, so the revocation
// is written and published, and B's subscriber misses the message). Once the
// link heals, B must refuse the old cookie, which it had cached before.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { createPostgresSchema, REDIS_URL, requirePostgres, requireRedis } from '../helpers/services.ts';
import { Browser, dropRedisPrefix, randomPrefix, readyz, startInstance, tcpForwarder, waitFor, writeInstanceConfig, writeUsers, LB_URL } from './instances.ts';

if (!(await requirePostgres(t)) || !(await requireRedis(t))) {
  t.plan(0, 'PostgreSQL or Redis not reachable (reason printed above)');
} else {
  t.test('a revocation published while B was cut off from Redis is honoured once the link heals', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-partition-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const postgresUrl = await createPostgresSchema(t);
    const redisPrefix = randomPrefix();
    t.teardown(() => dropRedisPrefix(REDIS_URL, redisPrefix));
    const redisUrl = new URL(REDIS_URL);
    const link = await tcpForwarder({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    t.teardown(() => link.close());
    const portal = await startDemoPortal({ port: 0, host: '127.0.0.1' });
    t.teardown(() => portal.close());
    const usersPath = await writeUsers(dir);
    const publicUrl = LB_URL; // one public origin for both, as behind a load balancer
    const common = { publicUrl, usersPath, upstream: `http://127.0.0.1:${portal.port}`, postgresUrl, redisPrefix, policy: { default: 'login', rules: [] } };
    const A = await startInstance('a', writeInstanceConfig(dir, 'a', { ...common, port: 0, redisUrl: REDIS_URL }), 0);
    t.teardown(() => A.stop());
    const bRedis = new URL(REDIS_URL);
    bRedis.host = `127.0.0.1:${link.port}`;
    const B = await startInstance('b', writeInstanceConfig(dir, 'b', { ...common, port: 0, redisUrl: bRedis.toString() }), 0);
    t.teardown(() => B.stop());

    const browser = new Browser(publicUrl, [A, B]);
    t.equal((await browser.signIn('a', 'alice', 'alice-test-pass', '/echo')).status, 303);
    t.equal((await browser.get('b', '/echo')).status, 200, 'B serves (and caches) the session');
    const cookie = browser.cookieHeader();

    await link.cut();
    await waitFor('B to notice the cut', async () => (await readyz(B.port)) === 503, 10_000);
    const html = await (await browser.get('a', '/.gatehouse/logout')).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    t.equal((await browser.post('a', '/.gatehouse/logout', { csrf })).status, 200, 'signed out on A during the partition');

    await link.restore();
    const ms = await waitFor('B to reconnect', async () => (await readyz(B.port)) === 200, 20_000);
    t.comment(`B ready again ${ms} ms after the link healed`);
    // Give B's subscriber the time it takes to resubscribe (as a load balancer would not): poll, bounded.
    await waitFor('B to resubscribe', async () => {
      const r = await browser.get('b', '/echo', { cookie });
      await r.arrayBuffer();
      return r.status === 302;
    }, 5_000).catch(() => { /* the assertions below say what B answers */ });
    const after = await browser.get('b', '/echo', { cookie });
    t.equal(after.status, 302, 'B refuses the revoked session after the partition');
    t.equal(after.headers.get('location'), '/.gatehouse/login?rd=%2Fecho');
  });
}
