// Sessions and devices on the security page (README "Signed-in browsers"), in
// Chromium: two browsers signed in as one user; the security page lists both
// (device and browser from the User-Agent, the network, last seen, moved by
// activity), signs the other one out, which is refused at once; "Sign out
// everywhere" says what it ended.
// Screens at 1280×800 and 390×844, light and dark: test/artifacts/sessions-*.png.

import t from 'tap';
import { newPage, requireChromium } from '../helpers/browser.ts';
import { Client } from '../helpers/gateway.ts';
import { enrollTotpOverHttp, enterCode, lookAt, signIn, startBrowserGateway, watchConsole } from './harness.ts';

const CHALLENGE_LABEL = 'Enter the 6-digit code from your authenticator app';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0';

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    config: { policy: { default: 'mfa' }, rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' }, branding: { product_name: 'Example Portal' } },
  });

  t.test('the session list shows another browser and signs it out at once; sign out everywhere says what it did', async (t) => {
    // Enrolled over plain HTTP, then that client signs out: only the two browsers below are signed in.
    const http = new Client(f.url);
    const phone = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass', http);
    await http.postForm('/.gatehouse/logout', { csrf: await http.csrf('/.gatehouse/logout') });

    // Browser B: another machine (Firefox on Windows), signed in to the app.
    const other = await (await browser.newContext({ userAgent: FIREFOX_WINDOWS })).newPage();
    await signIn(other, f.url, 'alice', 'alice-test-pass', '/reports');
    await enterCode(other, await phone.next(), CHALLENGE_LABEL);
    t.equal(other.url(), `${f.url}/reports`, 'the other browser is in the app');
    const signedInAt = f.clock.now();
    // Later, still working: its last seen moves (at most once per idle-slide interval, not per request).
    f.clock.advance(3 * 60_000);
    await other.goto(`${f.url}/reports`);
    t.equal(other.url(), `${f.url}/reports`);

    // Browser A: this one, opens the security page.
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/.gatehouse/account');
    await enterCode(page, await phone.next(), CHALLENGE_LABEL);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/account');
    const list = page.locator('section[aria-labelledby="sessions-h"] .item');
    t.equal(await list.count(), 2, 'two signed-in browsers listed');
    t.match(await list.nth(0).locator('.item__title').textContent(), /^Chrome on Linux\s+This browser$/, 'this browser first, marked');
    t.match(await list.nth(1).locator('.item__title').textContent(), /^Firefox on Windows$/, 'the other: browser and system from its User-Agent');
    const meta = (await list.nth(1).locator('.item__meta').textContent()) ?? '';
    t.match(meta, /Network 127\.0\.0\.0\/24/, 'the place by network: the client /24');
    const stored = (await f.gw.services.store.listSessions('alice', f.clock.now())).find((r) => r.label === 'Firefox on Windows');
    t.ok(stored && stored.seen_at >= signedInAt + 3 * 60_000, 'last seen moved with the later visit');
    const fmt = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
    t.equal(/last seen (.+)$/.exec(meta)?.[1], fmt.format(stored!.seen_at), 'and the page shows it');
    await lookAt(t, page, 'sessions-list');

    // Sign the other browser out.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out Firefox on Windows on network 127.0.0.0/24' }).click()]);
    t.match(await page.locator('.alert--notice').textContent(), /That browser was signed out/, 'the page says it was done');
    t.equal(await list.count(), 1, 'only this browser is left');
    t.match(await page.locator('section[aria-labelledby="sessions-h"]').textContent(), /You’re not signed in on any other browser\./);
    await lookAt(t, page, 'sessions-signed-out-other');

    // The other browser is out at once: its next request is sent to sign in.
    await other.goto(`${f.url}/reports`);
    t.equal(new URL(other.url()).pathname, '/.gatehouse/login', 'the revoked browser must sign in again at once');

    // Sign out everywhere: it asks, then says what it ended.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    t.equal(await page.locator('h1').textContent(), 'Sign out everywhere?');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    t.match(await page.locator('.alert--notice').textContent(), /Sessions ended: 1\. Trusted browsers forgotten: 0\./, 'what it did, in numbers');
    await lookAt(t, page, 'sessions-everywhere');
    await page.goto(`${f.url}/reports`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login', 'this browser is signed out too');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
    await other.context().close();
  });
}
