// Step-up in Debian's Chromium against the real demo portal: a form submitted
// to a protected action is kept across the challenge and reaches the app ONCE
// with its original body; a fresh check lets the next submit straight through
// until max_age runs out; an action that accepts only passkeys leads a
// TOTP-only user through adding one and using it, after which the action
// completes once.

import t from 'tap';
import type { Page } from 'playwright-core';
import { addVirtualAuthenticator, newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { enrollTotpOverHttp, enterCode, portalIdentity, signIn, startBrowserGateway, watchConsole } from './harness.ts';

const MAX_AGE_MS = 5_000;

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    config: {
      policy: {
        default: 'login',
        rules: [
          { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: `${MAX_AGE_MS / 1000}s`, factors: ['webauthn', 'totp'] },
          { id: 'api-keys', match: { path: '/settings/api-keys/**', methods: ['POST'] }, require: 'mfa', factors: ['webauthn'] },
        ],
      },
    },
  });
  const portal = f.portal!;
  const posts = (path: string) => portal.received.filter((r) => r.method === 'POST' && r.url.split('?')[0] === path);

  async function pay(page: Page, amount: string, payee: string): Promise<void> {
    await page.goto(`${f.url}/billing`);
    await page.getByLabel('Amount (USD)').fill(amount);
    await page.getByLabel('Payee').fill(payee);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Submit payment' }).click()]);
  }

  t.test('billing: the POST is kept across the TOTP step-up, sent once; fresh for max_age, then asked again', async (t) => {
    const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/billing');
    t.equal(page.url(), `${f.url}/billing`, 'default login: the billing page needs only the password');

    await pay(page, '123.45', 'Initech Corp');
    const challenge = new URL(page.url());
    t.equal(challenge.pathname, '/.gatehouse/challenge', 'submitting the payment asks for a fresh check');
    t.equal(challenge.searchParams.get('rule'), 'billing');
    t.ok(challenge.searchParams.get('stash'), 'the request is stashed');
    t.equal(posts('/billing/pay').length, 0, 'nothing reached the app yet');
    t.match(await page.locator('[data-pending]').textContent(), /After you confirm, your POST to \/billing\/pay is sent./);
    await screenshot(page, 'e2e-stepup-billing');

    // The gateway's clock stands still from here to the end of this test: "within max_age" does not
    // depend on how long a loaded machine takes for the next payment; the test moves it past max_age.
    f.clock.hold();
    t.teardown(() => f.clock.release());
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(new URL(page.url()).pathname, '/billing/pay', 'back at the action');
    t.match(await page.locator('#payment-result').textContent(), /Payment of 123\.45 to Initech Corp submitted/, 'the user sees the app’s own answer');
    t.equal(portal.state.payments.length, 1, 'one payment');
    t.match(portal.state.payments[0], { amount: '123.45', payee: 'Initech Corp', by: 'alice' }, 'with the original form body');
    t.equal(posts('/billing/pay').length, 1, 'the app received the POST once');
    t.equal(posts('/billing/pay')[0].url, '/billing/pay', 'at its own URL, without the resume marker');
    t.match((await portalIdentity(page))['Auth methods'], /\botp\b/);

    // Within max_age: straight through.
    await pay(page, '7.00', 'Hooli');
    t.equal(new URL(page.url()).pathname, '/billing/pay', 'a second payment within max_age is not challenged');
    t.equal(portal.state.payments.length, 2);
    t.match(portal.state.payments[1], { amount: '7.00', payee: 'Hooli' });

    // After max_age: asked again, and again sent once.
    f.clock.advance(MAX_AGE_MS + 500);
    await pay(page, '9.99', 'Vandelay Industries');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'past max_age the check is asked for again');
    t.equal(portal.state.payments.length, 2, 'and the payment waits');
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.match(await page.locator('#payment-result').textContent(), /Payment of 9\.99 to Vandelay Industries submitted/);
    t.equal(portal.state.payments.length, 3);
    t.equal(posts('/billing/pay').length, 3, 'three payments, three POSTs: none lost, none doubled');

    // Reloading the result page does not pay twice.
    await page.reload();
    t.equal(portal.state.payments.length, 3, 'a reload after the replay does not repeat the payment');
    t.equal(new URL(page.url()).pathname, '/billing', 'and lands back on the form page, not on an error');
    await screenshot(page, 'e2e-stepup-reload-after-replay');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('API keys need a passkey: a TOTP-only user adds one, then the key is created once', async (t) => {
    const device = await enrollTotpOverHttp(f, 'bob', 'bob-test-pass');
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await addVirtualAuthenticator(page, { transport: 'internal' });
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/settings/api-keys');
    const keysBefore = portal.state.apiKeys.length;

    await page.getByLabel('New key name').fill('ci-deploy');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create key' }).click()]);
    const needsUrl = new URL(page.url());
    t.equal(needsUrl.pathname, '/.gatehouse/enroll', 'sent to add a method the rule accepts');
    t.equal(needsUrl.searchParams.get('rule'), 'api-keys');
    t.ok(needsUrl.searchParams.get('stash'), 'the request is stashed');
    const notice = await page.locator('.alert--notice').textContent();
    t.match(notice, /This needs\s+Passkey or security key/, 'told the action needs a passkey');
    t.match(notice, /you have: Authenticator app/, 'and what the user has instead');
    await screenshot(page, 'e2e-stepup-needs-passkey');
    t.equal(posts('/settings/api-keys').length, 0, 'nothing reached the app yet');

    // Adding a method when one exists needs a fresh check with it first.
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'asked to confirm with the existing method first');
    t.match(await page.locator('.lead').textContent(), /Before you add a sign-in method, confirm it’s you/);
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(await page.locator('h1').textContent(), 'Add a passkey or security key', 'straight to adding a passkey');
    await page.getByLabel('Name it').fill('Bob’s laptop');
    await Promise.all([page.waitForURL(/step=recovery/), page.getByRole('button', { name: 'Continue' }).click()]);
    t.equal((await page.locator('.recovery__codes code').allTextContents()).length, 10, 'recovery codes, which bob had none of yet');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    t.equal(await page.locator('h1').textContent(), 'You’re all set');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);

    // Registering the passkey is not using it (README "Security model"): the rule asks for it once.
    const challengeUrl = new URL(page.url());
    t.equal(challengeUrl.pathname, '/.gatehouse/challenge', 'the passkey-only rule asks for the new passkey');
    t.equal(challengeUrl.searchParams.get('rule'), 'api-keys');
    t.equal(posts('/settings/api-keys').length, 0, 'nothing reached the app on the registration alone');
    await Promise.all([page.waitForURL(/\/settings\/api-keys/), page.getByRole('button', { name: 'Use passkey or security key' }).click()]);

    t.equal(new URL(page.url()).pathname, '/settings/api-keys', 'back at the API keys');
    t.match(await page.locator('#api-key-created').textContent(), /Created key ci-deploy: acme_[0-9a-f]+/, 'the app created the key');
    t.equal(portal.state.apiKeys.length, keysBefore + 1, 'exactly one key created');
    t.match(portal.state.apiKeys.at(-1), { name: 'ci-deploy', createdBy: 'bob' });
    t.equal(posts('/settings/api-keys').length, 1, 'the app received the POST once');
    t.match((await portalIdentity(page))['Auth methods'], /\bhwk\b/, 'with the passkey as the fresh factor');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });
}
