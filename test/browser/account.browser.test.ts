// The security page as a user meets it: it needs the second factor
// to open, every destructive change asks "Are you sure?", a change that needs a
// fresh check is finished after the check (nothing lost), a recovery-code
// sign-in offers a replacement method, and no page is a dead end (Cancel,
// "Back to …", the 502 page's "Try again" and start-page link).
// Screens at 1280×800 and 390×844, light and dark: test/artifacts/account-*.png.

import t from 'tap';
import type { Page } from 'playwright-core';
import { newPage, requireChromium } from '../helpers/browser.ts';
import { enterCode, screenshotModes, signIn, signOut, startBrowserGateway, TotpDevice, watchConsole } from './harness.ts';

const CODE_LABEL = 'Enter the 6-digit code your app shows';
const CHALLENGE_LABEL = 'Enter the 6-digit code from your authenticator app';

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    config: {
      policy: { default: 'mfa', rules: [{ id: 'status', match: { path: '/status' }, require: 'none' }] },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31', max_deferrals: 3 },
      branding: { product_name: 'Example Portal' },
    },
  });

  /** On the TOTP setup step: the key from the otpauth link, confirmed with its first code. */
  async function setUpTotp(page: Page): Promise<TotpDevice> {
    const uri = new URL((await page.getByRole('link', { name: 'Open in authenticator app' }).getAttribute('href')) ?? '');
    const device = new TotpDevice(uri.searchParams.get('secret') ?? '', f.clock);
    await enterCode(page, await device.next(), CODE_LABEL);
    return device;
  }

  const items = (page: Page) => page.locator('.item__title').allTextContents();

  t.test('security page: second factor to open, confirmations, a removal finished after the check, no dead ends', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);

    // Enrollment: an authenticator app and the recovery codes.
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    const phone = await setUpTotp(page);
    const codes = await page.locator('.recovery__codes code').allTextContents();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    await signOut(page, f.url);

    // --- item 4: a password-only session does not open the security page
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/');
    const r = await page.goto(`${f.url}/.gatehouse/account`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'a password-only session is sent to the second step');
    t.notMatch(await r?.text(), /Sign-in methods/, 'the security page itself was not served');
    t.match(await page.locator('[data-why]').textContent(), /security page .* needs your second step/, 'the page says why');
    await screenshotModes(page, 'account-needs-factor');
    await enterCode(page, await phone.next(), CHALLENGE_LABEL);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/account', 'after the check the page opens');
    t.equal(await page.locator('h1').textContent(), 'Your security');
    const back = page.getByRole('link', { name: 'Back to Example Portal' });
    t.equal(await back.getAttribute('href'), '/', 'the security page links back to the app');
    await screenshotModes(page, 'account-page');

    // A second app, so one can be removed.
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Add a method' }).click()]);
    t.ok(await page.getByRole('link', { name: 'Cancel' }).isVisible(), 'adding a method can be cancelled');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    await setUpTotp(page);
    t.equal(await page.locator('h1').textContent(), 'You’re all set');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    t.equal((await items(page)).filter((x) => x === 'Authenticator app').length, 2, 'two apps listed');

    // --- items 5 and 3: Remove asks first; the stale check is asked for; the removal is then finished
    f.clock.advance(6 * 60_000);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Remove Authenticator app' }).last().click()]);
    t.equal(await page.locator('h1').textContent(), 'Remove “Authenticator app”?', 'Remove asks for confirmation');
    t.ok(await page.getByRole('link', { name: 'Cancel' }).isVisible(), 'with a Cancel');
    await screenshotModes(page, 'account-confirm-remove');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Remove' }).click()]);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'a stale check: asked for a fresh one');
    t.match(await page.locator('[data-why]').textContent(), /Removing a sign-in method needs a fresh check/, 'the page says why');
    t.equal(await page.getByRole('link', { name: 'Cancel' }).getAttribute('href'), '/.gatehouse/account', 'Cancel goes back to the security page');
    await screenshotModes(page, 'account-fresh-check');
    await enterCode(page, await phone.next(), CHALLENGE_LABEL);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/account');
    t.match(await page.locator('.alert--notice').textContent(), /Thanks for confirming\. The method was removed\./, 'the removal was finished after the check, and the page says so');
    t.equal((await items(page)).filter((x) => x === 'Authenticator app').length, 1, 'one app left');
    await screenshotModes(page, 'account-removed-after-check');
    await page.goto(`${f.url}/.gatehouse/account?resume=1`);
    t.equal((await items(page)).filter((x) => x === 'Authenticator app').length, 1, 'the kept change is not made twice');

    // "Get new codes" asks first too.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Get new codes' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Get new recovery codes?');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Cancel' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Your security', 'Cancel changes nothing');
    t.match(await page.locator('main').textContent(), /10 unused codes left/);

    // --- item 5: a recovery-code sign-in offers a replacement method
    await signOut(page, f.url);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    await page.goto(`${page.url()}&method=recovery`);
    await page.getByLabel('Enter one of your recovery codes').fill(codes[0]);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Set up a replacement method?', 'a replacement is offered');
    t.match(await page.locator('.lead').textContent(), /9 codes are left/);
    await screenshotModes(page, 'account-after-recovery');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Not now' }).click()]);
    t.equal(page.url(), `${f.url}/reports`, '"Not now" goes where the user was going');

    // "Sign out everywhere" asks, then says what it did.
    await page.goto(`${f.url}/.gatehouse/account`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Sign out everywhere?');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    t.match(await page.locator('.alert--notice').textContent(), /signed out of Example Portal on every device/, 'the page says what was done');

    // --- item 5: the 502 page has "Try again" and the start page
    await f.portal!.close();
    const down = await page.goto(`${f.url}/status`);
    t.equal(down?.status(), 502);
    t.equal(await page.getByRole('link', { name: 'Try again' }).getAttribute('href'), '/status', '"Try again" loads the page again');
    t.equal(await page.getByRole('link', { name: 'Go to the start page' }).getAttribute('href'), '/');
    await screenshotModes(page, 'account-error-502');

    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });
}
