// Passkey-first sign-in (README "Passkey sign-in") in Debian's Chromium with a CDP
// virtual authenticator: a user who enrolled a passkey signs in with it alone,
// through the "Sign in with a passkey" button and through the passkey the
// browser offers in the username field (conditional mediation), never typing
// a username or password; the sign-in counts as both factors (amr hwk + user)
// and satisfies a step-up rule that asks for a passkey.

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { addVirtualAuthenticator, newPage, requireChromium } from '../helpers/browser.ts';
import { readAudit } from '../helpers/gateway.ts';
import { enrollWebAuthn, portalIdentity, lookAt, signIn, signOut, startBrowserGateway, watchConsole } from './harness.ts';

const USERS = {
  alice: { password: 'alice-test-pass', groups: ['staff'] },
  bob: { password: 'bob-test-pass', groups: ['staff'] },
  carol: { password: 'carol-test-pass', groups: ['staff'] },
};

if (requireChromium(t)) {
  const { f, browser } = await startBrowserGateway(t, {
    users: USERS,
    config: {
      policy: { default: 'mfa', rules: [{ id: 'keys-only', match: { path: '/admin/**' }, require: 'mfa', max_age: '10m', factors: ['webauthn'] }] },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
    },
  });

  t.test('the button: a passkey alone signs in, both factors, and a passkey-only step-up is already met', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true });
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/');
    await enrollWebAuthn(t, page, 'passkey', 'Laptop');
    await signOut(page, f.url);

    await page.goto(`${f.url}/reports`);
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login');
    const button = page.getByRole('button', { name: 'Sign in with a passkey' });
    t.ok(await button.isVisible(), 'the passkey button is offered first');
    t.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username webauthn', 'the username field takes passkeys from autofill');
    await lookAt(t, page, 'passkey-signin');
    await Promise.all([page.waitForURL(`${f.url}/reports`), button.click()]);
    const id = await portalIdentity(page);
    t.equal(id.User, 'alice', 'signed in as the user the passkey names, no username typed');
    t.match(id['Auth methods'], /\bhwk\b/, 'a hardware-bound key');
    t.match(id['Auth methods'], /\buser\b/, 'with the user verified on it');

    await page.goto(`${f.url}/admin/users`);
    t.equal(page.url(), `${f.url}/admin/users`, 'the passkey-only step-up rule is met by the passkey sign-in');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('conditional mediation: the passkey offered in the username field signs in without a click on the button', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true, autofill: true });
    await signIn(page, f.url, 'bob', 'bob-test-pass', '/');
    await enrollWebAuthn(t, page, 'passkey', 'Phone');
    await signOut(page, f.url);

    // Chromium's virtual authenticator picks its passkey from the autofill offer as soon as the page makes it.
    const visited: string[] = [];
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) visited.push(new URL(frame.url()).pathname); });
    await Promise.all([page.waitForURL(`${f.url}/billing`, { timeout: 15_000 }), page.goto(`${f.url}/billing`)]);
    t.ok(visited.includes('/.gatehouse/login'), 'the sign-in page was shown');
    const id = await portalIdentity(page);
    t.equal(id.User, 'bob', 'the autofill passkey signed bob in: no button, no username, no password');
    t.match(id['Auth methods'], /\bhwk\b/);
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('no passkey for this site: the request ends, the page says so plainly, and the password form stays', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true });
    await page.goto(`${f.url}/reports`);
    const button = page.getByRole('button', { name: 'Sign in with a passkey' });
    // The authenticator holds no passkey for this site: Chromium refuses the request (NotAllowedError), as when a person closes the prompt.
    await button.click();
    const error = page.locator('[data-webauthn-error]');
    await error.waitFor({ state: 'visible' });
    t.equal(await error.textContent(), 'The passkey request was cancelled or timed out. Try again.');
    t.ok(await button.isEnabled(), 'the button can be tried again');
    t.ok(await page.getByLabel('Password', { exact: true }).isVisible(), 'the password form is still there');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login', 'nobody signed in');
    await lookAt(t, page, 'passkey-signin-cancelled');
    t.same(problems.filter((p) => !/NotAllowedError|AbortError/.test(p)), [], 'no CSP violation or script error');
    await page.context().close();
  });

  t.test('a disabled user\'s passkey signs nobody in', async (t) => {
    const page = await newPage(browser);
    const problems = watchConsole(page);
    await addVirtualAuthenticator(page, { transport: 'internal', residentKey: true, userVerification: true, userVerified: true });
    await signIn(page, f.url, 'carol', 'carol-test-pass', '/');
    await enrollWebAuthn(t, page, 'passkey', 'Laptop');
    await signOut(page, f.url);

    const doc = parse(readFileSync(f.usersPath, 'utf8')) as { users: Record<string, { disabled: boolean }> };
    doc.users.carol.disabled = true;
    writeFileSync(f.usersPath, stringify(doc));
    // The gateway reloads the users file on its own: wait until it says carol is disabled.
    for (let i = 0; i < 100 && !f.gw.services.identity.getUser('carol')?.disabled; i++) await new Promise((r) => setTimeout(r, 50));
    t.equal(f.gw.services.identity.getUser('carol')?.disabled, true, 'the users file now disables carol');

    await page.goto(`${f.url}/reports`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const error = page.locator('[data-webauthn-error]');
    await error.waitFor({ state: 'visible' });
    t.equal(await error.textContent(), 'That passkey could not sign you in. Try again, or use your username and password.');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/login', 'still on the sign-in page');
    t.match(readAudit(f).filter((e) => e.event === 'signin.failure').at(-1), { user: 'carol', reason: 'passkey of an unknown or disabled user' }, 'audited');
    t.same(problems, [], 'no CSP violation or script error');
    await page.context().close();
  });
}
