// The pages in a real browser (Debian's Chromium): served with PAGE_HEADERS and
// the static assets from a tiny node:http server on localhost, at desktop and
// phone widths. Screenshots land in test/artifacts/ for people to look at.

import t from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createRenderer } from '../../src/ui/render.ts';
import { PAGE_HEADERS } from '../../src/web/security-headers.ts';
import { createStaticAssets, defaultStaticSources, STATIC_HEADERS } from '../../src/ui/static-assets.ts';
import {
  addVirtualAuthenticator,
  authenticatorCredentials,
  launchBrowser,
  newPage,
  requireChromium,
  screenshot,
} from '../helpers/browser.ts';

const VIEWS = path.resolve(import.meta.dirname, '..', '..', 'views');

interface PageCase {
  id: string;
  page: string;
  data: Record<string, unknown>;
}

const CASES: PageCase[] = [
  { id: 'login', page: 'login', data: { rd: '/billing', csrf: 'csrf-login' } },
  { id: 'login-error', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', error: "That username and password don't match. Check them and try again." } },
  { id: 'login-lockout', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', wait_seconds: 30 } },
  { id: 'login-lockout-short', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', wait_seconds: 2 } },
  ...[400, 403, 404, 429, 502, 503, 504].map((status) => ({
    id: `error-${status}`,
    page: 'error',
    data: {
      status,
      request_id: '01JD4X7Q9R2MZK8V3N5T6W',
      rule_id: status === 403 ? 'billing-admins-only' : undefined,
      wait_seconds: status === 429 ? 45 : undefined,
      retry_url: '/billing/invoices',
    },
  })),
  { id: 'challenge-webauthn', page: 'challenge', data: { mode: 'webauthn', flow: { rd: '/', rule: null, stash: null, resubmit: false }, query: 'rd=%2F', csrf: 'csrf-wa', methods: [], remember_days: 0, scripts: ['simplewebauthn-browser.js', 'webauthn.js'] } },
  { id: 'signed-out', page: 'signed-out', data: {} },
  { id: 'logout', page: 'logout', data: { csrf: 'csrf-logout', username: 'alice' } },
  { id: 'styleguide', page: 'styleguide', data: { csrf: 'csrf-sg', demo_action: '/echo' } },
];

interface Posted {
  path: string;
  form: URLSearchParams;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function startServer(): Promise<{ server: Server; origin: string; posted: Posted[] }> {
  const assets = createStaticAssets(defaultStaticSources(VIEWS));
  const renderer = createRenderer(VIEWS, { product_name: 'Example Portal', support_contact: 'it-help@example.com' }, { assetVersion: assets.version });
  const byId = new Map(CASES.map((c) => [c.id, c]));
  const posted: Posted[] = [];
  let port = 0;

  const html = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, PAGE_HEADERS).end(body);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname.startsWith('/.gatehouse/static/')) {
      const asset = assets(url.pathname.slice('/.gatehouse/static/'.length));
      if (!asset) return void res.writeHead(404).end();
      return void res.writeHead(200, { ...STATIC_HEADERS, 'Content-Type': asset.type, ETag: asset.etag }).end(asset.body);
    }
    if (req.method === 'GET' && url.pathname.startsWith('/p/')) {
      const c = byId.get(url.pathname.slice(3));
      if (!c) return void res.writeHead(404).end();
      return html(res, c.page === 'error' ? Number(c.data.status) : 200, renderer.page(c.page, c.data));
    }
    if (req.method === 'POST') {
      posted.push({ path: url.pathname, form: new URLSearchParams(await readBody(req)) });
      // Sign-in: see other, same origin (what the gateway does with rd).
      if (url.pathname === '/.gatehouse/login') return void res.writeHead(303, { Location: '/app' }).end();
      // A form POST redirected to another origin (127.0.0.1 ≠ localhost).
      if (url.pathname === '/cross') return void res.writeHead(303, { Location: `http://127.0.0.1:${port}/app` }).end();
      return html(res, 200, renderer.page('signed-out', { notice: `received ${url.pathname}` }));
    }
    if (req.method === 'GET' && url.pathname === '/app') return html(res, 200, renderer.page('signed-out', { notice: 'app reached' }));
    if (req.method === 'GET' && url.pathname === '/blank') return html(res, 200, '<!doctype html><title>blank</title>');
    res.writeHead(404).end();
  });

  return new Promise((resolve) => {
    // 'localhost', not 127.0.0.1: WebAuthn needs a domain RP ID.
    server.listen(0, 'localhost', () => {
      port = (server.address() as AddressInfo).port;
      resolve({ server, origin: `http://localhost:${port}`, posted });
    });
  });
}

/** Console errors and CSP reports a page produces while it lives. */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    const text = msg.text();
    // An error page's own status (4xx/5xx) is logged as a failed load; that is the page working.
    if (/^Failed to load resource: the server responded with a status of/.test(text) && msg.location().url === page.url()) return;
    if (msg.type() === 'error' || /Content Security Policy|Permissions-Policy/i.test(text)) problems.push(`${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return problems;
}

if (requireChromium(t)) {
  const { server, origin, posted } = await startServer();
  const browser: Browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  for (const phone of [false, true]) {
    const width = phone ? 'phone' : 'desktop';
    t.test(`every page at ${width} width: CSP-clean, styled, fits, screenshot`, async (t) => {
      const page = await newPage(browser, { phone });
      const problems = watchConsole(page);
      for (const c of CASES) {
        const response = await page.goto(`${origin}/p/${c.id}`);
        t.equal(response?.headers()['content-security-policy'], PAGE_HEADERS['Content-Security-Policy'], `${c.id}: CSP header`);
        await page.waitForLoadState('load');
        const facts = await page.evaluate(() => ({
          font: getComputedStyle(document.body).fontFamily,
          cardWidth: document.querySelector('main.card')?.getBoundingClientRect().width ?? 0,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          h1: document.querySelector('h1')?.textContent ?? '',
          lang: document.documentElement.lang,
          smallTargets: [...document.querySelectorAll('button, .button, input:not([type=hidden]):not([type=checkbox]), .check__label, .method-card')]
            .map((el) => ({ el: (el as HTMLElement).outerHTML.slice(0, 60), h: el.getBoundingClientRect().height }))
            .filter((x) => x.h > 0 && x.h < 44),
        }));
        t.match(facts.font, /system-ui/, `${c.id}: stylesheet applied under CSP`);
        t.ok(facts.h1.length > 0, `${c.id}: has a heading`);
        t.equal(facts.lang, 'en');
        t.ok(facts.overflow <= 0, `${c.id}: no horizontal scrolling (overflow ${facts.overflow}px)`);
        t.same(facts.smallTargets, [], `${c.id}: tap targets at least 44px tall`);
        if (phone) t.ok(facts.cardWidth <= 375, `${c.id}: card fits a 375px phone`);
        else t.ok(facts.cardWidth > 400 && facts.cardWidth <= 40 * 16 + 1, `${c.id}: centered card ~28rem (${facts.cardWidth}px)`);
        await screenshot(page, phone ? `${c.id}-phone` : c.id);
      }
      t.same(problems, [], 'no CSP violation or console error on any page');
      await page.context().close();
    });
  }

  t.test('dark mode screenshots', async (t) => {
    const page = await newPage(browser, { colorScheme: 'dark' });
    const problems = watchConsole(page);
    for (const id of ['login-error', 'error-503', 'styleguide']) {
      await page.goto(`${origin}/p/${id}`);
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      t.equal(bg, 'rgb(17, 20, 26)', `${id}: dark background`);
      await screenshot(page, `${id}-dark`);
    }
    const phone = await newPage(browser, { phone: true, colorScheme: 'dark' });
    await phone.goto(`${origin}/p/login`);
    await screenshot(phone, 'login-phone-dark');
    t.same(problems, []);
    await page.context().close();
    await phone.context().close();
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
    await page.waitForTimeout(500);
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
    await page.goto(`${origin}/p/login-lockout-short`);
    const button = page.getByRole('button', { name: 'Sign in', exact: true });
    t.equal(await page.getByRole('alert').textContent().then((s) => s?.trim()), 'Too many attempts. Try again in 2 seconds.');
    t.ok(await button.isDisabled(), 'disabled while locked');
    await page.getByText('Try again in 1 second.').waitFor({ timeout: 5000 });
    t.equal(await page.locator('.alert').getAttribute('aria-live'), 'off', 'while it ticks the message is not re-announced');
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
