// Push approval with number matching in Debian's Chromium: the sign-in page in
// one browser context, the approval page (from the link the file notifier
// sent) in a second, phone-sized one. Enrollment confirms the link reaches the
// user; the right number signs in; a wrong number is refused and counted; a
// push nobody answers expires (the gateway's clock is moved, no sleeping);
// pushes are bounded (backoff, at most 3 pending, suspension after 3 refusals,
// the operator told of "I didn't try to sign in").

import t from 'tap';
import { newPage, requireChromium } from '../helpers/browser.ts';
import { readAudit } from '../helpers/gateway.ts';
import { lookAt, portalIdentity, signIn, signOut, startBrowserGateway, watchConsole } from './harness.ts';
import { answerOnPhone, enrollPush, lastApprovalLink, offeredNumbers, outbox, shownNumber } from './push-harness.ts';

const USERS = {
  alice: { password: 'alice-test-pass', display_name: 'Alice Example' },
  bob: { password: 'bob-test-pass' },
};

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    users: USERS,
    config: {
      policy: { default: 'mfa' },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
      // Web Push on (its push service is a closed port here: test/factors/web-push.test.ts delivers for real).
      factors: { push: { timeout: '60s', backoff: '2s', web_push: { subject: 'mailto:ops@example.com', push_services: ['http://127.0.0.1:9'] } } },
      audit: { alert_email: 'ops@example.com' },
    },
  });

  /** Presses "Send request to my phone" on the challenge page. */
  async function sendPush(page: import('playwright-core').Page): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send request to my phone' }).click()]);
  }

  t.test('enroll, then the right number signs in; the approval page says what is approved', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Approve on your phone/ }).click()]);
    // This browser can do Web Push: push-subscribe.js shows its button (the link by email stays).
    await page.getByRole('button', { name: 'Get notifications in this browser' }).waitFor();
    t.ok(await page.getByRole('button', { name: 'Send a confirmation link' }).isVisible(), 'the link by email is offered too');
    await lookAt(t, page, 'push-enroll');
    await signOut(page, f.url);
    await enrollPush(browser, f, page, 'alice', 'alice-test-pass');
    t.equal(page.url(), `${f.url}/reports`, 'enrolled and on to the portal');
    t.ok(readAudit(f).some((e) => e.event === 'factor.enrolled' && e.user === 'alice' && e.factor === 'push'), 'the enrollment is audited');

    await signOut(page, f.url);
    f.clock.advance(60_000);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    t.equal(new URL(page.url()).searchParams.get('method') ?? 'push', 'push');
    t.match(await page.locator('main').textContent(), /send a request to your phone/i, 'the last used method, push, is offered first');
    await sendPush(page);
    const number = await shownNumber(page);
    t.ok(number >= 10 && number <= 99, 'a two-digit number is shown');
    await lookAt(t, page, 'push-waiting');

    const phone = await newPage(browser, { phone: true });
    const phoneProblems = watchConsole(phone);
    await phone.goto(lastApprovalLink(f.dir, 'alice@example.com'));
    t.equal(await phone.locator('h1').textContent(), 'Is this you signing in?');
    t.match(await phone.locator('.lead').textContent(), /Alice Example is signing in/);
    t.equal(await phone.locator('[data-fact="app"]').textContent(), `localhost/`, 'the application');
    t.equal(await phone.locator('[data-fact="action"]').textContent(), 'GET /reports', 'what is being opened');
    t.equal(await phone.locator('[data-fact="network"]').textContent(), '127.0.0.1', 'the network of the sign-in');
    t.match(await phone.locator('[data-fact="time"]').textContent(), /\d/, 'the time');
    const offered = await offeredNumbers(phone);
    t.equal(offered.length, 3, 'three numbers');
    t.ok(offered.includes(number), 'the shown one among them');
    await lookAt(t, phone, 'push-approve');
    // Looking at the link changes nothing (chat previews fetch links too).
    t.equal(await shownNumber(page), number);

    await Promise.all([phone.waitForNavigation(), phone.getByRole('button', { name: String(number), exact: true }).click()]);
    t.equal(await phone.locator('[data-push-outcome]').getAttribute('data-push-outcome'), 'approved');
    await lookAt(t, phone, 'push-approved');
    await page.waitForURL(`${f.url}/reports`);
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice');
    t.equal(id['Auth methods'], 'pwd mca', 'the portal is told a push (multiple-channel) was used');
    t.ok(readAudit(f).some((e) => e.event === 'push.answered' && e.user === 'alice' && e.outcome === 'approved'), 'the answer is audited');
    const [factor] = await f.gw.services.store.listFactors('alice');
    t.ok(readAudit(f).some((e) => e.event === 'factor.used' && e.user === 'alice' && e.factor === 'push' && e.factor_id === factor.id), 'the passed check names the channel answered');
    t.ok(factor.last_used_at !== null && factor.last_used_at > factor.created_at, 'and its last use is recorded');
    t.equal(factor.name, 'Link to alice@example.com', 'named after where requests go');
    await page.goto(`${f.url}/.gatehouse/account`);
    t.match(await page.locator('main').textContent(), /Link to alice@example\.com/, 'the security page lists it');

    // The link worked once.
    await phone.goto(lastApprovalLink(f.dir, 'alice@example.com'));
    t.equal(await phone.locator('[data-push-outcome]').getAttribute('data-push-outcome'), 'gone', 'a used link is no longer valid');
    t.same([...problems, ...phoneProblems], [], 'no CSP violation or script error');
    await phone.context().close();
    await page.context().close();
  });

  t.test('a wrong number is refused and counted; a push nobody answers expires', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    const phone = await newPage(browser, { phone: true });
    f.clock.advance(60_000);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    await sendPush(page);
    const number = await shownNumber(page);
    const link = lastApprovalLink(f.dir, 'alice@example.com');
    await phone.goto(link);
    const wrong = (await offeredNumbers(phone)).find((n) => n !== number)!;
    t.equal(await answerOnPhone(phone, link, wrong), 'wrong_number', 'the phone says the number was not the one shown');
    // The sign-in page learns it by itself.
    await page.locator('.alert--error').waitFor();
    t.match(await page.locator('.alert--error').textContent(), /did not match/);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'not signed in');
    const audit = readAudit(f);
    t.ok(audit.some((e) => e.event === 'push.answered' && e.outcome === 'wrong_number'), 'the wrong number is audited');
    t.ok(audit.some((e) => e.event === 'factor.failure' && e.user === 'alice' && e.factor === 'push' && e.reason === 'wrong_number'), 'and counted as a failed check');
    await lookAt(t, page, 'push-wrong-number');

    f.clock.advance(60_000);
    await page.goto(`${f.url}/.gatehouse/challenge?rd=%2Freports&method=push`);
    await sendPush(page);
    t.ok(await page.locator('[data-push-number]').isVisible());
    const stale = lastApprovalLink(f.dir, 'alice@example.com');
    f.clock.advance(61_000);
    await page.locator('.alert--error').waitFor();
    t.match(await page.locator('.alert--error').textContent(), /expired/);
    t.ok(readAudit(f).some((e) => e.event === 'factor.failure' && e.user === 'alice' && e.reason === 'expired'), 'the time-out is a failed check');
    await phone.goto(stale);
    t.equal(await phone.locator('[data-push-outcome]').getAttribute('data-push-outcome'), 'gone', 'the phone cannot approve it any more');
    t.same(problems, []);
    await phone.context().close();
    await page.context().close();
  });

  t.test('push bombing: backoff, at most 3 pending, suspended after 3 refusals, the operator told', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await enrollPush(browser, f, page, 'bob', 'bob-test-pass');
    await signOut(page, f.url);
    const pushPage = `${f.url}/.gatehouse/challenge?rd=%2Freports&method=push`;
    const sent: Array<{ link: string; number: number }> = [];
    const send = async () => {
      await sendPush(page);
      if (await page.locator('[data-push-number]').count() === 0) return false;
      sent.push({ link: lastApprovalLink(f.dir, 'bob@example.com'), number: await shownNumber(page) });
      return true;
    };
    f.clock.advance(3_000);
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/reports');
    t.ok(await send(), 'the first push goes out');
    // Again at once: the backoff (2 s, doubling with each push) holds it back.
    await page.goto(pushPage);
    t.notOk(await send(), 'a second push at once is held back');
    t.match(await page.locator('.alert--error').textContent(), /A request was sent moments ago\. You can send another in \d+ seconds/);
    for (const wait of [5_000, 9_000]) {
      f.clock.advance(wait);
      await page.goto(pushPage);
      t.ok(await send(), `sent after waiting ${wait / 1000} s`);
    }
    f.clock.advance(17_000);
    await page.goto(pushPage);
    t.notOk(await send(), 'a fourth pending push is refused');
    t.match(await page.locator('.alert--error').textContent(), /Several requests are waiting/);
    t.equal(outbox(f.dir).filter((m) => m.to === 'bob@example.com' && m.kind === 'push_approval').length, 4, 'three pushes (and the enrollment one) went out, no more');

    const phone = await newPage(browser, { phone: true });
    t.equal(await answerOnPhone(phone, sent[0].link, 'Deny'), 'denied');
    t.equal(await answerOnPhone(phone, sent[1].link, 'I didn’t try to sign in'), 'not_me');
    await phone.goto(sent[2].link);
    const wrong = (await offeredNumbers(phone)).find((n) => n !== sent[2].number)!;
    t.equal(await answerOnPhone(phone, sent[2].link, wrong), 'wrong_number');
    await phone.context().close();
    const audit = readAudit(f);
    t.same(audit.filter((e) => e.event === 'push.answered' && e.user === 'bob').map((e) => e.outcome), ['approved', 'denied', 'not_me', 'wrong_number'], 'every answer is audited');
    const suspended = audit.find((e) => e.event === 'push.suspended' && e.user === 'bob');
    t.ok(suspended, 'the third refusal suspends push for bob (audited)');
    const alert = outbox(f.dir).find((m) => m.kind === 'push_not_me');
    t.equal(alert?.to, 'ops@example.com', '"I didn’t try to sign in" reaches the operator’s alert address');
    t.match(alert?.text, /bob answered a push approval request with "I didn’t try to sign in"/);

    // Past every backoff: push stays suspended; other methods stay.
    f.clock.advance(60_000);
    await page.goto(pushPage);
    t.notOk(await send(), 'no push while suspended');
    t.match(await page.locator('.alert--error').textContent(), /paused for 14 minutes/);
    t.ok(await page.getByRole('link', { name: 'Try another method' }).isVisible(), 'other methods stay');
    await lookAt(t, page, 'push-suspended');
    // The suspension ends.
    f.clock.advance(15 * 60_000);
    await page.goto(pushPage);
    t.ok(await send(), 'after 15 minutes push works again');
    t.same(problems, []);
    await page.context().close();
  });
}
