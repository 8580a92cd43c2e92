// The pages a user can meet, rendered by the real templates and served with
// PAGE_HEADERS and the static assets from a tiny node:http server on localhost;
// and the look at every one of them in a real browser (Debian's Chromium): checks,
// axe-core, screenshots. Used by pages.browser.test.ts and by one file per language
// (pages-en, pages-de), so tap runs the languages side by side.

import type { Test } from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type axe from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createRenderer } from '../../src/ui/render.ts';
import { PAGE_HEADERS } from '../../src/web/security-headers.ts';
import { createStaticAssets, defaultStaticSources, STATIC_HEADERS } from '../../src/ui/static-assets.ts';
import { axeViolations, WCAG_RULES } from '../helpers/axe.ts';
import { launchBrowser, requireChromium, screenshot } from '../helpers/browser.ts';
import { rtlTestCatalog } from '../helpers/rtl-catalog.ts';

const VIEWS = path.resolve(import.meta.dirname, '..', '..', 'views');

export interface PageCase {
  id: string;
  page: string;
  data: Record<string, unknown>;
  /** false: served for a behaviour test, too like another case to screenshot again. */
  look?: false;
}

const FLOW = { rd: '/billing', rule: null, stash: null, resubmit: false };
const QUERY = 'rd=%2Fbilling';
const DAY = 86_400_000;
const AT = Date.parse('2026-11-22T09:30:00Z');
// A stand-in QR code (the page allows data: images).
const QR = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29"><rect width="29" height="29" fill="#fff"/><path d="M1 1h7v7H1zM21 1h7v7h-7zM1 21h7v7H1zM11 11h7v7h-7z"/></svg>').toString('base64')}`;
const card = (kind: string, extra: Record<string, unknown> = {}) => ({
  kind, title: { key: `factor.${kind}.label` }, description: { key: `factor.${kind}.description` }, badge: { key: `factor.${kind}.badge` },
  tone: kind === 'webauthn' ? 'strong' : kind === 'email' || kind === 'sms' ? 'warn' : 'info', href: `/.gatehouse/challenge?${QUERY}&method=${kind}`, ...extra,
});
const challenge = (mode: string, extra: Record<string, unknown> = {}) => ({
  mode, flow: FLOW, query: QUERY, csrf: 'csrf-ch', methods: ['webauthn', 'totp', 'email', 'recovery'].map((k) => card(k)), has_others: true,
  another_url: `/.gatehouse/challenge?${QUERY}&method=pick`, remember_days: 30, email: 'a•••••@example.com', code_length: 6,
  scripts: mode === 'webauthn' ? ['simplewebauthn-browser.js', 'webauthn.js'] : ['autosubmit.js'], ...extra,
});
const STEPS = (current: number, key: string) => ({ current, total: 3, label: { key } });
const enroll = (mode: string, extra: Record<string, unknown> = {}) => ({ mode, flow: FLOW, query: QUERY, csrf: 'csrf-en', ...extra });
const ACCOUNT = {
  csrf: 'csrf-acc', user: { id: 'alice', display_name: 'Alice Example', email: 'alice@example.com' }, recovery_remaining: 7, home_url: '/',
  factors: [
    { id: 'f1', name: 'Work laptop', kind: 'webauthn', created: AT - 40 * DAY, last_used: AT - DAY, renamable: true },
    { id: 'f2', name: 'Authenticator app', kind: 'totp', created: AT - 90 * DAY, last_used: null, renamable: false },
  ],
  devices: [{ id: 'd1', label: 'Chrome on Linux', created: AT - 3 * DAY, expires: AT + 27 * DAY, last_used: AT }],
  sessions: [
    { id: 's1', label: 'Chrome on Linux', network: '203.0.113.0/24', created: AT - DAY, last_seen: AT, current: true },
    { id: 's2', label: 'Safari on iPhone', network: '198.51.100.0/24', created: AT - 5 * DAY, last_seen: AT - 2 * DAY, current: false },
  ],
};

export const CASES: PageCase[] = [
  { id: 'login', page: 'login', data: { rd: '/billing', csrf: 'csrf-login' } },
  { id: 'login-error', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', error: { key: 'login.wrong_password' } } },
  { id: 'login-lockout', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', wait_seconds: 30 } },
  { id: 'login-account-locked', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', error: { key: 'lockout.account_locked' } } },
  { id: 'login-lockout-short', page: 'login', data: { rd: '/', csrf: 'csrf-login', username: 'alice', wait_seconds: 2 }, look: false },
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
  { id: 'error-risk-refused', page: 'error', data: { status: 403, request_id: '01JD4X7Q9R2MZK8V3N5T6W', heading: { key: 'signin.risk_denied.heading' }, message: { key: 'signin.risk_denied.message' }, hint: { key: 'signin.risk_denied.hint' }, rule_id: 'risk' } },
  { id: 'error-oidc-expired', page: 'error', data: { status: 400, heading: { key: 'oidc.expired.heading' }, message: { key: 'oidc.expired.message' }, hint: { key: 'oidc.expired.hint' }, retry_url: '/.gatehouse/login' } },
  { id: 'challenge-pick', page: 'challenge', data: challenge('pick') },
  { id: 'challenge-totp', page: 'challenge', data: challenge('totp') },
  { id: 'challenge-totp-wrong', page: 'challenge', data: challenge('totp', { error: [{ key: 'challenge.code_wrong' }, { key: 'challenge.attempts_left', count: 2 }] }) },
  { id: 'challenge-recovery', page: 'challenge', data: challenge('recovery') },
  { id: 'challenge-email', page: 'challenge', data: challenge('email') },
  { id: 'challenge-email-sent', page: 'challenge', data: challenge('email', { code_sent: true, notice: { key: 'challenge.code_sent', params: { email: 'a•••••@example.com' } } }) },
  { id: 'challenge-sms-sent', page: 'challenge', data: challenge('sms', { code_sent: true }), look: false },
  { id: 'challenge-webauthn', page: 'challenge', data: { mode: 'webauthn', flow: { rd: '/', rule: null, stash: null, resubmit: false }, query: 'rd=%2F', csrf: 'csrf-wa', methods: [], remember_days: 0, scripts: ['simplewebauthn-browser.js', 'webauthn.js'] } },
  { id: 'challenge-locked', page: 'challenge', data: challenge('totp', { wait_seconds: 90 }) },
  // The stash interstitial: a kept form, sent after the check; and one too large to keep.
  { id: 'challenge-step-up-pending', page: 'challenge', data: challenge('totp', { step_up: true, remember_days: 0, pending: { method: 'POST', path: '/billing/pay' }, cancel_url: '/' }) },
  { id: 'challenge-resubmit', page: 'challenge', data: challenge('totp', { step_up: true, remember_days: 0, flow: { ...FLOW, resubmit: true }, cancel_url: '/' }) },
  { id: 'challenge-why-remove', page: 'challenge', data: challenge('totp', { flow: { ...FLOW, rd: '/.gatehouse/account?resume=1', why: 'remove-factor' }, remember_days: 0, cancel_url: '/.gatehouse/account' }) },
  { id: 'challenge-needs', page: 'challenge', data: challenge('none', { needed: ['webauthn'], has: ['totp', 'email'], enroll_url: '/.gatehouse/enroll?method=webauthn' }) },
  { id: 'enroll-pick', page: 'enroll', data: enroll('pick', { first: true, step: STEPS(1, 'enroll.step.pick'), methods: ['webauthn', 'totp', 'email'].map((k, i) => card(k, { recommended: i === 0 })), deferral: { remaining: 2, until: '2026-12-31' } }) },
  { id: 'enroll-after-recovery', page: 'enroll', data: enroll('pick', { after_recovery: { remaining: 4 }, methods: ['webauthn', 'totp'].map((k) => card(k)), cancel_url: '/billing' }) },
  { id: 'enroll-needs', page: 'enroll', data: enroll('needs', { needs: { needed: ['webauthn'], has: ['totp'] }, confirm_url: '/.gatehouse/challenge' }) },
  { id: 'enroll-totp', page: 'enroll', data: enroll('totp', { step: STEPS(2, 'enroll.totp_title'), qr: QR, secret: 'JBSW Y3DP EHPK 3PXP', plain_secret: 'JBSWY3DPEHPK3PXP', uri: 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP', code_error: 'wrong', scripts: ['autosubmit.js', 'copy.js'] }) },
  { id: 'enroll-webauthn', page: 'enroll', data: enroll('webauthn', { step: STEPS(2, 'enroll.webauthn_title'), scripts: ['simplewebauthn-browser.js', 'webauthn.js'] }) },
  { id: 'enroll-email-sent', page: 'enroll', data: enroll('email', { step: STEPS(2, 'enroll.email_title'), email: 'alice@example.com', code_sent: true, notice: { key: 'enroll.email_sent', params: { email: 'alice@example.com' } }, scripts: ['autosubmit.js'] }) },
  { id: 'enroll-sms', page: 'enroll', data: enroll('sms', { step: STEPS(2, 'enroll.sms_title'), error: { key: 'enroll.sms_phone_bad', params: { example: '+44 7700 900123' } }, phone: '0770', scripts: ['autosubmit.js'] }) },
  { id: 'enroll-recovery', page: 'enroll', data: enroll('recovery', { step: STEPS(3, 'enroll.step.recovery'), codes: ['k7mq-2xhp-9wdt', 'a3cv-88rn-t2pk', 'zz4m-hq7e-1bcx', 'pp2w-m9kd-7tga', 'ux5n-3jre-k8dm', 'q2fb-6cyv-w4ho', 'e9la-t5gs-r0ju', 'n1xi-4vzq-h6ey'], username: 'alice', download: 'data:text/plain;base64,eA==', scripts: ['recovery.js'] }) },
  { id: 'enroll-done', page: 'enroll', data: enroll('done', { continue_url: '/billing' }) },
  { id: 'account', page: 'account', data: { ...ACCOUNT, wide: true } },
  { id: 'account-done', page: 'account', data: { ...ACCOUNT, wide: true, done: 'removed', resumed: true }, look: false },
  { id: 'account-last-factor', page: 'account', data: { ...ACCOUNT, wide: true, error_key: 'last-factor' } },
  { id: 'account-confirm-remove', page: 'account', data: { ...ACCOUNT, wide: true, confirm: { action: 'remove-factor', id: 'f1', name: 'Work laptop' } } },
  { id: 'account-confirm-everywhere', page: 'account', data: { ...ACCOUNT, wide: true, confirm: { action: 'sign-out-everywhere' } } },
  { id: 'signed-out', page: 'signed-out', data: {} },
  { id: 'signed-out-everywhere', page: 'signed-out', data: { everywhere: true } },
  { id: 'logout', page: 'logout', data: { csrf: 'csrf-logout', username: 'alice' } },
  { id: 'styleguide', page: 'styleguide', data: { csrf: 'csrf-sg', demo_action: '/echo' } },
];

/** The right-to-left sample covers the pages a new user meets first (every page is looked at in English and German). */
export const RTL_SAMPLE = ['login-error', 'challenge-pick', 'enroll-pick', 'account'];
// (The style guide is a page for developers: English only.)

export interface Posted {
  path: string;
  form: URLSearchParams;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export function startServer(): Promise<{ server: Server; origin: string; posted: Posted[] }> {
  const assets = createStaticAssets(defaultStaticSources(VIEWS));
  const renderer = createRenderer(VIEWS, { product_name: 'Example Portal', support_contact: 'it-help@example.com' }, {
    assetVersion: assets.version,
    // An operator's right-to-left catalog (ui.catalog_dir) beside the shipped languages.
    ui: { languages: ['en', 'de', 'fr', 'es', 'ar'], default_language: 'en', time_zone: 'Europe/Berlin', catalogs: { ar: rtlTestCatalog() } },
  });
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
      const lang = url.searchParams.get('lang') ?? req.headers['accept-language'];
      return html(res, c.page === 'error' ? Number(c.data.status) : 200, renderer.page(c.page, { ...c.data, accept_language: lang }));
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
export function watchConsole(page: Page): string[] {
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

/** One context per width, reused for every page (light and dark are media emulation, not new contexts). */
const MODES = [
  { name: 'desktop', options: { viewport: { width: 1280, height: 800 } } },
  { name: 'phone', options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
] as const;

/** The rule that changes with the colour scheme and the layout. */
const COLOUR_CONTRAST: axe.RunOptions['runOnly'] = { type: 'rule', values: ['color-contrast'] };

/** Every page in `langs` at both widths, light and dark: checks, axe, screenshot. */
export async function lookAtEveryPage(t: Test, browser: Browser, origin: string, cases: PageCase[], langs: readonly string[]): Promise<void> {
  const contexts: BrowserContext[] = [];
  t.teardown(() => Promise.all(contexts.map((c) => c.close())));
  // Both widths at once: two contexts of the one Chromium.
  await Promise.all(MODES.map(async (mode) => {
    const context = await browser.newContext(mode.options);
    contexts.push(context);
    const page = await context.newPage();
    const problems = watchConsole(page);
    const phone = mode.name === 'phone';
    for (const lang of langs) {
      for (const c of cases.filter((c) => c.look !== false && (lang === 'en' || c.page !== 'styleguide'))) {
        const label = `${c.id} ${lang} ${mode.name}`;
        await page.emulateMedia({ colorScheme: 'light' });
        const response = await page.goto(`${origin}/p/${c.id}?lang=${lang}`);
        t.equal(response?.headers()['content-security-policy'], PAGE_HEADERS['Content-Security-Policy'], `${label}: CSP header`);
        await page.waitForLoadState('load');
        const facts = await page.evaluate(() => ({
          font: getComputedStyle(document.body).fontFamily,
          cardWidth: document.querySelector('main.card')?.getBoundingClientRect().width ?? 0,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          h1: document.querySelector('h1')?.textContent ?? '',
          lang: document.documentElement.lang,
          dir: document.documentElement.dir,
          // Anything wider than the card (a long word, a badge that cannot wrap) shows as overflow inside it.
          spills: [...document.querySelectorAll('main h1, main h2, main p, main label, main .button, main button, main .badge, main li, main summary, main legend, main dd')].filter((el) => el.scrollWidth > (el as HTMLElement).clientWidth + 1 && getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0)
            .map((el) => (el as HTMLElement).outerHTML.slice(0, 80)),
          smallTargets: [...document.querySelectorAll('main button, main .button, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main .check__label, main .method-card')]
            .filter((el) => (el as HTMLElement).offsetParent !== null)
            .map((el) => ({ el: (el as HTMLElement).outerHTML.slice(0, 60), h: el.getBoundingClientRect().height }))
            .filter((x) => x.h > 0 && x.h < 44),
        }));
        t.match(facts.font, /system-ui/, `${label}: stylesheet applied under CSP`);
        t.ok(facts.h1.length > 0, `${label}: has a heading`);
        t.equal(facts.lang, lang, `${label}: lang`);
        t.equal(facts.dir, lang === 'ar' ? 'rtl' : 'ltr', `${label}: dir`);
        t.ok(facts.overflow <= 0, `${label}: no horizontal scrolling (overflow ${facts.overflow}px)`);
        t.same(facts.spills, [], `${label}: nothing wider than its box (long words break)`);
        t.same(facts.smallTargets, [], `${label}: tap targets at least 44px tall`);
        if (phone) t.ok(facts.cardWidth <= 390, `${label}: card fits a 390px phone`);
        else t.ok(facts.cardWidth > 400 && facts.cardWidth <= 48 * 16 + 1, `${label}: centered card (${facts.cardWidth}px)`);
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          if (scheme === 'dark') t.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(17, 20, 26)', `${label}: dark background`);
          // The whole WCAG 2.1 A/AA rule set once per page and language (the DOM is the same in every mode);
          // colour contrast, which changes with the scheme and the layout, in every mode.
          const full = !phone && scheme === 'light';
          t.same(await axeViolations(page, full ? WCAG_RULES : COLOUR_CONTRAST), [], `${label} ${scheme}: axe finds no violation${full ? '' : ' (colour contrast)'}`);
          await screenshot(page, `page-${c.id}-${lang}-${mode.name}-${scheme}`, 'jpeg');
        }
        t.same(problems.splice(0), [], `${label}: no CSP violation or console error`);
      }
    }
  }));
}


/** A test file's whole run for one language: its own server and Chromium, every page looked at. */
export async function lookAtEveryPageIn(t: Test, lang: string, name: string): Promise<void> {
  // Some 150 screenshots with axe runs on a shared 2-core machine.
  t.setTimeout(600_000);
  if (!requireChromium(t)) return;
  const { server, origin } = await startServer();
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  t.test(`every page in ${name}, desktop and phone, light and dark: checks, axe, screenshots`, (t) => lookAtEveryPage(t, browser, origin, CASES, [lang]));
}
