// A phishable check does not buy or remove a phishing-resistant factor
// (README "Security model"): with a passkey already there, registering another
// one or removing one needs a fresh passkey check; a fresh authenticator-app
// code is sent to the passkey challenge instead. Everything else keeps "any
// fresh factor", and a first passkey is still added after a fresh code. The
// pure rules, then over HTTP.

import t from 'tap';
import { Client, readAudit } from '../helpers/gateway.ts';
import { csrfOf, getStatus, registerPasskey, startPasskeyGateway, useKey } from '../helpers/passkey-ceremony.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { enrollTotpOverHttp, passTotp } from '../helpers/totp.ts';
import { FRESH_FACTOR_MS, freshCheckFor, needsPhishingResistant } from '../../src/ui/second-factor.ts';
import type { FactorCheck } from '../../src/policy/types.ts';

const NOW = 1_800_000_000_000;
const totp = (ago: number): FactorCheck => ({ kind: 'totp', amr: 'otp', phishing_resistant: false, at: NOW - ago });
const key = (ago: number): FactorCheck => ({ kind: 'webauthn', amr: 'hwk', phishing_resistant: true, at: NOW - ago });

t.test('freshCheckFor: a recent check, phishing-resistant when asked', async (t) => {
  const rows: [string, FactorCheck[], boolean, boolean][] = [
    ['no checks', [], false, false],
    ['no checks, passkey needed', [], true, false],
    ['fresh TOTP', [totp(60_000)], false, true],
    ['fresh TOTP, passkey needed', [totp(60_000)], true, false],
    ['TOTP at the limit', [totp(FRESH_FACTOR_MS)], false, true],
    ['TOTP just past it', [totp(FRESH_FACTOR_MS + 1)], false, false],
    ['fresh passkey', [key(60_000)], true, true],
    ['fresh passkey, any factor will do', [key(60_000)], false, true],
    ['passkey at the limit', [key(FRESH_FACTOR_MS)], true, true],
    ['stale passkey, fresh TOTP, passkey needed', [key(FRESH_FACTOR_MS + 1), totp(1_000)], true, false],
    ['stale passkey, fresh TOTP, any factor', [key(FRESH_FACTOR_MS + 1), totp(1_000)], false, true],
    ['fresh passkey before a newer TOTP, passkey needed', [key(120_000), totp(1_000)], true, true],
  ];
  for (const [name, checks, strong, want] of rows) t.equal(freshCheckFor(checks, strong, NOW), want, name);
});

t.test('needsPhishingResistant: adding or removing a passkey while the user has one', async (t) => {
  t.equal(needsPhishingResistant('webauthn', ['totp', 'webauthn']), true, 'another passkey, or removing one');
  t.equal(needsPhishingResistant('webauthn', ['webauthn', 'recovery']), true, 'passkey only');
  t.equal(needsPhishingResistant('webauthn', ['totp', 'recovery']), false, 'a first passkey: any fresh factor');
  t.equal(needsPhishingResistant('webauthn', []), false, 'nothing enrolled');
  t.equal(needsPhishingResistant('totp', ['totp', 'webauthn']), false, 'an app beside a passkey');
  t.equal(needsPhishingResistant('email', ['webauthn']), false, 'email codes');
  t.equal(needsPhishingResistant('push', ['webauthn']), false, 'push');
  t.equal(needsPhishingResistant(null, ['webauthn']), false, 'no kind (method choice, renaming, recovery codes)');
  t.equal(needsPhishingResistant(undefined, ['webauthn']), false, 'unknown factor');
});

const USERS = { bob: { password: 'bob-test-pass' } };
const { f } = await startPasskeyGateway(t, USERS);

/** Where a redirect goes, as a URL. */
const target = (r: Response | string | undefined) => new URL(typeof r === 'string' ? r : r?.headers.get('location') ?? '', f.url);
const isPasskeyChallenge = (u: URL) => u.pathname === '/.gatehouse/challenge' && u.searchParams.get('method') === 'webauthn';
const webauthnIds = () => {
  const events = readAudit(f).filter((e) => e.user === 'bob' && e.factor === 'webauthn');
  const removed = new Set(events.filter((e) => e.event === 'factor.removed').map((e) => e.factor_id));
  return events.filter((e) => e.event === 'factor.enrolled' && !removed.has(e.factor_id)).map((e) => e.factor_id as string);
};
const removeFactor = async (c: Client, id: string) =>
  c.postForm('/.gatehouse/account', { csrf: await c.csrf('/.gatehouse/account'), action: 'remove-factor', id, confirmed: '1' });

t.test('with an app and a passkey, a fresh app code neither adds nor removes a passkey; a passkey check does', async (t) => {
  const c = new Client(f.url);
  const device = await enrollTotpOverHttp(f, 'bob', USERS.bob.password, c);
  const first = new SoftAuthenticator('localhost', f.url);
  const enrollPage = await c.fetch('/.gatehouse/enroll?rd=%2F&method=webauthn');
  t.equal(enrollPage.status, 200, 'only an app: the passkey setup page opens after the fresh app code');
  const csrf = csrfOf(await enrollPage.text());
  const reg = await registerPasskey(c, first, { csrf });
  t.equal(reg.status, 200, 'a first passkey is added with a fresh app code');
  t.equal(webauthnIds().length, 1);

  // Later: the attacker's session, with bob's password and one phished code.
  f.clock.advance(FRESH_FACTOR_MS + 60_000);
  t.equal((await passTotp(c, device, '/')).status, 303, 'a fresh TOTP check');

  const page = await c.fetch('/.gatehouse/enroll?rd=%2F&method=webauthn');
  t.equal(page.status, 302, 'the passkey setup page is not served');
  t.ok(isPasskeyChallenge(target(page)), 'but sends to the challenge that asks for the passkey');
  t.equal(target(target(page).searchParams.get('rd')!).searchParams.get('method'), 'webauthn', 'and back to the passkey setup');
  t.equal((await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).status, 200, 'another app: any fresh factor still does');

  const second = new SoftAuthenticator('localhost', f.url);
  const refused = await registerPasskey(c, second, { csrf });
  t.equal(refused.status, 403, 'register-options refuses another passkey on a TOTP check');
  t.match(refused.error, /Confirm/, 'webauthn.confirm_first');
  t.ok(isPasskeyChallenge(target(refused.redirect)), 'the answer names the passkey challenge (webauthn.js goes there)');
  t.equal(webauthnIds().length, 1, 'nothing registered');

  const removing = await removeFactor(c, webauthnIds()[0]);
  t.equal(removing.status, 303, 'removing the passkey asks for a check');
  const challenge = target(removing);
  t.ok(isPasskeyChallenge(challenge), 'the passkey challenge');
  t.equal(challenge.searchParams.get('why'), 'remove-factor');
  // Passing TOTP there instead ("try another method") does not finish the removal.
  t.equal((await passTotp(c, device, challenge.searchParams.get('rd')!)).status, 303, 'a TOTP check on the way back');
  const resumed = await c.fetch(challenge.searchParams.get('rd')!);
  t.equal(target(resumed).pathname, '/.gatehouse/account', 'back on the page');
  t.equal(target(resumed).searchParams.get('done'), null, 'nothing done');
  t.equal(webauthnIds().length, 1, 'the passkey is still there');
  t.equal(await getStatus(c, '/keys/x'), 401, 'and the webauthn-only rule still asks for it');

  // Bob, with his passkey: the same two changes go through.
  const used = await useKey(c, refused.redirect!, first);
  t.equal(used.status, 200, 'a passkey check');
  t.equal(target(used.redirect).searchParams.get('method'), 'webauthn', 'back to the passkey setup');
  const page2 = await c.fetch(used.redirect!);
  t.equal(page2.status, 200, 'which opens now');
  t.equal((await registerPasskey(c, second, { csrf: csrfOf(await page2.text()) })).status, 200, 'another passkey is added after a passkey check');
  t.equal(webauthnIds().length, 2);
  const removed = await removeFactor(c, webauthnIds()[1]);
  t.equal(target(removed).searchParams.get('done'), 'removed', 'and one is removed at once');
  t.equal(webauthnIds().length, 1);

  // A removal kept while the passkey is asked for is finished after it.
  f.clock.advance(FRESH_FACTOR_MS + 60_000);
  t.equal((await passTotp(c, device, '/')).status, 303, 'a fresh TOTP check only');
  const kept = target(await removeFactor(c, webauthnIds()[0]));
  t.ok(isPasskeyChallenge(kept), 'the passkey challenge again');
  const withKey = await useKey(c, `${kept.pathname}${kept.search}`, first);
  t.equal(withKey.status, 200);
  const finished = await c.fetch(withKey.redirect!);
  t.equal(target(finished).searchParams.get('done'), 'removed', 'removed after the passkey check');
  t.equal(target(finished).searchParams.get('resumed'), '1');
  t.equal(webauthnIds().length, 0, 'no passkey left');
});
