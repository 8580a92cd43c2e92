// Pushes left to expire count toward the suspension even when the browser
// that sent them never asks again (a bombing script does not poll): the next
// push finds their slots stale, counts each time-out once, and the third one
// suspends push. Plain HTTP against a real gateway; the clock is moved.

import t from 'tap';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { lastApprovalLink } from '../browser/push-harness.ts';

const attr = (page: string, re: RegExp) => re.exec(page)?.[1] ?? '';

t.test('unanswered pushes nobody polls still count; the third time-out suspends push', async (t) => {
  const f = await startTestGateway({
    config: {
      policy: { default: 'mfa' },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
      factors: { push: { backoff: 0, timeout: '60s' } },
    },
  });
  t.teardown(() => f.close());

  // Enroll the link channel: the confirmation link answered with the page's number.
  const browser = new Client(f.url);
  await browser.signIn('alice', 'alice-test-pass', '/reports');
  const csrf = attr(await (await browser.fetch('/.gatehouse/enroll?rd=%2Freports&method=push')).text(), /name="csrf" value="([^"]+)"/);
  const waiting = await (await browser.postForm('/.gatehouse/enroll', { csrf, rd: '/reports', action: 'push-send' })).text();
  const phone = new Client(f.url);
  const approve = await (await phone.fetch(lastApprovalLink(f.dir, 'alice@example.com').slice(f.url.length))).text();
  await phone.postForm('/.gatehouse/push', { t: attr(approve, /name="t" value="([\w-]+)"/), answer: attr(waiting, /data-push-number[^>]*>(\d+)</) });
  const enrolled = await browser.postForm('/.gatehouse/enroll', { csrf, rd: '/reports', action: 'push-confirm', push_id: attr(waiting, /name="push_id" value="([\w-]+)"/) });
  t.equal(enrolled.status, 303, 'push enrolled');

  // A sign-in that sends three pushes and never asks how they went.
  const bomber = new Client(f.url);
  await bomber.signIn('alice', 'alice-test-pass', '/reports');
  const csrf2 = attr(await (await bomber.fetch('/.gatehouse/challenge?rd=%2Freports&method=push')).text(), /name="csrf" value="([^"]+)"/);
  const send = () => bomber.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/reports', method: 'push', send: '1' });
  for (let i = 0; i < 3; i++) t.equal((await send()).status, 200, `push ${i + 1} sent`);
  t.equal((await send()).status, 429, 'a fourth waits for a slot');

  f.clock.advance(61_000);
  const after = await send();
  const afterText = await after.text();
  t.equal(after.status, 429, 'the push after them is refused');
  t.match(afterText, /paused for 15 minutes/, 'the three time-outs suspended push');
  const audit = readAudit(f);
  t.equal(audit.filter((e) => e.event === 'push.suspended' && e.user === 'alice').length, 1, 'the suspension is audited once');
  t.equal(audit.filter((e) => e.event === 'push.sent' && e.user === 'alice' && e.purpose === 'challenge').length, 3, 'no push went out after the three');
});
