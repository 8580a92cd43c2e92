// Passkeys and security keys in Debian's Chromium with CDP virtual
// authenticators: enrollment through the enroll page (choose, name, register,
// recovery codes), then the challenge with the same authenticator; a USB
// security key likewise; and a failed user verification that must not let
// anyone through.

import t from 'tap';
import type { Page } from 'playwright-core';
import { addVirtualAuthenticator, authenticatorCredentials, newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { enrollWebAuthn, portalIdentity, setUserVerified, signIn, signOut, startBrowserGateway, watchConsole } from './harness.ts';

const USERS = {
  alice: { password: 'alice-test-pass', groups: ['admins'] },
  bob: { password: 'bob-test-pass', groups: ['staff'] },
  carol: { password: 'carol-test-pass', groups: ['staff'] },
};

/** Clicks the challenge's passkey button and waits for where webauthn.js sends the browser. */
async function usePasskey(page: Page, base: string, expected: string): Promise<void> {
  await Promise.all([page.waitForURL(`${base}${expected}`), page.getByRole('button', { name: 'Use passkey or security key' }).click()]);
}

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    users: USERS,
    config: { policy: { default: 'mfa' }, rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' } },
  });

  t.test('a passkey (platform authenticator, resident key, UV): enroll through the page, then sign in with it', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    const authenticator = await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true });

    await signIn(page, f.url, 'alice', 'alice-test-pass', '/reports');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll');
    await enrollWebAuthn(t, page, 'passkey', 'Work laptop');
    t.equal(page.url(), `${f.url}/reports`, 'enrolled and on to the portal');
    t.match((await portalIdentity(page))['Auth methods'], /\bhwk\b/, 'the portal is told a hardware-bound key was used');

    const creds = await authenticatorCredentials(page, authenticator);
    t.equal(creds.length, 1, 'the authenticator holds one credential');
    t.equal(creds[0].isResidentCredential, true, 'a discoverable credential (passkey)');
    t.equal(creds[0].rpId, 'localhost');

    await page.goto(`${f.url}/.gatehouse/account`);
    t.match(await page.locator('.item__title').allTextContents(), ['Work laptop'], 'the account page shows the name given');

    await signOut(page, f.url);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/billing');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge');
    t.ok(await page.getByRole('button', { name: 'Use passkey or security key' }).isVisible(), 'the passkey is offered first');
    await usePasskey(page, f.url, '/billing');
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice');
    t.match(id['Auth methods'], /\bhwk\b/);
    t.ok((await authenticatorCredentials(page, authenticator))[0].signCount >= 2, 'the authenticator signed again');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('a USB security key (roaming, no resident key): enroll and sign in', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    const key = await addVirtualAuthenticator(page, { transport: 'usb', residentKey: false, userVerification: false, userVerified: false });

    await signIn(page, f.url, 'bob', 'bob-test-pass', '/');
    await enrollWebAuthn(t, page, 'security-key', 'YubiKey blue');
    t.equal(page.url(), `${f.url}/`);
    const creds = await authenticatorCredentials(page, key);
    t.equal(creds.length, 1, 'the key holds one credential');
    t.equal(creds[0].isResidentCredential, false, 'a server-side credential (security key)');

    await signOut(page, f.url);
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/export');
    await usePasskey(page, f.url, '/export');
    t.equal((await portalIdentity(page)).User, 'bob', 'signed in with the security key');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('user verification fails: an error on the page, nobody let through', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    const authenticator = await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true });
    await signIn(page, f.url, 'carol', 'carol-test-pass', '/');
    await enrollWebAuthn(t, page, 'passkey', 'Phone');
    t.equal(page.url(), `${f.url}/`);
    await signOut(page, f.url);

    // The fingerprint / PIN check fails from now on.
    await setUserVerified(page, authenticator, false);

    await signIn(page, f.url, 'carol', 'carol-test-pass', '/reports');
    const challengeUrl = page.url();
    await page.getByRole('button', { name: 'Use passkey or security key' }).click();
    // The browser keeps asking while the check fails, as with a real fingerprint reader.
    const waiting = page.getByRole('button', { name: 'Waiting for your device…' });
    await waiting.waitFor();
    t.ok(await waiting.isDisabled(), 'the page says it is waiting for the device');
    await page.waitForTimeout(2_000);
    t.equal(page.url(), challengeUrl, 'a failing fingerprint/PIN gets nowhere');
    // The person gives up and closes the browser's prompt.
    await page.evaluate(() => (globalThis as unknown as { SimpleWebAuthnBrowser: { WebAuthnAbortService: { cancelCeremony(): void } } }).SimpleWebAuthnBrowser.WebAuthnAbortService.cancelCeremony());
    const error = page.locator('[data-webauthn-error]');
    await error.waitFor({ state: 'visible' });
    t.equal(await error.textContent(), 'The request was cancelled or timed out. Try again.', 'the page says it did not work, in plain words');
    await screenshot(page, 'e2e-passkey-uv-failed');
    t.equal(page.url(), challengeUrl, 'still on the challenge');
    t.ok(await page.getByRole('button', { name: 'Use passkey or security key' }).isEnabled(), 'the button can be tried again');
    await page.goto(`${f.url}/reports`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'the portal is still out of reach');
    t.same(problems.filter((p) => !/NotAllowedError/.test(p)), [], 'no CSP violation or script error');
    await page.context().close();
  });
}
