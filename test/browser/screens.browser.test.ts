// Every screen a user meets, served by the real gateway, in Debian's Chromium
// at desktop (1280×800) and phone (375×740) widths: each is screenshotted to
// test/artifacts/screen-*.png for people to look at, and checked for what a
// screenshot can't be trusted to show: no CSP violation or script error, the
// stylesheet applied, no sideways scrolling, every class the page uses
// styled, tap targets big enough on phones.

import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { addVirtualAuthenticator, newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { enterCode, signIn, signOut, startBrowserGateway, TotpDevice, watchConsole } from './harness.ts';

/** Classes the gateway's templates use for layout; each must have a rule in gatehouse.css. */
const STYLED_CLASSES = [
  'method-list', 'method-card', 'steps-list', 'qr', 'manual-key', 'secret', 'checkbox', 'choice', 'actions', 'actions--row',
  'item-list', 'item', 'item__text', 'item__title', 'item__meta', 'item__actions', 'section', 'subhead',
  'button--danger', 'button--link', 'form--inline', 'inline-edit', 'stepper', 'recovery__codes', 'try-another', 'fine-print', 'lead',
];

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    config: {
      policy: {
        default: 'mfa',
        rules: [
          { id: 'admin-area', match: { path: '/admin/**' }, require: 'deny' },
          { id: 'status', match: { path: '/status' }, require: 'none' },
          { id: 'api-keys', match: { path: '/settings/api-keys/**', methods: ['POST'] }, require: 'mfa', factors: ['webauthn'] },
        ],
      },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31', max_deferrals: 3 },
      branding: { product_name: 'Example Portal', support_contact: 'it-help@example.com' },
    },
  });

  // Every class the templates use, collected across pages, to check the stylesheet covers it.
  const seenClasses = new Set<string>();

  /** Screenshot plus the checks; `problems` is the page's console log, emptied after each screen. */
  async function screen(t: Test, page: Page, problems: string[], name: string, phone: boolean): Promise<void> {
    await page.waitForLoadState('load');
    const facts = await page.evaluate(() => ({
      font: getComputedStyle(document.body).fontFamily,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      cardWidth: document.querySelector('main.card')?.getBoundingClientRect().width ?? 0,
      classes: [...new Set([...document.querySelectorAll('main [class]')].flatMap((el) => [...el.classList]))],
      // A checkbox or radio is tapped through its label: the label must be 44px tall, the box at least 18px.
      smallTargets: [...document.querySelectorAll('main button, main .button, main input:not([type=hidden]), main .method-card, main summary')]
        .filter((el) => (el as HTMLElement).offsetParent !== null)
        .map((el) => {
          const box = el.getBoundingClientRect();
          const tick = el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio');
          const label = tick ? document.querySelector(`label[for="${el.id}"]`)?.getBoundingClientRect().height ?? 0 : box.height;
          return { el: (el as HTMLElement).outerHTML.slice(0, 70), small: tick ? Math.min(box.width, box.height) < 18 || label < 44 : box.height < 44 };
        })
        .filter((x) => x.small)
        .map((x) => x.el),
    }));
    const label = `${name} (${phone ? 'phone' : 'desktop'})`;
    t.match(facts.font, /system-ui/, `${label}: the stylesheet is applied under the CSP`);
    t.ok(facts.overflow <= 0, `${label}: no sideways scrolling (overflow ${facts.overflow}px)`);
    if (phone) t.ok(facts.cardWidth > 0 && facts.cardWidth <= 375, `${label}: the card fits the phone (${facts.cardWidth}px)`);
    t.same(facts.smallTargets, [], `${label}: tap targets at least 44px tall`);
    for (const c of facts.classes) seenClasses.add(c);
    await screenshot(page, `screen-${name}${phone ? '-phone' : ''}`);
    t.same(problems.splice(0), [], `${label}: no CSP violation or script error`);
  }

  /** Every screen of sign-in, enrollment, challenge and account, for one user at one width. */
  async function tour(t: Test, user: string, password: string, phone: boolean): Promise<void> {
    const page = await newPage(browser, { phone });
    const problems = watchConsole(page);
    const shot = (name: string) => screen(t, page, problems, name, phone);
    await addVirtualAuthenticator(page, { transport: 'internal' });

    await page.goto(`${f.url}/reports`);
    await shot('login');
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await shot('login-error');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);

    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll');
    await shot('enroll-pick');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Passkey or security key/ }).click()]);
    await shot('enroll-passkey');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Choose a different method' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    await page.getByText(/Can’t scan\?/).click();
    await shot('enroll-totp');
    const device = new TotpDevice((await page.locator('.secret code').textContent()) ?? '', f.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');
    await shot('enroll-recovery');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    await shot('enroll-done');

    await signOut(page, f.url);
    await shot('signed-out');
    await signIn(page, f.url, user, password, '/reports');
    await shot('challenge-totp');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    await shot('challenge-pick');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Recovery code/ }).click()]);
    await shot('challenge-recovery');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Email code/ }).click()]);
    await shot('challenge-email');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send code' }).click()]);
    await shot('challenge-email-sent');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Try another method' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    await page.getByLabel(/Trust this browser/).check();
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(page.url(), `${f.url}/reports`, 'through to the portal');

    // The trusted browser skips the routine challenge; an action that needs a passkey the user doesn't have.
    await signOut(page, f.url);
    await signIn(page, f.url, user, password, '/settings/api-keys');
    t.equal(new URL(page.url()).pathname, '/settings/api-keys', 'the trusted browser skips the routine challenge');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create key' }).click()]);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll');
    t.match(await page.locator('.alert--notice').textContent(), /This needs\s+Passkey or security key/);
    await shot('enroll-needs-passkey');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    await shot('challenge-confirm-before-adding');
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(await page.locator('h1').textContent(), 'Add a passkey or security key');
    await shot('enroll-passkey-needed');
    await page.getByLabel('Name it').fill(phone ? 'My phone' : 'Work laptop');
    await Promise.all([page.waitForURL(/step=done/), page.getByRole('button', { name: 'Continue' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    // Registering the passkey is not using it (README "Security model"): the rule asks for it once.
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'the passkey-only rule asks for the new passkey');
    await Promise.all([page.waitForURL(/\/settings\/api-keys/), page.getByRole('button', { name: 'Use passkey or security key' }).click()]);
    t.match(await page.locator('#api-key-created').textContent(), /Created key/, 'the stashed API-key request completed');
    await page.goto(`${f.url}/.gatehouse/challenge?rd=%2Fsettings%2Fapi-keys&rule=api-keys`);
    await shot('challenge-needs-passkey');
    // A first passkey is used once right after it is added (webauthn-endpoints.ts proveFirst).
    await page.goto(`${f.url}/.gatehouse/challenge?method=webauthn&why=new-passkey&rd=%2F.gatehouse%2Fenroll%3Fstep%3Drecovery`);
    t.match(await page.locator('[data-why]').textContent(), /just added/, 'the page says why: the passkey just added');
    await shot('challenge-new-passkey');

    await page.goto(`${f.url}/.gatehouse/account`);
    t.equal(await page.locator('section:not([aria-labelledby="sessions-h"]) .item').count(), 3, 'the account page lists the app, the passkey and the trusted browser');
    t.equal(await page.locator('section[aria-labelledby="sessions-h"] .item').count(), 1, 'and this browser among the signed-in ones');
    await shot('account');
    await page.getByText('Rename').click();
    await shot('account-rename');
    await page.goto(`${f.url}/.gatehouse/logout`);
    await shot('logout');

    // Error pages.
    await page.goto(`${f.url}/admin/users`);
    await shot('error-403');
    await page.goto(`${f.url}/.gatehouse/no-such-page`);
    await shot('error-404');
    await page.goto(`${f.url}/a%2fb`);
    await shot('error-400');
    await page.context().close();
  }

  t.test('desktop: every screen', (t) => tour(t, 'alice', 'alice-test-pass', false));
  t.test('phone: every screen', (t) => tour(t, 'bob', 'bob-test-pass', true));

  t.test('the upstream is down: the 502 page at both widths', async (t) => {
    await f.portal!.close();
    for (const phone of [false, true]) {
      const page = await newPage(browser, { phone });
      const problems = watchConsole(page);
      const r = await page.goto(`${f.url}/status`);
      t.equal(r?.status(), 502);
      t.equal(await page.locator('h1').textContent(), "The application isn't responding");
      await screen(t, page, problems, 'error-502', phone);
      await page.context().close();
    }
  });

  t.test('every class the templates use is styled by gatehouse.css', async (t) => {
    const page = await newPage(browser);
    await page.goto(`${f.url}/.gatehouse/login`);
    const rules = await page.evaluate(() => {
      const text: string[] = [];
      for (const sheet of document.styleSheets) {
        const walk = (list: CSSRuleList) => {
          for (const r of list) {
            if ('selectorText' in r) text.push((r as CSSStyleRule).selectorText);
            if ('cssRules' in r) walk((r as CSSGroupingRule).cssRules);
          }
        };
        walk(sheet.cssRules);
      }
      return text.join('\n');
    });
    for (const c of STYLED_CLASSES) t.ok(rules.includes(`.${c}`), `.${c} has a rule`);
    // Hooks for scripts, not for looks.
    const hooks = new Set(['webauthn']);
    const unstyled = [...seenClasses].filter((c) => !hooks.has(c) && !rules.includes(`.${c}`));
    t.same(unstyled, [], 'no class used on a page is missing from the stylesheet');
    await page.context().close();
  });
}
