// identity.source: oidc as a person meets it, in Debian's Chromium: a real
// OpenID provider (oidc-provider on a loopback port, its own login page) in
// front of two real gateways. Sign-in at the IdP, then the gateway's own TOTP
// enrollment (codes from oathtool), the IdP's identity at the portal, and
// RP-initiated logout through the IdP's end-session page. An IdP amr with
// hwk satisfies a passkey rule where the gateway trusts it, and does not where
// it does not. A tampered callback shows an error page. The browser may reach
// nothing but localhost.

import t, { type Test } from 'tap';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { bindPort, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { startTestIdp, type IdpAccount, type TestIdp } from '../helpers/oidc-idp.ts';
import { enterCode, portalIdentity, TotpDevice, watchConsole } from './harness.ts';

const SECRET = 'idp-client-secret-0123456789-abcdef';
const ACCOUNTS: Record<string, IdpAccount> = {
  carol: { password: 'carol-idp-pass', amr: ['pwd'], claims: { preferred_username: 'carol', email: 'carol@example.com', name: 'Carol Example', groups: ['staff', 'finance'] } },
  hank: { password: 'hank-idp-pass', amr: ['pwd', 'hwk'], claims: { preferred_username: 'hank', email: 'hank@example.com', name: 'Hank Example', groups: ['finance'] } },
};

/** Blocks (and records) every request that would leave localhost. */
async function localOnly(context: BrowserContext): Promise<string[]> {
  const blocked: string[] = [];
  await context.route((url) => url.hostname !== 'localhost', (route) => { blocked.push(route.request().url()); return route.abort(); });
  return blocked;
}

/** On the IdP's login page: types the IdP credentials and continues; resolves when back on the gateway. */
async function idpLogin(page: Page, idp: TestIdp, gateway: GatewayFixture, username: string): Promise<void> {
  if (!page.url().startsWith(idp.issuer)) throw new Error(`expected the IdP, got ${page.url()}`);
  await page.getByLabel('IdP username').fill(username);
  await page.getByLabel('IdP password').fill(ACCOUNTS[username].password);
  await Promise.all([page.waitForURL((u) => u.origin === gateway.url), page.getByRole('button', { name: 'Continue' }).click()]);
}

if (requireChromium(t)) {
  const [trustSocket, plainSocket] = [await bindPort(), await bindPort()];
  const [trustPort, plainPort] = [trustSocket.port, plainSocket.port];
  const client = (id: string, port: number) => ({
    client_id: id, client_secret: SECRET,
    redirect_uris: [`http://localhost:${port}/.gatehouse/oidc/callback`],
    post_logout_redirect_uris: [`http://localhost:${port}/.gatehouse/logout`],
    backchannel_logout_uri: `http://localhost:${port}/.gatehouse/oidc/backchannel-logout`,
  });
  const idp = await startTestIdp({ clients: [client('gw-trust', trustPort), client('gw-plain', plainPort)], accounts: ACCOUNTS });
  const config = (clientId: string, trust: string[]) => ({
    identity: { source: 'oidc', oidc: { issuer: idp.issuer, client_id: clientId, client_secret: SECRET, scopes: ['openid', 'profile', 'email', 'groups'], trust_idp_mfa: trust } },
    policy: { default: 'mfa', rules: [{ id: 'billing', match: { path: '/billing/**' }, require: 'mfa', factors: ['webauthn'] }] },
    rollout: { enforce_for: ['everyone'] },
  });
  const trusting = await startTestGateway({ socket: trustSocket, config: config('gw-trust', ['hwk']) });
  const plain = await startTestGateway({ socket: plainSocket, config: config('gw-plain', []) });
  const browser: Browser = await launchBrowser();
  t.teardown(async () => { await browser.close(); await trusting.close(); await plain.close(); await idp.close(); });

  async function freshPage(t: Test): Promise<{ page: Page; problems: string[]; blocked: string[] }> {
    const page = await newPage(browser);
    const blocked = await localOnly(page.context());
    const problems = watchConsole(page);
    t.teardown(() => page.context().close());
    return { page, problems, blocked };
  }

  t.test('sign in at the IdP, enroll TOTP at the gateway, the portal sees the IdP identity; sign out through the IdP', async (t) => {
    const { page, problems, blocked } = await freshPage(t);
    await page.goto(`${plain.url}/reports`);
    t.equal(new URL(page.url()).origin, idp.issuer, 'an anonymous visit goes to the IdP');
    t.equal(await page.locator('h1').textContent(), 'Test IdP');
    await screenshot(page, 'oidc-idp-login');

    await idpLogin(page, idp, plain, 'carol');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/enroll', 'back at the gateway: a password-only IdP sign-in must add a gateway factor');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Authenticator app/ }).click()]);
    await page.getByText(/Can’t scan\?/).click();
    const device = new TotpDevice((await page.locator('.secret code').textContent()) ?? '', plain.clock);
    await enterCode(page, await device.next(), 'Enter the 6-digit code your app shows');
    t.equal(new URL(page.url()).searchParams.get('step'), 'recovery', 'then recovery codes');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    t.equal(page.url(), `${plain.url}/reports`, 'on to the page asked for');

    const id = await portalIdentity(page);
    t.equal(id.User, 'carol', 'the user is the IdP\'s preferred_username');
    t.equal(id.Email, 'carol@example.com');
    t.equal(id.Groups, 'staff, finance', 'groups from the IdP');
    t.match(id['Auth methods'], /^ext pwd otp$/, 'IdP password (external) plus the gateway\'s one-time code');

    // RP-initiated logout: the gateway signs out, then hands over to the IdP's end-session page.
    await page.goto(`${plain.url}/.gatehouse/logout`);
    await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.getByRole('button', { name: 'Sign out' }).click()]);
    t.equal(new URL(page.url()).pathname, '/session/end', 'the IdP\'s end_session_endpoint');
    t.equal(new URL(page.url()).searchParams.get('client_id'), 'gw-plain');
    t.equal(await page.locator('h1').textContent(), 'Sign out of Test IdP?');
    await screenshot(page, 'oidc-idp-logout');
    const n = idp.backchannel.length;
    await Promise.all([page.waitForURL(`${plain.url}/.gatehouse/logout`), page.getByRole('button', { name: 'Yes, sign me out' }).click()]);
    t.match(await page.locator('h1').textContent(), /signed out/i, 'back on the gateway\'s signed-out page');
    t.same(idp.backchannel.slice(n), ['ok'], 'the IdP\'s back-channel logout token was accepted');

    // Signed out at both: the next visit needs the IdP password again.
    await page.goto(`${plain.url}/reports`);
    t.equal(new URL(page.url()).origin, idp.issuer, 'signed out at the IdP too: its login page again');
    await idpLogin(page, idp, plain, 'carol');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'and the gateway asks for the app it enrolled');
    await enterCode(page, await device.next(), 'Enter the 6-digit code from your authenticator app');
    t.equal(page.url(), `${plain.url}/reports`);
    t.same(problems, [], 'no CSP violation or script error');
    t.same(blocked, [], 'nothing outside localhost was requested');
  });

  t.test('an IdP amr with hwk satisfies a passkey rule where trusted, not where not trusted', async (t) => {
    const trusted = await freshPage(t);
    const visited: string[] = [];
    trusted.page.on('framenavigated', (fr) => { if (fr === trusted.page.mainFrame()) visited.push(fr.url()); });
    await trusted.page.goto(`${trusting.url}/billing`);
    await idpLogin(trusted.page, idp, trusting, 'hank');
    t.equal(trusted.page.url(), `${trusting.url}/billing`, 'straight to billing');
    t.notOk(visited.some((u) => /\/\.gatehouse\/(challenge|enroll)/.test(u)), 'no gateway challenge on the way');
    t.equal(await trusted.page.locator('h1').textContent(), 'Billing');
    const id = await portalIdentity(trusted.page);
    t.equal(id.User, 'hank');
    t.match(id['Auth methods'], /^ext pwd hwk$/);
    t.match(id['Assertion (JWT)'], /sub=hank/);

    const untrusted = await freshPage(t);
    await untrusted.page.goto(`${plain.url}/billing`);
    await idpLogin(untrusted.page, idp, plain, 'hank');
    const at = new URL(untrusted.page.url());
    t.equal(at.pathname, '/.gatehouse/enroll', 'without trust_idp_mfa the passkey rule asks for the gateway\'s own passkey');
    t.equal(at.searchParams.get('rule'), 'billing');
    t.match(await untrusted.page.locator('main').textContent(), /passkey or security key/i);
    t.same([...trusted.problems, ...untrusted.problems], [], 'no CSP violation or script error');
    t.same([...trusted.blocked, ...untrusted.blocked], [], 'nothing outside localhost was requested');
  });

  t.test('a tampered callback shows an error page and signs nobody in', async (t) => {
    const { page, problems } = await freshPage(t);
    await page.goto(`${trusting.url}/echo`);
    // A man in the middle changes the state on the IdP's way back to the gateway.
    let genuine = '';
    idp.rewriteLocation = (location) => {
      const u = new URL(location);
      if (u.pathname !== '/.gatehouse/oidc/callback') return location;
      genuine = location;
      const state = u.searchParams.get('state')!;
      u.searchParams.set('state', (state[0] === 'x' ? 'y' : 'x') + state.slice(1)); // always a different state
      return u.href;
    };
    t.teardown(() => { idp.rewriteLocation = undefined; });
    const [r] = await Promise.all([
      page.waitForResponse((res) => new URL(res.url()).pathname === '/.gatehouse/oidc/callback'),
      idpLogin(page, idp, trusting, 'hank'),
    ]);
    idp.rewriteLocation = undefined;
    t.match(genuine, /code=.*state=/, 'the IdP answered with a code and the state');
    t.equal(r.status(), 400, 'the tampered callback is refused');
    t.equal(await page.locator('h1').textContent(), 'This sign-in link has expired');
    t.ok(await page.getByRole('link', { name: 'Try again' }).isVisible(), 'with a way to start again');
    await screenshot(page, 'oidc-callback-refused');
    await page.goto(`${trusting.url}/.gatehouse/logout`);
    t.equal(await page.locator('h1').textContent(), 'You\'ve signed out', 'not signed in');
    t.same(problems, [], 'no CSP violation or script error');
  });
}
