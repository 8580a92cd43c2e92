// The authenticator-app journey in Debian's Chromium, codes computed by Debian's
// oathtool from the secret the page shows: guided enrollment (picker, setup,
// recovery codes, done), the routine challenge, "try another method" with a
// recovery code (single use), and "trust this browser" skipping the routine
// challenge on the next sign-in.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { requireChromium, newPage, screenshot } from '../helpers/browser.ts';
import { enterCode, portalIdentity, screenshotModes, signIn, signOut, startBrowserGateway, TotpDevice, watchConsole } from './harness.ts';

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    config: { policy: { default: 'mfa' }, rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31', max_deferrals: 3 } },
  });

  t.test('enroll an authenticator app, sign in with it, recover with a code once, trust the browser', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    const visited: string[] = [];
    page.on('framenavigated', (fr) => { if (fr === page.mainFrame()) visited.push(new URL(fr.url()).pathname); });

    // --- first sign-in: the guided enrollment
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll', 'a user without a factor is sent to enrollment');
    t.match(await page.locator('.stepper__text').textContent(), /Step 1 of 3/);
    t.equal(await page.locator('h1').textContent(), 'Protect your account');
    t.ok(await page.getByRole('button', { name: 'Set up later (3 left)' }).isVisible(), '"Set up later (3 left)" is offered in the grace period');
    const cards = await page.locator('.method-card__title').allTextContents();
    t.same(cards, ['Passkey or security key', 'Authenticator app', 'Email code'], 'passkey first, then the app, then email');

    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    t.match(await page.locator('.stepper__text').textContent(), /Step 2 of 3/);
    t.ok(await page.getByRole('img', { name: /QR code/ }).isVisible(), 'the QR code is shown');
    // "Can't scan?": the key as text, as a person would type it into the app.
    await page.getByText(/Can’t scan\?/).click();
    const shown = (await page.locator('.secret code').textContent()) ?? '';
    t.match(shown, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, 'the secret is shown in groups of four');
    const device = new TotpDevice(shown, f.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');

    t.equal(new URL(page.url()).searchParams.get('step'), 'recovery', 'then the recovery codes');
    t.match(await page.locator('.stepper__text').textContent(), /Step 3 of 3/);
    const codes = await page.locator('.recovery__codes code').allTextContents();
    t.equal(codes.length, 10, 'ten recovery codes');
    t.equal(new Set(codes).size, 10, 'all different');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download' }).click()]);
    t.equal(download.suggestedFilename(), 'recovery-codes.txt');
    const text = readFileSync(await download.path(), 'utf8');
    t.ok(codes.every((c) => text.includes(c)), 'the download holds every code');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    t.equal(await page.locator('h1').textContent(), 'You’re all set');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    t.equal(page.url(), `${f.url}/reports`, 'Continue goes where the user was going');
    let id = await portalIdentity(page);
    t.equal(id.User, 'alice');
    t.match(id['Auth methods'], /\bpwd\b.*\botp\b/, 'the portal is told a one-time code was used');

    // --- second sign-in: the routine challenge, TOTP first
    await signOut(page, f.url);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'a user with a factor is challenged');
    t.ok(await page.getByLabel('Enter the 6-digit code from your authenticator app').isVisible(), 'TOTP is shown first');
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(page.url(), `${f.url}/`, 'a right code reaches the portal');
    t.equal((await portalIdentity(page)).User, 'alice');

    // --- "Try another method" → a recovery code, which works once
    await signOut(page, f.url);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    const methods = await page.locator('.method-card__title').allTextContents();
    t.ok(methods.includes('Authenticator app') && methods.includes('Recovery code'), `the picker lists every method (${methods.join(', ')})`);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Recovery code/ }).click()]);
    await page.getByLabel('Enter one of your recovery codes').fill(codes[3]);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Set up a replacement method?', 'a recovery code lets the user in, with a replacement offered');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Not now' }).click()]);
    t.equal(page.url(), `${f.url}/`, '"Not now" goes on to the portal');
    t.equal((await portalIdentity(page)).User, 'alice');

    await signOut(page, f.url);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/');
    await page.goto(`${page.url()}&method=recovery`);
    await page.getByLabel('Enter one of your recovery codes').fill(codes[3]);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify' }).click()]);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'the same recovery code a second time is refused');
    t.match(await page.locator('.alert--error').textContent(), /not valid or was already used/);

    // --- "Trust this browser": the next sign-in skips the routine challenge
    await page.goto(`${f.url}/.gatehouse/challenge?rd=%2Fexport&method=totp`);
    await page.getByLabel(/Trust this browser for 30 days/).check();
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(page.url(), `${f.url}/export`, 'passed with the browser trusted');
    t.ok((await page.context().cookies()).some((c) => c.name.endsWith('_device')), 'a device cookie is set');

    await signOut(page, f.url);
    visited.length = 0;
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/billing');
    t.equal(page.url(), `${f.url}/billing`, 'signed in straight to the portal');
    t.notOk(visited.includes('/.gatehouse/challenge'), 'no challenge on the trusted browser');
    id = await portalIdentity(page);
    t.equal(id.User, 'alice');

    // The account page lists the app and the trusted browser. A trusted browser
    // skips the sign-in check, not the security page's: it asks for the app.
    await page.goto(`${f.url}/.gatehouse/account`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'the security page needs a second factor in this session');
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.match(await page.locator('.item__title').allTextContents(), [/Authenticator app|authenticator/i, /Chrome on Linux/], 'the account page lists the factor and the trusted browser');
    t.match(await page.locator('main').textContent(), /9 unused codes left/, 'one recovery code used, nine left');

    t.same(problems, [], 'no CSP violation or script error on any page');
    await page.context().close();
  });

  t.test('setup keeps its secret through a wrong code and a reload; phone gets an otpauth link and a copy button', async (t) => {
    const page = await newPage(browser, { phone: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: f.url });
    const problems = watchConsole(page);
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/reports');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);

    const link = page.getByRole('link', { name: 'Open in authenticator app' });
    t.ok(await link.isVisible(), 'on a phone the otpauth link is shown');
    const uri = new URL((await link.getAttribute('href')) ?? '');
    t.equal(uri.protocol, 'otpauth:', 'it is an otpauth:// link');
    const secret = uri.searchParams.get('secret') ?? '';
    await page.getByText(/Can’t scan\?/).click();
    t.equal(((await page.locator('.secret code').textContent()) ?? '').replace(/ /g, ''), secret, 'the key shown is the one in the link');
    const copy = page.getByRole('button', { name: 'Copy key' });
    await copy.click();
    t.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'Copy key puts the key on the clipboard');
    t.equal(await page.locator('[data-copy-text]').textContent(), 'Key copied', 'and says so');

    // A wrong code: the same secret, the error tied to the box.
    await enterCode(page, '000000', 'Enter the 6-digit code your app shows');
    t.match(await page.locator('.field__error').textContent(), /That code is not right/);
    const box = page.getByLabel('Enter the 6-digit code your app shows');
    t.equal(await box.getAttribute('aria-invalid'), 'true', 'the box is marked invalid');
    t.match(await box.getAttribute('aria-describedby') ?? '', /code-error/, 'and described by the message');
    const keyAfter = async () => new URL((await page.getByRole('link', { name: 'Open in authenticator app' }).getAttribute('href')) ?? '').searchParams.get('secret');
    t.equal(await keyAfter(), secret, 'a wrong code keeps the secret the user scanned');
    await screenshotModes(page, 'totp-setup-wrong-code');

    await page.goto(`${f.url}/.gatehouse/enroll?rd=%2Freports&method=totp`);
    t.equal(await keyAfter(), secret, 'a reload keeps it too');

    // Asking for a new key replaces it, and says so.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Start over with a new key' }).click()]);
    const renewed = await keyAfter();
    t.not(renewed, secret, '"Start over with a new key" gives a new key');
    t.match(await page.locator('.alert--notice').textContent(), /This is a new key/);
    await screenshotModes(page, 'totp-setup-new-key');

    const device = new TotpDevice(renewed ?? '', f.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');
    t.equal(new URL(page.url()).searchParams.get('step'), 'recovery', 'the code from the new key turns it on');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });
}
