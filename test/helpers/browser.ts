// The project's browser harness: Debian's Chromium driven by playwright-core
// (never a downloaded browser), with CDP virtual authenticators for WebAuthn.
// Serve pages on http://localhost:PORT, not 127.0.0.1: WebAuthn needs a
// secure context and an RP ID that is a domain.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 375, height: 740 } as const;

export const ARTIFACTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

/**
 * True when Chromium is there. Otherwise: under CI=true a failing assertion
 * (the browser is part of the toolchain), locally a loud skip.
 */
export function requireChromium(t: Test): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const why = `${CHROMIUM_PATH} is missing: apt-get install -y chromium`;
  if (process.env.CI === 'true') {
    t.fail(`browser tests need Chromium: ${why}`);
  } else {
    const banner = `!!! SKIPPING BROWSER TESTS: ${why} !!!`;
    console.error(banner);
    t.comment(banner);
    t.skip(banner, () => {});
  }
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true });
}

/** A page in its own context, desktop (1280×800) or phone (375×740, touch, mobile UA metrics). */
export async function newPage(browser: Browser, opts: { phone?: boolean; colorScheme?: 'light' | 'dark' } = {}): Promise<Page> {
  const context = await browser.newContext(
    opts.phone
      ? { viewport: { ...PHONE }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: opts.colorScheme ?? 'light' }
      : { viewport: { ...DESKTOP }, colorScheme: opts.colorScheme ?? 'light' },
  );
  return context.newPage();
}

/** Saves a full-page PNG (or JPEG: half the time, for the large page matrices) as test/artifacts/<name>.<type> and returns its path. */
export async function screenshot(page: Page, name: string, type: 'png' | 'jpeg' = 'png'): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)} is not a plain file name`);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.${type === 'jpeg' ? 'jpg' : 'png'}`);
  await page.screenshot({ path: file, fullPage: true, ...(type === 'jpeg' ? { type, quality: 85 } : {}) });
  return file;
}

export interface VirtualAuthenticatorOptions {
  /** 'internal' = platform authenticator (passkey), 'usb' = roaming security key. */
  transport?: 'internal' | 'usb';
  residentKey?: boolean;
  userVerification?: boolean;
  /** Whether the user "passes" verification (fingerprint/PIN); false to test refusals. */
  userVerified?: boolean;
  /** Touch the key automatically when asked. */
  presence?: boolean;
  /**
   * Let the page offer passkeys in the username field's autofill (conditional
   * mediation). Chromium's virtual authenticator answers such an offer at once,
   * where a person would have to pick the passkey: off by default, so a test
   * that signs in with a password does so, as a person ignoring the offer would.
   */
  autofill?: boolean;
}

// Virtual authenticators live as long as the CDP session that made them: keep one per page.
const webauthnSessions = new WeakMap<Page, CDPSession>();

async function webauthnSession(page: Page): Promise<CDPSession> {
  let cdp = webauthnSessions.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    webauthnSessions.set(page, cdp);
  }
  return cdp;
}

/** Adds a CTAP2 virtual authenticator to the page (WebAuthn.enable + addVirtualAuthenticator); returns its id. */
export async function addVirtualAuthenticator(page: Page, opts: VirtualAuthenticatorOptions = {}): Promise<string> {
  const cdp = await webauthnSession(page);
  if (!opts.autofill) {
    await page.addInitScript(() => {
      const pkc = (globalThis as unknown as { PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> } }).PublicKeyCredential;
      if (pkc) pkc.isConditionalMediationAvailable = async () => false;
    });
  }
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: opts.transport ?? 'internal',
      hasResidentKey: opts.residentKey ?? true,
      hasUserVerification: opts.userVerification ?? true,
      isUserVerified: opts.userVerified ?? true,
      automaticPresenceSimulation: opts.presence ?? true,
    },
  });
  return authenticatorId;
}

/** The credentials a virtual authenticator holds (to check what a registration stored). */
export async function authenticatorCredentials(page: Page, authenticatorId: string): Promise<Array<{ credentialId: string; isResidentCredential: boolean; rpId?: string; signCount: number }>> {
  const cdp = await webauthnSession(page);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}
