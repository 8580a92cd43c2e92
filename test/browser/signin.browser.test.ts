// Sign-in as a person does it, in Debian's Chromium against a real gateway and
// the real demo portal: anonymous visit → login page → a wrong password → the
// right one → the portal shows who signed in; a burst of wrong passwords shows
// the lockout with its wait; signing out through the page ends the session.

import t from 'tap';
import { requireChromium, newPage, screenshot } from '../helpers/browser.ts';
import { portalIdentity, signOut, startBrowserGateway, submitLogin, watchConsole } from './harness.ts';

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, { config: { policy: { default: 'login' } } });

  t.test('anonymous → login → wrong password → right password → the portal as alice → sign out', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);

    await page.goto(`${f.url}/billing`);
    const login = new URL(page.url());
    t.equal(login.pathname, '/.gatehouse/login', 'an anonymous visit lands on the login page');
    t.equal(login.searchParams.get('rd'), '/billing', 'remembering where the visitor was going');
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'the username box has focus');
    await screenshot(page, 'e2e-login');

    await submitLogin(page, 'alice', 'not-her-password');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login', 'a wrong password stays on the login page');
    t.match(await page.locator('.alert--error').textContent(), /Wrong username or password/);
    t.equal(await page.getByLabel('Username').inputValue(), 'alice', 'the username is kept');
    t.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is not echoed back');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'focus goes to the password');
    // A screen reader on either box hears it is invalid and why.
    const described = await page.evaluate(() => ['username', 'password'].map((id) => {
      const box = document.getElementById(id)!;
      const ids = (box.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
      return { invalid: box.getAttribute('aria-invalid'), text: ids.map((x) => document.getElementById(x)?.textContent ?? '').join(' ') };
    }));
    for (const d of described) {
      t.equal(d.invalid, 'true', 'the box is marked invalid');
      t.match(d.text, /Wrong username or password/, 'and described by the message');
    }
    await screenshot(page, 'e2e-login-error');

    await submitLogin(page, 'alice', 'alice-test-pass');
    t.equal(page.url(), `${f.url}/billing`, 'the right password returns to the page asked for');
    t.equal(await page.locator('h1').textContent(), 'Billing', 'the demo portal answers');
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice', 'the portal was told the user is alice');
    t.equal(id.Email, 'alice@example.com');
    t.equal(id.Groups, 'admins, finance');
    t.equal(id['Auth methods'], 'pwd');
    t.match(id['Assertion (JWT)'], /present \(ES256, sub=alice/);

    // A reload stays signed in (the session cookie works).
    await page.goto(`${f.url}/`);
    t.equal((await portalIdentity(page)).User, 'alice');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name.startsWith('gatehouse') && !c.name.endsWith('_device'));
    t.ok(session, 'a session cookie is set');
    t.equal(session?.httpOnly, true, 'HttpOnly');
    t.equal(session?.sameSite, 'Lax', 'SameSite=Lax');

    await page.goto(`${f.url}/.gatehouse/logout`);
    t.equal(await page.locator('h1').textContent(), 'Sign out?');
    t.match(await page.locator('main').textContent(), /signed in as\s+alice/i);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    t.equal(await page.locator('h1').textContent(), "You've signed out");
    await page.goto(`${f.url}/billing`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login', 'after sign-out the portal needs a sign-in again');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('a burst of wrong passwords shows the lockout with the wait; the right password then waits too', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    // Both clocks held by the test: the first wait is 1 s, which a loaded machine
    // can spend between two looks at the page (the countdown ended before it was read).
    // The page's clock stands still (pauseAt) until the test moves it.
    const start = Date.now();
    await page.clock.install({ time: start });
    await page.clock.pauseAt(start + 1000);
    f.clock.hold();
    t.teardown(() => f.clock.release());
    await page.goto(`${f.url}/`);
    let attempts = 0;
    while (attempts < 12 && (await page.locator('[data-countdown]').count()) === 0) {
      attempts += 1;
      await submitLogin(page, 'bob', `wrong-${attempts}`);
    }
    t.ok(attempts >= 6 && attempts < 12, `locked out after ${attempts} wrong passwords (5 are free)`);
    const alert = await page.locator('.alert--error').textContent();
    t.match(alert, /Too many attempts\. Try again in \d+ seconds?\./, 'the lockout says how long to wait');
    t.ok(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled(), 'the button waits for the countdown');
    await screenshot(page, 'e2e-login-lockout');

    // The countdown ends by itself and the button comes back: the server's wait is over, then the page's.
    f.clock.advance(60_000);
    await page.clock.runFor(61_000);
    t.notOk(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled(), 'the button is back');
    t.match(await page.locator('.alert').textContent(), /You can try again now/);
    // And then the right password works.
    await submitLogin(page, 'bob', 'bob-test-pass');
    t.equal((await portalIdentity(page)).User, 'bob', 'after the wait the right password signs in');
    await signOut(page, f.url);
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });
}
