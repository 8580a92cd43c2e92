// A remembered device is revocable from the security page (README "Signed-in
// browsers"). A browser whose second factor was passed with "remember this
// browser" signs in later with the password alone; once the user stops
// trusting it on the security page, its next sign-in asks for the second factor
// again (the device cookie it still holds no longer vouches) and the page lists
// it no more. With
// session.remember_device 0 no browser can be remembered at all.

import t from 'tap';
import { startTestGateway, Client, readAudit, type GatewayFixture } from '../helpers/gateway.ts';
import { enrollTotpOverHttp, type TotpDevice } from '../helpers/totp.ts';

const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const MFA = { policy: { default: 'mfa' }, rollout: { grace_until: '2099-12-31' } };
const ACCOUNT = '/.gatehouse/account';
const NO_DEVICES = 'No browser is trusted to skip the second step.'; // account.no_devices (en)

/** What the app path answers this browser, as an API client: its status and, for a 401, the error. */
async function access(c: Client): Promise<{ status: number; error?: string; amr?: string }> {
  const r = await c.fetch('/echo', { headers: API });
  const body = await r.json() as { error?: string; headers?: Record<string, string> };
  return { status: r.status, error: body.error, amr: body.headers?.['x-gatehouse-auth-methods'] };
}

async function signOut(c: Client): Promise<void> {
  const csrf = await c.csrf('/.gatehouse/logout');
  const r = await c.postForm('/.gatehouse/logout', { csrf });
  if (r.status !== 200) throw new Error(`sign-out answered ${r.status}`);
}

/** Passes the TOTP challenge for `rd`, with "remember this browser" ticked when `remember`. */
async function passTotp(c: Client, device: TotpDevice, rd: string, remember: boolean): Promise<{ r: Response; page: string }> {
  const page = await (await c.fetch(`/.gatehouse/challenge?rd=${encodeURIComponent(rd)}&method=totp`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no challenge form');
  const r = await c.postForm('/.gatehouse/challenge', { csrf, rd, method: 'totp', code: await device.next(), ...(remember ? { remember: '1' } : {}) });
  return { r, page };
}

async function liveDevices(f: GatewayFixture, user: string) {
  return (await f.gw.services.store.listDevices(user)).filter((d) => d.expires_at > f.clock.now());
}

t.test('a remembered browser skips the second factor until it is revoked on the account page', async (t) => {
  const f = await startTestGateway({ config: MFA });
  t.teardown(() => f.close());
  const deviceCookie = `${f.gw.services.sessions.cookieName}_device`;
  const totp = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');

  const b = new Client(f.url);
  t.equal((await b.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  t.match(await access(b), { status: 401, error: 'mfa_required' }, 'a new browser owes the second factor');
  const { r: passed, page } = await passTotp(b, totp, '/echo', true);
  t.match(page, /name="remember" value="1"/, 'the challenge page offers to remember the browser');
  t.equal(passed.status, 303, 'the factor is passed with remember=1');
  const id = b.cookies.get(deviceCookie);
  t.ok(id, 'the browser gets a device cookie');
  t.same((await liveDevices(f, 'alice')).map((d) => d.id), [id], 'the store trusts that one browser');

  // The next password sign-in from this browser skips the second factor.
  await signOut(b);
  t.match(await access(b), { status: 401, error: 'login_required' }, 'signed out');
  t.equal(b.cookies.get(deviceCookie), id, 'the device cookie outlives the sign-out');
  t.equal((await b.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  const trusted = await access(b);
  t.equal(trusted.status, 200, 'the password alone reaches the app from the remembered browser');
  t.match(trusted.amr, /\bdevice\b/, 'vouched for by the remembered device');
  // Control: another browser, no device cookie, the same password: challenged.
  const other = new Client(f.url);
  await other.signIn('alice', 'alice-test-pass', '/echo');
  t.match(await access(other), { status: 401, error: 'mfa_required' }, 'a browser that was not remembered is still challenged');

  // The security page needs a second factor in this session: the remembered browser passes one (not remembering again).
  const open = await b.fetch(ACCOUNT);
  t.equal(open.status, 302);
  t.match(open.headers.get('location'), /^\/\.gatehouse\/challenge\?/, 'the account page asks for the second factor first');
  t.equal((await passTotp(b, totp, ACCOUNT, false)).r.status, 303);
  t.equal((await liveDevices(f, 'alice')).length, 1, 'that check remembered no other browser');
  const listed = await (await b.fetch(ACCOUNT)).text();
  t.match(listed, new RegExp(`name="action" value="revoke-device">\\s*<input type="hidden" name="id" value="${id}">`), 'the account page lists the browser with a revoke button');
  t.notMatch(listed, NO_DEVICES);
  const csrf = /name="csrf" value="([^"]+)"/.exec(listed)![1];

  // A post without the page's CSRF token changes nothing.
  const forged = await b.postForm(ACCOUNT, { csrf: 'x'.repeat(csrf.length), action: 'revoke-device', id: id! });
  t.equal(forged.status, 403, 'a revoke without the CSRF token is refused');
  const crossSite = await b.postForm(ACCOUNT, { csrf, action: 'revoke-device', id: id! }, { origin: 'https://evil.example' });
  t.equal(crossSite.status, 403, 'a revoke from another origin is refused');
  t.equal((await liveDevices(f, 'alice')).length, 1, 'the browser is still trusted');

  const revoked = await b.postForm(ACCOUNT, { csrf, action: 'revoke-device', id: id! });
  t.equal(revoked.status, 303, 'the revoke is accepted');
  t.equal(revoked.headers.get('location'), `${ACCOUNT}?done=device`);
  const after = await (await b.fetch(revoked.headers.get('location')!)).text();
  t.notMatch(after, id!, 'the account page no longer lists the browser');
  t.match(after, NO_DEVICES, 'it says no browser is trusted');
  t.same(await liveDevices(f, 'alice'), [], 'the store trusts no browser');
  await f.gw.services.audit.flush();
  t.ok(readAudit(f).some((e) => e.event === 'session.revoked' && e.user === 'alice' && e.reason === 'trusted browser removed'), 'the revoke is audited');

  // The browser still sends its device cookie, but the next sign-in asks for the second factor again.
  await signOut(b);
  t.equal(b.cookies.get(deviceCookie), id, 'the browser still holds the device cookie');
  t.equal((await b.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  const again = await access(b);
  t.match(again, { status: 401, error: 'mfa_required' }, 'the revoked browser is challenged again');
  const nav = await b.fetch('/echo');
  t.equal(nav.status, 302);
  t.match(nav.headers.get('location'), /^\/\.gatehouse\/challenge\?/, 'a navigation is sent to the challenge');
});

t.test('session.remember_device 0: no remember option, and remember=1 remembers nothing', async (t) => {
  const f = await startTestGateway({ config: { ...MFA, session: { remember_device: 0 } } });
  t.teardown(() => f.close());
  const deviceCookie = `${f.gw.services.sessions.cookieName}_device`;
  const totp = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');

  const b = new Client(f.url);
  await b.signIn('alice', 'alice-test-pass', '/echo');
  const { r: passed, page } = await passTotp(b, totp, '/echo', true);
  t.match(page, /name="code"/, 'the challenge page is the TOTP form');
  t.notMatch(page, /name="remember"/, 'it offers no remember option');
  t.equal(passed.status, 303, 'the factor is passed (remember=1 posted anyway)');
  t.notOk(passed.headers.getSetCookie().some((c) => c.startsWith(`${deviceCookie}=`)), 'no device cookie is set');
  t.notOk(b.cookies.has(deviceCookie));
  t.same(await f.gw.services.store.listDevices('alice'), [], 'the store holds no trusted device');
  t.equal((await access(b)).status, 200, 'this sign-in is complete');

  await signOut(b);
  await b.signIn('alice', 'alice-test-pass', '/echo');
  t.match(await access(b), { status: 401, error: 'mfa_required' }, 'the next sign-in from the browser asks for the second factor');
});
