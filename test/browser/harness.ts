// What the end-to-end browser tests share: a gateway on a fixed localhost port
// with a Chromium page in front of it, TOTP codes from Debian's oathtool (an
// implementation independent of the gateway's), console watching (CSP
// violations, script errors) and the few user gestures every flow repeats.

import type { Test } from 'tap';
import type { Browser, Page } from 'playwright-core';
import { axeViolations } from '../helpers/axe.ts';
import { startTestGateway, type GatewayFixture, type TestUser } from '../helpers/gateway.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';

export { TOTP_PERIOD_MS, oathtoolAt, TotpDevice, enrollTotpOverHttp } from '../helpers/totp.ts';

/** Console errors, CSP reports and uncaught page errors while the page lives. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    const text = msg.text();
    // A 4xx/5xx page logs its own status as a failed load: that is the page working.
    if (/^Failed to load resource: the server responded with a status of/.test(text)) return;
    if (msg.type() === 'error' || /Content Security Policy|Permissions-Policy/i.test(text)) problems.push(`${msg.type()}: ${text} (${page.url()})`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message} (${page.url()})`));
  return problems;
}

export interface BrowserFixture {
  f: GatewayFixture;
  browser: Browser;
}

/** A gateway (its public_url names its port exactly: the WebAuthn origin) plus a Chromium; both closed at teardown. */
export async function startBrowserGateway(t: Test, opts: { config?: Record<string, unknown>; users?: Record<string, TestUser> } = {}): Promise<BrowserFixture> {
  const f = await startTestGateway(opts);
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await f.close();
  });
  return { f, browser };
}

/** Fills and submits the sign-in form on the current page; resolves when the next page has loaded. */
export async function submitLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
}

/** Opens `path`, which sends an anonymous browser to the login page, and signs in. */
export async function signIn(page: Page, base: string, username: string, password: string, path = '/'): Promise<void> {
  await page.goto(base + path);
  if (!new URL(page.url()).pathname.startsWith('/.gatehouse/login')) throw new Error(`expected the login page, got ${page.url()}`);
  await submitLogin(page, username, password);
}

/** Signs out through the gateway's own confirmation page. */
export async function signOut(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/.gatehouse/logout`);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
}

/**
 * Types a one-time code into the page's code box. The box submits itself when
 * the last digit is in (autosubmit.js), so this waits for that navigation
 * instead of pressing the button (which would post the form twice).
 */
export async function enterCode(page: Page, code: string, label: string | RegExp = /code/i): Promise<void> {
  const box = page.getByLabel(label);
  await Promise.all([page.waitForNavigation(), box.fill(code)]);
}

/** The identity the demo portal shows (what the gateway injected upstream). */
export async function portalIdentity(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const row of document.querySelectorAll('#identity table.ident tr')) {
      const cells = row.querySelectorAll('td, th');
      if (cells.length >= 2) out[(cells[0].textContent ?? '').trim()] = (cells[1].textContent ?? '').trim();
    }
    return out;
  });
}

export { launchBrowser };

/**
 * From the enrollment picker: choose passkey/security key, pick the kind, name it, register; use
 * it once (a registration is not a use of it, README "Security model"); then save recovery codes
 * and continue. For a first factor.
 */
export async function enrollWebAuthn(t: Test, page: Page, kind: 'passkey' | 'security-key', name: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Passkey or security key/ }).click()]);
  t.equal(await page.locator('h1').textContent(), 'Add a passkey or security key');
  await page.getByLabel(kind === 'passkey' ? 'This device or phone (passkey)' : 'A security key (USB or NFC)').check();
  await page.getByLabel('Name it').fill(name);
  await Promise.all([page.waitForURL(/\/\.gatehouse\/challenge\?method=webauthn&/), page.getByRole('button', { name: 'Continue' }).click()]);
  t.ok(await page.getByRole('button', { name: 'Use passkey or security key' }).isVisible(), 'the new key is asked for at once');
  await Promise.all([page.waitForURL(/step=recovery/), page.getByRole('button', { name: 'Use passkey or security key' }).click()]);
  t.equal((await page.locator('.recovery__codes code').allTextContents()).length, 10, 'recovery codes follow the first factor');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
  t.equal(await page.locator('h1').textContent(), 'You’re all set');
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
}

/**
 * WebAuthn.setUserVerified on an authenticator made by the helpers'
 * addVirtualAuthenticator. Virtual authenticators belong to the page's
 * target, so a second CDP session on it can reach them.
 */
export async function setUserVerified(page: Page, authenticatorId: string, isUserVerified: boolean): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
  } finally {
    await cdp.detach();
  }
}


/** The widths and colour schemes every new screen is looked at in. */
export const SCREEN_MODES = [
  { suffix: 'desktop-light', viewport: { width: 1280, height: 800 }, colorScheme: 'light' },
  { suffix: 'desktop-dark', viewport: { width: 1280, height: 800 }, colorScheme: 'dark' },
  { suffix: 'phone-light', viewport: { width: 390, height: 844 }, colorScheme: 'light' },
  { suffix: 'phone-dark', viewport: { width: 390, height: 844 }, colorScheme: 'dark' },
] as const;

/**
 * Screenshots the page as it is now (no reload: a POST answer stays) in every
 * SCREEN_MODES width and scheme, as test/artifacts/<name>-<mode>.png, then
 * puts the page back to its first viewport and light scheme. Returns the files.
 */
export async function screenshotModes(page: Page, name: string): Promise<string[]> {
  const original = page.viewportSize();
  const files: string[] = [];
  for (const mode of SCREEN_MODES) {
    await page.setViewportSize(mode.viewport);
    await page.emulateMedia({ colorScheme: mode.colorScheme });
    files.push(await screenshot(page, `${name}-${mode.suffix}`));
  }
  if (original) await page.setViewportSize(original);
  await page.emulateMedia({ colorScheme: 'light' });
  return files;
}

/** screenshotModes, and axe-core on the page in each colour scheme (contrast differs between them). */
export async function lookAt(t: Test, page: Page, name: string): Promise<void> {
  await screenshotModes(page, name);
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    t.same(await axeViolations(page), [], `${name} (${colorScheme}): axe finds no violation`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
