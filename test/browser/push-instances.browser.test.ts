// Push across instances (README "Several instances"): two gateways share
// PostgreSQL and Redis. The sign-in page waits on instance A; the phone opens
// the approval link on instance B (the load balancer sent it there) and taps
// the number; A learns the answer from the shared state and signs the browser
// in.

import t from 'tap';
import { launchBrowser, newPage, requireChromium } from '../helpers/browser.ts';
import { readAudit, startTestGateway } from '../helpers/gateway.ts';
import { createPostgresSchema, REDIS_URL, requirePostgres, requireRedis } from '../helpers/services.ts';
import { dropRedisPrefix, randomPrefix } from '../scale/instances.ts';
import { portalIdentity, signIn, signOut, watchConsole } from './harness.ts';
import { answerOnPhone, enrollPush, lastApprovalLink, shownNumber } from './push-harness.ts';

if (!requireChromium(t)) {
  // skipped loudly by requireChromium
} else if (!(await requirePostgres(t)) || !(await requireRedis(t))) {
  t.plan(0, 'PostgreSQL or Redis not reachable (reason printed above)');
} else {
  const postgresUrl = await createPostgresSchema(t);
  const redisPrefix = randomPrefix();
  t.teardown(() => dropRedisPrefix(REDIS_URL, redisPrefix));
  const config = {
    policy: { default: 'mfa' },
    rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
    // Redis keeps real time: no backoff, so the sign-in push may follow the enrollment push at once.
    factors: { push: { backoff: 0 } },
    store: { kind: 'postgres', url: postgresUrl },
    shared_state: { kind: 'redis', url: REDIS_URL, prefix: redisPrefix },
  };
  const a = await startTestGateway({ config });
  const b = await startTestGateway({ config });
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await a.close();
    await b.close();
  });

  t.test('a push started on A is approved on B; A signs the browser in', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await enrollPush(browser, a, page, 'alice', 'alice-test-pass');
    await signOut(page, a.url);
    await signIn(page, a.url, 'alice', 'alice-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send request to my phone' }).click()]);
    const number = await shownNumber(page);
    // The link names A's origin; the phone reaches B.
    const onB = lastApprovalLink(a.dir, 'alice@example.com').replace(a.url, b.url);
    t.ok(onB.startsWith(`${b.url}/.gatehouse/push?t=`), 'the approval link, on instance B');
    const phone = await newPage(browser, { phone: true });
    t.equal(await answerOnPhone(phone, onB, number), 'approved', 'B takes the answer');
    await page.waitForURL(`${a.url}/reports`);
    t.equal((await portalIdentity(page))['Auth methods'], 'pwd mca', 'A signed the browser in with the push');
    t.ok(readAudit(b).some((e) => e.event === 'push.answered' && e.user === 'alice' && e.outcome === 'approved'), 'B audited the answer');
    t.ok(readAudit(a).some((e) => e.event === 'factor.used' && e.user === 'alice' && e.factor === 'push'), 'A audited the passed check');
    t.same(problems, []);
    await phone.context().close();
    await page.context().close();
  });
}
