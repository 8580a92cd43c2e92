// identity.source upstream_form as a person meets it, in Debian's Chromium: the
// demo portal in its "own sign-in" mode (every page needs its JSESSIONID),
// fronted by the gateway. Sign in on the portal's own page → the gateway's
// enrollment → only then does JSESSIONID reach the browser (cookies asserted
// at each step); a wrong app password shows the portal's own error and counts
// a failure; a stolen JSESSIONID without a gateway session gets nothing; the
// portal's own sign-out ends the gateway session too.

import t from 'tap';
import type { BrowserContext } from 'playwright-core';
import { requireChromium, newPage, screenshot } from '../helpers/browser.ts';
import { readAudit, startTestGateway } from '../helpers/gateway.ts';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { enterCode, launchBrowser, portalIdentity, TotpDevice, watchConsole } from './harness.ts';

async function cookieNames(context: BrowserContext): Promise<string[]> {
  return (await context.cookies()).map((c) => c.name).sort();
}

if (requireChromium(t)) {
  const portal = await startDemoPortal({ port: 0, requireAppLogin: true });
  const f = await startTestGateway({
    upstream: false,
    config: {
      routes: [{ path: '/', upstream: `http://127.0.0.1:${portal.port}` }],
      identity: {
        source: 'upstream_form',
        upstream_form: { login_path: '/login', logout_path: '/logout', username_field: 'username', success: { status: 302, set_cookie: 'JSESSIONID' } },
      },
      policy: {
        default: 'mfa',
        rules: [
          { id: 'app-login', match: { path: '/login' }, require: 'none' },
          { id: 'app-logout', match: { path: '/logout' }, require: 'none' },
          { id: 'static', match: { path: '/static/**' }, require: 'none' },
        ],
      },
      rollout: { enforce_for: ['everyone'] },
    },
  });
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await f.close();
    await portal.close();
  });

  let aliceAppSession = '';

  t.test('portal sign-in → gateway enrollment → the portal cookie only after the second factor', async (t) => {
    const page = await newPage(browser);
    const context = page.context();
    const problems = watchConsole(page);

    await page.goto(`${f.url}/billing`);
    t.equal(new URL(page.url()).pathname, '/login', 'an anonymous visit lands on the portal\'s own login page');
    t.equal(await page.locator('h1').textContent(), 'Portal sign-in');
    t.same(await cookieNames(context), [], 'step 0: no cookies at all');
    await screenshot(page, 'upstream-form-app-login');

    // A wrong app password: the portal's own error, counted by the gateway.
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('not-her-password');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    t.equal(new URL(page.url()).pathname, '/login');
    t.equal(await page.locator('#login-error').textContent(), 'Invalid credentials (app)', 'the portal\'s own error page');
    t.same(await cookieNames(context), [], 'step 1 (wrong password): still no cookies');
    t.equal(await f.gw.services.shared.get('fail:pwd:u:alice'), '1', 'the failure counts toward alice\'s throttle');
    await f.gw.services.audit.flush();
    t.ok(readAudit(f).some((e) => e.event === 'signin.failure' && e.user === 'alice'), 'and is audited');

    // The right app password: the gateway session starts, the portal's cookie is held back.
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-app-pass');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll', 'the gateway\'s enrollment comes next');
    t.same(await cookieNames(context), ['gatehouse'], 'step 2 (app password accepted): the gateway cookie only, JSESSIONID held back');
    t.equal(portal.state.sessions.size, 1, 'although the portal did create a session');
    [aliceAppSession] = [...portal.state.sessions.keys()];
    await screenshot(page, 'upstream-form-enroll');

    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    t.same(await cookieNames(context), ['gatehouse'], 'step 3 (setting up the app): still held back');
    await page.getByText(/Can’t scan\?/).click();
    const device = new TotpDevice((await page.locator('.secret code').textContent()) ?? '', f.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');
    t.equal(new URL(page.url()).searchParams.get('step'), 'recovery', 'the second factor is set up');
    const cookies = await context.cookies();
    const jsession = cookies.find((c) => c.name === 'JSESSIONID');
    t.ok(jsession, 'step 4 (second factor passed): JSESSIONID has reached the browser');
    t.equal(jsession?.value, aliceAppSession, 'the very session the portal created at sign-in');
    t.equal(jsession?.httpOnly, true, 'with the portal\'s own attributes (HttpOnly)');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    t.equal(page.url(), `${f.url}/`, 'on to the portal');
    t.equal(await page.locator('h1').textContent(), 'Welcome', 'the portal\'s home page, no second login');
    t.match(await page.locator('#identity').textContent(), /Signed in to the portal's own login as alice/, 'the portal knows alice from its own session');
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice', 'and the gateway told it alice too');
    t.match(id['Auth methods'], /\bpwd\b.*\botp\b/);
    await screenshot(page, 'upstream-form-portal');
    t.same(problems, [], 'no script error or CSP violation');
    await context.close();
  });

  t.test('a stolen portal cookie without a gateway session gets nothing', async (t) => {
    t.ok(aliceAppSession && portal.state.sessions.has(aliceAppSession), 'alice\'s portal session is alive');
    const page = await newPage(browser);
    const context = page.context();
    await context.addCookies([{ name: 'JSESSIONID', value: aliceAppSession, domain: 'localhost', path: '/', httpOnly: true }]);
    await page.goto(`${f.url}/billing`);
    t.equal(new URL(page.url()).pathname, '/login', 'sent to sign in, not to billing');
    t.equal(await page.locator('h1').textContent(), 'Portal sign-in');
    t.match(await page.locator('#identity').textContent(), /No portal session/, 'the portal did not see the stolen cookie');
    const seen = portal.received.filter((r) => r.url === '/login' && r.method === 'GET').at(-1);
    t.equal(seen?.headers.cookie, undefined, 'the request reached the portal without any cookie');
    t.ok((await cookieNames(context)).includes('JSESSIONID'), 'even though the browser sent it');
    await context.close();
  });

  t.test('the portal\'s own sign-out ends the gateway session too', async (t) => {
    const page = await newPage(browser);
    const context = page.context();
    await page.goto(`${f.url}/`);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('bob-app-pass');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    t.same(await cookieNames(context), ['gatehouse'], 'bob: gateway cookie only until his second factor');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    await page.getByText(/Can’t scan\?/).click();
    const device = new TotpDevice((await page.locator('.secret code').textContent()) ?? '', f.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');
    t.same(await cookieNames(context), ['JSESSIONID', 'gatehouse'], 'both cookies after the second factor');
    await page.goto(`${f.url}/`);
    t.match(await page.locator('#identity').textContent(), /as bob/);

    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'sign out of the app' }).click()]);
    t.same(await cookieNames(context), [], 'the portal\'s sign-out cleared its cookie and the gateway\'s');
    t.equal(new URL(page.url()).pathname, '/login', 'back at the portal\'s sign-in');
    await f.gw.services.audit.flush();
    t.ok(readAudit(f).some((e) => e.event === 'signout' && e.user === 'bob'), 'the gateway audited the sign-out');
    await context.close();
  });
}
