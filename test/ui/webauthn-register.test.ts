// Registering a passkey is not using it (README "Security model"): the
// registration records no webauthn check, so a rule that wants one asks for it
// and the next ceremony with the new key passes it. The pure helpers, then
// over HTTP: a fresh authenticator-app code does not buy a pass of a
// webauthn-only rule, and a first-time user sent to enroll by such a rule uses
// the new key once, gets recovery codes, then her held request.

import t from 'tap';
import { Client, readAudit } from '../helpers/gateway.ts';
import { getStatus, registerPasskey, startPasskeyGateway, useKey } from '../helpers/passkey-ceremony.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { enrollTotpOverHttp, passTotp } from '../helpers/totp.ts';
import { proveFirst, withEnrolled } from '../../src/ui/webauthn-endpoints.ts';
import type { SessionData } from '../../src/session/session-data.ts';

t.test('withEnrolled: the kind added once, the rest of the session untouched', async (t) => {
  const s = { v: 1, sid: 's', user: 'u', factors: [], enrolled: ['totp'] } as unknown as SessionData;
  t.same(withEnrolled(s, 'webauthn'), { ...s, enrolled: ['totp', 'webauthn'] }, 'added, nothing else changes (no factor check, same sid)');
  t.equal(withEnrolled(s, 'totp'), s, 'already there: the same session');
  t.same(withEnrolled({ ...s, enrolled: undefined }, 'webauthn').enrolled, ['webauthn'], 'none known yet');
  t.same(s.enrolled, ['totp'], 'the session given is not changed');
});

t.test('proveFirst: the webauthn challenge, then on to where the enrollment goes', async (t) => {
  const next = '/.gatehouse/enroll?rd=%2Fkeys%2Fnew&rule=keys-only&stash=abcdefghijkl&step=recovery';
  const url = new URL(proveFirst(next), 'http://gw.test');
  t.equal(url.pathname, '/.gatehouse/challenge');
  t.equal(url.searchParams.get('method'), 'webauthn');
  t.equal(url.searchParams.get('why'), 'new-passkey', 'the page says why: the key just added');
  t.equal(url.searchParams.get('rd'), next, 'the whole enrollment step, rule and stash included, is the return target');
  t.equal(url.searchParams.get('rule'), null, 'no rule of its own: the held request is judged when it is replayed');
});

const FORM = 'application/x-www-form-urlencoded';
const USERS = { alice: { password: 'alice-test-pass' }, bob: { password: 'bob-test-pass' } };
const { f, up, signedIn } = await startPasskeyGateway(t, USERS);

t.test('a fresh authenticator-app code registers a passkey, and the registration passes no webauthn rule', async (t) => {
  const c = new Client(f.url);
  const device = await enrollTotpOverHttp(f, 'bob', USERS.bob.password, c);
  t.equal((await passTotp(c, device, '/')).status, 303, 'a fresh TOTP check');
  t.equal(await getStatus(c, '/keys/x'), 401, 'the webauthn-only rule asks for a passkey bob has not got');

  const key = new SoftAuthenticator('localhost', f.url);
  const reg = await registerPasskey(c, key);
  t.equal(reg.status, 200, 'registered (enrollment allowed after a fresh factor)');
  t.match(reg.redirect, /^\/\.gatehouse\/enroll\?.*step=/, 'the enrollment goes on as before: bob has a fresh factor to vouch for the session');
  t.equal(await getStatus(c, '/keys/x'), 401, 'the registration is no webauthn check: the rule still challenges');
  const audit = readAudit(f).filter((e) => e.user === 'bob' && e.factor === 'webauthn');
  t.same(audit.map((e) => e.event), ['factor.enrolled'], 'audited as enrolled, not as used');

  const used = await useKey(c, '/.gatehouse/challenge?rd=%2Fkeys%2Fx&rule=keys-only&method=webauthn', key);
  t.equal(used.status, 200, 'the next ceremony with the new key passes');
  t.equal(used.redirect, '/keys/x');
  t.equal(await getStatus(c, '/keys/x'), 200, 'and meets the webauthn-only rule');
});

t.test('a first-time user sent to enroll by a webauthn-only rule: the new key used once, recovery codes, then the held request', async (t) => {
  const c = await signedIn('alice');
  const held = await c.fetch('/keys/new', { method: 'POST', headers: { 'content-type': FORM, origin: f.url }, body: 'label=ci' });
  t.equal(held.status, 302, 'held and sent on');
  const enroll = new URL(held.headers.get('location')!, f.url);
  t.equal(enroll.pathname, '/.gatehouse/enroll', 'no factor yet: sent to enroll');
  t.ok(enroll.searchParams.get('stash'), 'the POST is held');

  const key = new SoftAuthenticator('localhost', f.url);
  const reg = await registerPasskey(c, key, { query: enroll.search.slice(1) });
  t.equal(reg.status, 200, 'registered on the password alone (a first factor)');
  const challenge = new URL(reg.redirect!, f.url);
  t.equal(challenge.pathname, '/.gatehouse/challenge', 'asked at once to use the new key');
  t.equal(challenge.searchParams.get('method'), 'webauthn');
  t.equal(await getStatus(c, '/keys/x'), 401, 'the rule is not met by the registration');
  t.equal(up.requests.filter((q) => q.target === '/keys/new').length, 0, 'nothing replayed yet');

  const used = await useKey(c, reg.redirect!, key);
  t.equal(used.status, 200, 'the new key passes the challenge');
  const recovery = new URL(used.redirect!, f.url);
  t.equal(recovery.pathname, '/.gatehouse/enroll');
  t.equal(recovery.searchParams.get('step'), 'recovery', 'then the recovery codes');
  t.equal(recovery.searchParams.get('stash'), enroll.searchParams.get('stash'), 'the held request still waiting');
  const codes = await c.fetch(used.redirect!);
  t.equal(codes.status, 200);
  t.match(await codes.text(), /\b[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}\b/, 'codes shown');

  const done = await c.fetch(`/.gatehouse/enroll?${new URLSearchParams({ ...Object.fromEntries(recovery.searchParams), step: 'done' })}`);
  const cont = /href="([^"]*__gatehouse_resume[^"]*)"/.exec(await done.text())?.[1]?.replace(/&amp;/g, '&');
  t.ok(cont, 'the confirmation continues to the held request');
  const replay = await c.fetch(cont!);
  t.equal(replay.status, 200, 'replayed');
  t.match(await replay.text(), /seen POST \/keys\/new/, 'the upstream got the held POST, once the key was used');
  t.equal(up.requests.filter((q) => q.target === '/keys/new').length, 1);
});
