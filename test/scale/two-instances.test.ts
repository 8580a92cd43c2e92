// README "Several instances": two gateway processes behind a (simulated) load
// balancer share PostgreSQL and Redis. The steps (cross-instance-steps.ts) are
// each done on one instance and checked on the other: a TOTP code is good once
// across both, an enrollment or a step-up started on one finishes on the other,
// a stashed request replays exactly once, a logout is honoured everywhere at
// once, and brute-force counters add up.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { createPostgresSchema, REDIS_URL, requirePostgres, requireRedis } from '../helpers/services.ts';
import { crossInstanceSteps, POLICY } from './cross-instance-steps.ts';
import { Browser, dropRedisPrefix, randomPrefix, startInstance, writeInstanceConfig, writeUsers, type Instance, LB_URL } from './instances.ts';

if (!(await requirePostgres(t)) || !(await requireRedis(t))) {
  t.plan(0, 'PostgreSQL or Redis not reachable (reason printed above)');
} else {
  t.test('two instances sharing PostgreSQL and Redis', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const postgresUrl = await createPostgresSchema(t);
    const redisPrefix = randomPrefix();
    t.teardown(() => dropRedisPrefix(REDIS_URL, redisPrefix));
    const portal = await startDemoPortal({ port: 0, host: '127.0.0.1' });
    t.teardown(() => portal.close());
    const usersPath = await writeUsers(dir);
    const publicUrl = LB_URL; // one public origin for both, as behind a load balancer
    const common = { publicUrl, usersPath, upstream: `http://127.0.0.1:${portal.port}`, postgresUrl, redisUrl: REDIS_URL, redisPrefix, policy: POLICY };
    const configA = writeInstanceConfig(dir, 'a', { ...common, port: 0 });
    const configB = writeInstanceConfig(dir, 'b', { ...common, port: 0 });
    // Both start against the fresh schema at once: migrations must serialise.
    const [A, B] = await Promise.all([startInstance('a', configA, 0), startInstance('b', configB, 0)]);
    t.teardown(() => Promise.all([A.stop(), B.stop()]));
    const instances: Instance[] = [A, B];
    const browser = () => new Browser(publicUrl, instances);

    await crossInstanceSteps(t, { browser, publicUrl, portal });
  });
}
