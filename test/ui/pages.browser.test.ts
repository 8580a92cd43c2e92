// The pages in a real browser (Debian's Chromium), served as test/ui/page-matrix.ts
// serves them: the right-to-left sample (mirrored, checked, axe, screenshots) and
// how forms, focus, countdowns and the virtual authenticator behave. Every page in
// English and German is looked at by pages-en and pages-de.browser.test.ts.

import t from 'tap';
import { addVirtualAuthenticator, authenticatorCredentials, launchBrowser, newPage, requireChromium } from '../helpers/browser.ts';
import { CASES, lookAtEveryPage, RTL_SAMPLE, startServer, watchConsole } from './page-matrix.ts';

if (requireChromium(t)) {
  const { server, origin, posted } = await startServer();
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  t.test('right to left (an operator catalog in Arabic): mirrored, checks, axe, screenshots', async (t) => {
    await lookAtEveryPage(t, browser, origin, CASES.filter((c) => RTL_SAMPLE.includes(c.id)), ['ar']);
    // Mirrored: the card's content starts at the right; the method chevron points left; the alert's bar is on the right.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${origin}/p/challenge-pick?lang=ar`);
    const layout = await page.evaluate(() => {
      const card = document.querySelector('main.card')!.getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(document.querySelector('h1')!);
      const h1 = range.getBoundingClientRect();
      const chevron = getComputedStyle(document.querySelector('.method-card__chevron')!).transform;
      const title = document.querySelector('.method-card__title')!.getBoundingClientRect();
      const badge = document.querySelector('.method-card .badge')!.getBoundingClientRect();
      return { h1Right: card.right - h1.right, h1Left: h1.left - card.left, chevron, titleRight: title.right, badgeRight: badge.right };
    });
    t.ok(layout.h1Right < layout.h1Left, `the heading sits at the right of the card (${layout.h1Right}px from the right, ${layout.h1Left}px from the left)`);
    t.equal(layout.chevron, 'matrix(-1, 0, 0, 1, 0, 0)', 'the chevron is mirrored');
    t.ok(Math.abs(layout.titleRight - layout.badgeRight) < 2, 'title and badge line up at the right edge');
    await page.goto(`${origin}/p/login-error?lang=ar`);
    const alert = await page.evaluate(() => {
      const s = getComputedStyle(document.querySelector('.alert')!);
      return { right: s.borderRightWidth, left: s.borderLeftWidth };
    });
    t.same(alert, { right: '4px', left: '1px' }, "the alert's accent bar is on the reading side (logical properties)");
  });

  t.test('sign-in form: labels, focus order, POST then same-origin redirect under form-action', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await page.goto(`${origin}/p/login`);
    t.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'username has focus on load');
    await page.getByLabel('Username').fill('alice');
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'tab goes to password');
    await page.getByLabel('Password', { exact: true }).fill('s3cret pass');
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Show password', 'then the show-password toggle');
    await page.keyboard.press('Enter');
    t.equal(await page.getByLabel('Password', { exact: true }).getAttribute('type'), 'text', 'toggle shows the password');
    await page.keyboard.press('Enter');
    t.equal(await page.getByLabel('Password', { exact: true }).getAttribute('type'), 'password', 'and hides it again');
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Sign in', 'then the submit button');

    await Promise.all([page.waitForURL(`${origin}/app`), page.keyboard.press('Enter')]);
    const last = posted.at(-1)!;
    t.equal(last.path, '/.gatehouse/login');
    t.same(Object.fromEntries(last.form), { csrf: 'csrf-login', rd: '/billing', username: 'alice', password: 's3cret pass' }, 'form fields posted');
    t.match(await page.textContent('.alert'), 'app reached', '303 to a same-origin page is followed');
    t.same(problems, [], 'form-action self allows the same-origin redirect after POST');
    await page.context().close();
  });

  t.test("form-action 'self' blocks a redirect to another origin after POST (hand-offs to an IdP must not be form posts)", async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await page.goto(`${origin}/p/logout`);
    // Point the sign-out form at an endpoint that redirects off-origin.
    await page.evaluate(() => document.querySelector('form')!.setAttribute('action', '/cross'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Until the POST arrived and Chromium reported the violation (a loaded machine may take a while).
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      if (posted.some((p) => p.path === '/cross') && problems.some((p) => /form-action/.test(p))) break;
      await page.waitForTimeout(50);
    }
    t.ok(posted.some((p) => p.path === '/cross'), 'the POST itself went out');
    t.notMatch(page.url(), /^http:\/\/127\.0\.0\.1/, 'the cross-origin redirect was not followed');
    t.ok(problems.some((p) => /form-action/.test(p)), 'Chromium reports a form-action violation');
    await page.context().close();
  });

  t.test('sign-out form: the "everywhere" choice is a labelled checkbox and posts with the token', async (t) => {
    const page = await newPage(browser, { phone: true });
    const problems = watchConsole(page);
    await page.goto(`${origin}/p/logout`);
    await page.getByText('Also sign out on all my other devices').click();
    t.ok(await page.getByLabel('Also sign out on all my other devices').isChecked(), 'clicking the label checks the box');
    await Promise.all([page.waitForURL(`${origin}/.gatehouse/logout`), page.getByRole('button', { name: 'Sign out' }).click()]);
    t.same(Object.fromEntries(posted.at(-1)!.form), { csrf: 'csrf-logout', everywhere: '1' });
    t.same(problems, []);
    await page.context().close();
  });

  t.test('one-time code: labelled, numeric, autosubmits when complete', async (t) => {
    const page = await newPage(browser, { phone: true });
    const problems = watchConsole(page);
    await page.goto(`${origin}/p/styleguide`);
    const code = page.getByLabel('Enter the 6-digit code');
    t.equal(await code.getAttribute('inputmode'), 'numeric');
    t.equal(await code.getAttribute('autocomplete'), 'one-time-code');
    await code.pressSequentially('123 45', { delay: 20 });
    t.equal(await code.inputValue(), '12345', 'spaces stripped as typed');
    t.equal(page.url(), `${origin}/p/styleguide`, 'not submitted before the last digit');
    await Promise.all([page.waitForURL(`${origin}/echo`), code.pressSequentially('6')]);
    const last = posted.at(-1)!;
    t.equal(last.path, '/echo');
    t.equal(last.form.get('code'), '123456', 'submitted the full code');
    t.equal(last.form.get('csrf'), 'csrf-sg', 'with the csrf token');

    // A pasted code with a space (as many apps copy it) goes through whole, not cut by maxlength.
    await page.goto(`${origin}/p/styleguide`);
    await page.getByLabel('Enter the 6-digit code').focus();
    await Promise.all([
      page.waitForURL(`${origin}/echo`),
      page.evaluate(() => {
        const input = document.getElementById('code') as HTMLInputElement;
        const data = new DataTransfer();
        data.setData('text', '654 321');
        input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      }),
    ]);
    t.equal(posted.at(-1)!.form.get('code'), '654321', 'pasted code submitted');
    t.same(problems, []);
    await page.context().close();
  });

  t.test('lockout countdown disables the button until the wait is over', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    // The page's clock stands still until the test moves it: a slow machine cannot tick the countdown between two reads.
    const start = Date.parse('2026-01-05T09:00:00Z');
    await page.clock.install({ time: start });
    await page.clock.pauseAt(start + 1000);
    await page.goto(`${origin}/p/login-lockout-short`);
    const button = page.getByRole('button', { name: 'Sign in', exact: true });
    const alertText = () => page.getByRole('alert').textContent().then((s) => s?.trim());
    t.equal(await alertText(), 'Too many attempts. Try again in 2 seconds.');
    t.ok(await button.isDisabled(), 'disabled while locked');
    await page.clock.runFor(1000);
    t.equal(await alertText(), 'Too many attempts. Try again in 1 second.', 'one second later');
    t.equal(await page.locator('.alert').getAttribute('aria-live'), 'off', 'while it ticks the message is not re-announced');
    t.ok(await button.isDisabled(), 'still disabled');
    await page.clock.runFor(1100);
    await page.getByText('You can try again now.').waitFor({ timeout: 5000 });
    t.ok(await button.isEnabled(), 'enabled after the wait');
    t.equal(await page.locator('.alert').getAttribute('aria-live'), null, 'the end is announced (the alert is live again)');
    t.same(problems, []);
    await page.context().close();
  });

  t.test('without JavaScript the passkey button is hidden and the page says what to do', async (t) => {
    const noJs = await browser.newContext({ javaScriptEnabled: false });
    const page = await noJs.newPage();
    await page.goto(`${origin}/p/challenge-webauthn`);
    t.notOk(await page.locator('[data-webauthn-start]').isVisible(), 'no button that cannot work');
    t.match(await page.locator('main').textContent(), /Passkeys need JavaScript/, 'the page says what to do');
    await noJs.close();
    const withJs = await newPage(browser);
    await withJs.goto(`${origin}/p/challenge-webauthn`);
    await withJs.locator('[data-webauthn-start]').waitFor({ state: 'visible', timeout: 5000 });
    t.pass('with JavaScript the button is shown');
    await withJs.context().close();
  });

  t.test('the harness gives pages on localhost a working virtual authenticator', async (t) => {
    const page = await newPage(browser);
    await page.goto(`${origin}/blank`);
    const id = await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true });
    t.match(id, /\S+/, 'authenticator id');
    const made = await page.evaluate(async () => {
      const cred = (await navigator.credentials.create({
        publicKey: {
          rp: { id: 'localhost', name: 'Example Portal' },
          user: { id: new Uint8Array([1, 2, 3, 4]), name: 'alice', displayName: 'Alice' },
          challenge: crypto.getRandomValues(new Uint8Array(32)),
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        },
      })) as PublicKeyCredential;
      return { type: cred.type, attachment: cred.authenticatorAttachment };
    });
    t.same(made, { type: 'public-key', attachment: 'platform' }, 'registration ceremony completed');
    const creds = await authenticatorCredentials(page, id);
    t.equal(creds.length, 1, 'the authenticator holds the credential');
    t.equal(creds[0].rpId, 'localhost');
    t.equal(creds[0].isResidentCredential, true, 'as a passkey (resident key)');
    await page.context().close();
  });
}
