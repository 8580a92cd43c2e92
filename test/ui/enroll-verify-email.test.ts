// rollout.verify_email_first: a first factor is enrolled only after an emailed
// code (README "Explicit rules bind everyone"). The pure gates as tables, then
// over HTTP: a password-only session is sent to the email-code challenge,
// passing it opens the enrollment, and a stolen password alone (the hole of
// test/http/adversarial-review-3.test.ts) no longer pays bills.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atSetup, firstEnrollCheck, verifyEmailChallenge, type EnrollNeed } from '../../src/ui/enroll-page.ts';
import { verifyEmailOffered } from '../../src/ui/challenge-page.ts';
import { verifyEmailFirstProblem } from '../../src/config/sections/rollout.ts';
import type { FactorCheck } from '../../src/policy/types.ts';
import type { FactorKind } from '../../src/config/types.ts';
import { Client, type GatewayFixture } from '../helpers/gateway.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { TotpDevice } from '../helpers/totp.ts';
import { registerPasskey } from '../helpers/passkey-ceremony.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { resumeTarget } from '../../src/policy/resume-marker.ts';

const NOW = 1_800_000_000_000;
const check = (kind: FactorKind, agoMs: number): FactorCheck => ({ kind, at: NOW - agoMs, phishing_resistant: kind === 'webauthn' }) as FactorCheck;

t.test('firstEnrollCheck: what a first factor needs', async (t) => {
  const cases: [string, boolean, boolean, FactorCheck[], 'ok' | 'email' | 'no-email'][] = [
    ['off: the password session is enough (the default)', false, true, [], 'ok'],
    ['off, no address: still enough', false, false, [], 'ok'],
    ['on, no check yet: the emailed code', true, true, [], 'email'],
    ['on, an email code a minute ago: ok', true, true, [check('email', 60_000)], 'ok'],
    ['on, an email code exactly five minutes ago: ok', true, true, [check('email', 5 * 60_000)], 'ok'],
    ['on, an email code six minutes ago: asked again', true, true, [check('email', 6 * 60_000)], 'email'],
    ['on, a fresh recovery code is not proof of the address', true, true, [check('recovery', 1000)], 'email'],
    ['on, a fresh TOTP check (another user\'s seed?) is not proof either', true, true, [check('totp', 1000)], 'email'],
    ['on, no address on file: an admin must help', true, false, [check('email', 1000)], 'no-email'],
  ];
  for (const [name, on, hasEmail, checks, want] of cases) t.equal(firstEnrollCheck(on, hasEmail, checks, NOW), want, name);
});

t.test('verifyEmailOffered: the email code for a user without factors only on the verify-email check back to enrollment', async (t) => {
  const enroll = '/.gatehouse/enroll?rd=%2F';
  const cases: [string, boolean, { rd: string; why?: string }, FactorKind[], boolean][] = [
    ['on, why=verify-email, back to enrollment, no factors', true, { rd: enroll, why: 'verify-email' }, [], true],
    ['on, only recovery codes (not a factor)', true, { rd: '/.gatehouse/enroll', why: 'verify-email' }, ['recovery'], true],
    ['off', false, { rd: enroll, why: 'verify-email' }, [], false],
    ['on, another why', true, { rd: enroll, why: 'account' }, [], false],
    ['on, no why', true, { rd: enroll }, [], false],
    ['on, back to the app, not the enrollment', true, { rd: '/billing', why: 'verify-email' }, [], false],
    ['on, a look-alike path', true, { rd: '/.gatehouse/enrollment', why: 'verify-email' }, [], false],
    ['on, the user has a factor (email is offered as the usual fallback instead)', true, { rd: enroll, why: 'verify-email' }, ['totp'], false],
  ];
  for (const [name, on, flow, enrolled, want] of cases) t.equal(verifyEmailOffered(on, flow, enrolled), want, name);
});

t.test('atSetup: the emailed code is asked for at a method\'s setup, not on the list of methods', async (t) => {
  const cases: [EnrollNeed, string | null, EnrollNeed][] = [
    ['email', 'totp', 'email'],
    ['email', null, 'ok'],
    ['no-email', 'webauthn', 'no-email'],
    ['no-email', null, 'ok'],
    ['factor', null, 'factor'],
    ['passkey', null, 'passkey'],
    ['ok', 'totp', 'ok'],
  ];
  for (const [need, method, want] of cases) t.equal(atSetup(need, method), want, `${need} ${method}`);
});

t.test('verifyEmailChallenge: the email method, the why, the way back', async (t) => {
  const u = new URL(verifyEmailChallenge('/.gatehouse/enroll?rd=%2F&method=totp'), 'http://x');
  t.equal(u.pathname, '/.gatehouse/challenge');
  t.same(Object.fromEntries(u.searchParams), { method: 'email', rd: '/.gatehouse/enroll?rd=%2F&method=totp', why: 'verify-email' });
});

t.test('verifyEmailFirstProblem: a notifier that sends email', async (t) => {
  const cases: [boolean, string, RegExp | undefined][] = [
    [false, 'webhook', undefined],
    [true, 'smtp', undefined],
    [true, 'file', undefined],
    [true, 'webhook', /needs a notifier that sends email .*not webhook/],
  ];
  for (const [on, kind, want] of cases) {
    const got = verifyEmailFirstProblem(on, kind);
    if (want) t.match(got, want, `${on} ${kind}`); else t.equal(got, undefined, `${on} ${kind}`);
  }
});

// ---------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------

const FORM = 'application/x-www-form-urlencoded';
/** The CSRF token of a page's form. */
const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const USERS = {
  carol: { password: 'carol-test-pass' },
  hana: { password: 'hana-test-pass' },
};
const { f, up } = await startLenientGateway(t, {
  users: USERS,
  config: {
    policy: { default: 'mfa', rules: [{ id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' }] },
    rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31', verify_email_first: true },
  },
});

async function signedIn(user: keyof typeof USERS): Promise<Client> {
  const c = new Client(f.url);
  const r = await c.signIn(user, USERS[user].password);
  if (r.status !== 303) throw new Error(`sign-in of ${user}: ${r.status}`);
  return c;
}

/** The newest one-time code mailed to `to` (the file notifier's outbox). */
function lastCode(fx: GatewayFixture, to: string): string | undefined {
  const lines = readFileSync(join(fx.dir, 'outbox.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string; text: string });
  const mine = lines.filter((m) => m.to === to);
  return /\b(\d{6})\b/.exec(mine.at(-1)?.text ?? '')?.[1];
}

t.test('a password-only session asking to enroll is sent to the email-code challenge; passing it opens the enrollment', async (t) => {
  const c = await signedIn('hana');
  const list = await c.fetch('/.gatehouse/enroll?rd=%2F');
  t.equal(list.status, 200, 'the list of methods is shown (it sets nothing up)');
  t.match(await list.text(), /name="action" value="defer"/, 'with "Set up later" in the grace period');
  const ask = await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp');
  t.equal(ask.status, 302, 'not the setup page');
  const to = new URL(ask.headers.get('location')!, f.url);
  t.equal(to.pathname, '/.gatehouse/challenge');
  t.equal(to.searchParams.get('method'), 'email');
  t.equal(to.searchParams.get('why'), 'verify-email');
  t.equal(to.searchParams.get('rd'), '/.gatehouse/enroll?rd=%2F&method=totp');

  const page = await c.fetch(to.pathname + to.search);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, /confirm your email address/, 'the page says why');
  const csrf = csrfOf(html);
  const fields = { csrf, rd: to.searchParams.get('rd')!, why: 'verify-email', method: 'email' };
  t.equal((await c.postForm('/.gatehouse/challenge', { ...fields, send: '1' })).status, 200, 'code sent');
  const code = lastCode(f, 'hana@example.com');
  t.ok(code, 'the code went to hana\'s address');
  const passed = await c.postForm('/.gatehouse/challenge', { ...fields, code: code! });
  t.equal(passed.status, 303, 'the emailed code passes');
  t.equal(passed.headers.get('location'), '/.gatehouse/enroll?rd=%2F&method=totp', 'back to the enrollment');

  const setup = await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(setup)?.[1];
  t.ok(secret, 'the authenticator-app setup is shown now');
  const r = await c.postForm('/.gatehouse/enroll', { csrf: csrfOf(setup), rd: '/', action: 'totp', code: await new TotpDevice(secret!, f.clock).next() });
  t.equal(r.status, 303, 'enrolled');
  t.match(r.headers.get('location'), /step=recovery/, 'on to the recovery codes, as for any first factor');
});

t.test('held: a stolen password of a not-yet-enrolled user no longer pays bills (the hole of adversarial review 3)', async (t) => {
  const attacker = await signedIn('carol');
  const pay = await attacker.fetch('/billing/pay', { method: 'POST', headers: { 'content-type': FORM, origin: f.url }, body: 'amount=9999&to=attacker' });
  t.equal(pay.status, 302, 'the payment is kept and carol is sent to enrollment');
  const enroll = new URL(pay.headers.get('location')!, f.url);
  t.equal(enroll.pathname, '/.gatehouse/enroll');
  const q = enroll.searchParams;
  const setup = await attacker.fetch(`/.gatehouse/enroll?${q}&method=totp`);
  t.equal(setup.status, 302, 'no authenticator-app setup on the password alone');
  t.match(setup.headers.get('location'), /^\/\.gatehouse\/challenge\?method=email&/, 'sent to the emailed code, which goes to carol');
  // Straight to the form post, with a code of his own: refused the same way.
  const csrf = await attacker.csrf(setup.headers.get('location')!);
  const r = await attacker.postForm('/.gatehouse/enroll', { csrf, rd: q.get('rd')!, rule: q.get('rule') ?? '', stash: q.get('stash') ?? '', action: 'totp', code: '123456' });
  t.equal(r.status, 303);
  t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge\?method=email&/, 'the enrollment post is sent to the emailed code too');
  await attacker.fetch(resumeTarget(q.get('rd')!, q.get('stash')!));
  t.notOk(up.requests.some((x) => x.method === 'POST' && x.target === '/billing/pay' && x.body.includes('attacker')), 'the payment never reaches the app');
});

t.test('a first passkey on the password alone: register-options answers 403 with the way to the emailed code', async (t) => {
  const c = await signedIn('carol');
  const r = await registerPasskey(c, new SoftAuthenticator('localhost', f.url), { csrf: csrfOf(await (await c.fetch(verifyEmailChallenge('/.gatehouse/enroll?rd=%2F'))).text()) });
  t.equal(r.status, 403, 'not registered');
  const to = new URL(r.redirect ?? '/', f.url);
  t.equal(to.pathname, '/.gatehouse/challenge');
  t.equal(to.searchParams.get('method'), 'email', 'webauthn.js follows it to the emailed code');
  t.equal(to.searchParams.get('why'), 'verify-email');
});
