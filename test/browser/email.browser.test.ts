// Email codes in Debian's Chromium with a REAL SMTP listener (smtp-server) on
// a loopback port as the gateway's notifier: a user with an authenticator app
// picks "Try another method" → "Email code" → "Send code", the code is read
// from the mail that arrived over SMTP, typed in, and the portal opens.
// The code length is set to 8 to check the code box takes what is configured.

import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { enrollTotpOverHttp, enterCode, portalIdentity, lookAt, signIn, startBrowserGateway, watchConsole } from './harness.ts';

interface Mail { to: string[]; raw: string }

/** A real SMTP listener on 127.0.0.1 that keeps every message it receives. */
async function smtpListener(t: Test): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

/** Subject and plain-text body of a simple message (quoted-printable decoded, encoded-word subject decoded). */
function parseMail(mail: Mail): { to: string[]; subject: string; body: string } {
  const raw = mail.raw;
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    body = Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  }
  let subject = /^subject:\s*(.*)$/im.exec(head)?.[1] ?? '';
  subject = subject.replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
    enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))));
  return { to: mail.to, subject, body };
}

async function waitForMail(mails: Mail[], match: (m: ReturnType<typeof parseMail>) => boolean, timeoutMs = 10_000): Promise<ReturnType<typeof parseMail>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = mails.map(parseMail).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching mail within ${timeoutMs} ms (got ${mails.length})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (requireChromium(t)) {
  const smtp = await smtpListener(t);
  const { f, browser } = await startBrowserGateway(t, {
    config: {
      policy: { default: 'mfa' },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
      // path: undefined drops the test default's file outbox from the merged config.
      notifier: { kind: 'smtp', url: `smtp://127.0.0.1:${smtp.port}`, from: 'gatehouse@example.com', path: undefined },
      factors: { email_otp: { ttl: '10m', length: 8 } },
    },
  });

  t.test('TOTP user → try another method → email code over real SMTP → the portal', async (t) => {
    // Enrollment over plain HTTP (as test/factors/mfa-flow.test.ts does): the subject here is the email fallback.
    await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
    // The "method added" notice went out over SMTP too.
    const added = await waitForMail(smtp.mails, (m) => /sign-in method was added/i.test(m.subject));
    t.match(added.body, /Authenticator app/);

    const page = await newPage(browser);
    const problems = watchConsole(page);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Email code/ }).click()]);
    t.match(await page.locator('main').textContent(), /We’ll email a sign-in code to a•+@example\.com/, 'the address is shown masked');
    const before = smtp.mails.length;
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send code' }).click()]);
    t.match(await page.locator('.code-sent').textContent(), /We sent a code to a•+@example\.com/);
    await screenshot(page, 'e2e-email-code-sent');

    const mail = await waitForMail(smtp.mails.slice(before), (m) => /sign-in code/i.test(m.subject));
    t.same(mail.to, ['alice@example.com'], 'sent to alice');
    const code = /sign-in code is (\d+)/.exec(mail.body)?.[1];
    t.match(code, /^\d{8}$/, 'an 8-digit code, as configured');
    const box = page.getByLabel('Enter the code we sent you');
    t.equal(await box.getAttribute('maxlength'), '8', 'the code box takes 8 digits');
    await enterCode(page, code!, 'Enter the code we sent you');
    t.equal(page.url(), `${f.url}/reports`, 'the emailed code opens the portal');
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice');
    t.equal(id['Auth methods'], 'pwd mail', 'the portal is told an emailed code was used');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('an email code sent at enrollment does not hold back the sign-in code right after', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Email code/ }).click()]);
    let before = smtp.mails.length;
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send code' }).click()]);
    const enrollMail = await waitForMail(smtp.mails.slice(before), (m) => /sign-in code/i.test(m.subject));
    await enterCode(page, /sign-in code is (\d+)/.exec(enrollMail.body)![1], 'Enter the code we sent you');
    t.equal(new URL(page.url()).searchParams.get('step'), 'recovery', 'the address is confirmed');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);

    // At once, a new sign-in asks for an email code: it goes out, no cool-down.
    await page.goto(`${f.url}/.gatehouse/logout`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/reports');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge');
    before = smtp.mails.length;
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send code' }).click()]);
    t.match(await page.locator('.code-sent').textContent(), /We sent a code/, 'the sign-in code is sent');
    t.equal(await page.locator('.alert--error').count(), 0, 'no "sent moments ago" refusal');
    const mail = await waitForMail(smtp.mails.slice(before), (m) => /sign-in code/i.test(m.subject));
    await enterCode(page, /sign-in code is (\d+)/.exec(mail.body)![1], 'Enter the code we sent you');
    t.equal(page.url(), `${f.url}/reports`, 'and it signs bob in');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('we sent a code: one state, "Send a new code" counts down and opens when the wait is over; without JavaScript the wait is text', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    // The page's own clock, moved by the test: the countdown is seen ticking without waiting for it.
    await page.clock.install();
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Email code/ }).click()]);
    let before = smtp.mails.length;
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send code' }).click()]);
    await waitForMail(smtp.mails.slice(before), (m) => /sign-in code/i.test(m.subject));
    t.match(await page.locator('.code-sent').textContent(), /We sent a code to a•+@example\.com\. It can take a minute to arrive/, 'one clear state: where the code went');
    t.equal(await page.getByRole('button', { name: 'Send code' }).count(), 0, 'no second "Send code" button');
    const resend = page.getByRole('button', { name: 'Send a new code' });
    const wait = page.locator('[data-resend-wait]');
    const seconds = async () => Number(/in (\d+) s\./.exec((await wait.textContent()) ?? '')?.[1]);
    t.ok(await resend.isDisabled(), 'the resend link waits for the countdown');
    const first = await seconds();
    t.ok(first > 20 && first <= 30, `the wait is shown (${first} s)`);
    await lookAt(t, page, 'code-sent');
    await page.clock.runFor(10_000);
    t.ok(await seconds() <= first - 9, 'the countdown ticks');
    t.ok(await resend.isDisabled());
    await page.clock.runFor(25_000);
    t.ok(await wait.isHidden(), 'the wait is gone when it is over');
    t.ok(await resend.isEnabled(), 'and the resend link can be used');

    // The server's wait is over too (its clock moved as far): a new code goes out, and the state starts again.
    f.clock.advance(31_000);
    before = smtp.mails.length;
    await Promise.all([page.waitForNavigation(), resend.click()]);
    await waitForMail(smtp.mails.slice(before), (m) => /sign-in code/i.test(m.subject));
    t.equal(await page.locator('.alert--error').count(), 0, 'no refusal');
    t.ok(await resend.isDisabled(), 'counting down again');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();

    // Without JavaScript: the wait is plain text, the button works, and an early request is told the time left.
    f.clock.advance(31_000);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const plain = await context.newPage();
    await signIn(plain, f.url, 'alice', 'alice-test-pass', '/reports');
    await Promise.all([plain.waitForNavigation(), plain.getByRole('link', { name: 'Try another method' }).click()]);
    await Promise.all([plain.waitForNavigation(), plain.getByRole('link', { name: /Email code/ }).click()]);
    await Promise.all([plain.waitForNavigation(), plain.getByRole('button', { name: 'Send code' }).click()]);
    t.match(await plain.locator('[data-resend-wait]').textContent(), /You can ask for a new one in \d+ s\./, 'the wait as text');
    const plainResend = plain.getByRole('button', { name: 'Send a new code' });
    t.ok(await plainResend.isEnabled(), 'the button is not disabled without the script');
    await Promise.all([plain.waitForNavigation(), plainResend.click()]);
    t.match(await plain.locator('.alert--error').textContent(), /A code was sent moments ago\. You can ask for another in \d+ seconds\./, 'an early request is told the time left');
    t.match(await plain.locator('.code-sent').textContent(), /We sent a code/, 'still the one "we sent a code" state');
    await screenshot(plain, 'code-sent-no-js');
    await context.close();
  });
}
