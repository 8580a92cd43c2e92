// The passkey sign-in endpoints over HTTP against a real gateway (README
// "Passkey sign-in"): what they refuse before any ceremony (no session, a bad
// CSRF token), what the options ask of the browser (no credential named, user
// verification), and that failed attempts are audited and count against the
// address like password attempts. The ceremony itself, in Chromium:
// test/browser/passkey-signin.browser.test.ts.

import t from 'tap';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';

const f = await startTestGateway({ upstream: false });
t.teardown(() => f.close());

/** A browser on the sign-in page: its anonymous session and the page's CSRF token. */
async function onSignInPage(): Promise<{ c: Client; csrf: string; html: string }> {
  const c = new Client(f.url);
  const html = await (await c.fetch('/.gatehouse/login?rd=%2Freports')).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { c, csrf, html };
}

function postJson(c: Client, path: string, csrf: string, body: unknown) {
  return c.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', origin: f.url, 'x-csrf-token': csrf }, body: JSON.stringify(body) });
}

t.test('the sign-in page offers the passkey and its autofill', async (t) => {
  const { html } = await onSignInPage();
  t.match(html, /data-webauthn="signin"/, 'the passkey box');
  t.match(html, /data-rd="\/reports"/, 'the return target travels with it');
  t.match(html, /autocomplete="username webauthn"/, 'the username field offers passkeys in autofill');
  t.match(html, /<noscript>.*turn on JavaScript/s, 'without JavaScript the page says what to do');
});

t.test('options: a session and the page\'s CSRF token first; then no credential named, verification required', async (t) => {
  const stranger = new Client(f.url);
  const none = await postJson(stranger, '/.gatehouse/passkey/options', 'x', {});
  t.equal(none.status, 401, 'no session: refused');
  t.same(await none.json(), { ok: false, code: 'expired', error: 'Your session ended. Sign in again.' });

  const { c, csrf } = await onSignInPage();
  t.equal((await postJson(c, '/.gatehouse/passkey/options', `${csrf}x`, {})).status, 403, 'a wrong CSRF token: refused');
  const r = await postJson(c, '/.gatehouse/passkey/options', csrf, {});
  t.equal(r.status, 200);
  const { options } = await r.json() as { options: { challenge: string; allowCredentials?: unknown[]; userVerification: string; rpId: string } };
  t.same(options.allowCredentials ?? [], [], 'no credential named: the browser offers the passkeys it holds');
  t.equal(options.userVerification, 'required', 'the fingerprint or PIN is required');
  t.equal(options.rpId, 'localhost');
  t.equal((await c.fetch('/.gatehouse/passkey/options')).status, 405, 'POST only');
});

t.test('a failed passkey sign-in is audited and counts against the address', async (t) => {
  const { c, csrf } = await onSignInPage();
  const bad = await postJson(c, '/.gatehouse/passkey/verify', csrf, { response: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: {} }, rd: '/reports' });
  t.equal(bad.status, 401);
  t.same(await bad.json(), { ok: false, code: 'failed' }, 'the page gets a code to word, nothing about why');
  const failure = readAudit(f).filter((e) => e.event === 'signin.failure').at(-1);
  t.match(failure, { user: '-', reason: 'passkey: malformed authentication response' }, 'audited, with the reason');

  // A challenge issued to this browser, answered by another: refused before the challenge is
  // spent, so knowing someone's challenge does not cancel their sign-in.
  const { options } = await (await postJson(c, '/.gatehouse/passkey/options', csrf, {})).json() as { options: { challenge: string } };
  const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: f.url })).toString('base64url');
  const forged = { id: 'Y3JlZA', rawId: 'Y3JlZA', type: 'public-key', response: { clientDataJSON: clientData, authenticatorData: 'AAAA', signature: 'AAAA', userHandle: 'dXNlcg' } };
  const other = await onSignInPage();
  t.equal((await postJson(other.c, '/.gatehouse/passkey/verify', other.csrf, { response: forged })).status, 401);
  t.match(readAudit(f).filter((e) => e.event === 'signin.failure').at(-1), { reason: 'passkey: the sign-in was started by another browser' });
  t.equal((await postJson(c, '/.gatehouse/passkey/verify', csrf, { response: forged })).status, 401);
  t.match(readAudit(f).filter((e) => e.event === 'signin.failure').at(-1), { reason: 'passkey: unknown credential' },
    'the browser that asked still has its challenge (its answer gets as far as the credential lookup)');
  t.equal((await postJson(c, '/.gatehouse/passkey/verify', csrf, { response: forged })).status, 401);
  t.match(readAudit(f).filter((e) => e.event === 'signin.failure').at(-1), { reason: 'passkey: no pending sign-in (expired or already used)' }, 'single use');

  // The address's free attempts (shared with the password form) run out: a wait, said as such.
  f.clock.hold();
  t.teardown(() => f.clock.release());
  let last: Response | undefined;
  for (let i = 0; i < 25 && last?.status !== 429; i++) last = await postJson(c, '/.gatehouse/passkey/verify', csrf, { response: {} });
  t.equal(last?.status, 429, 'repeated failures from one address earn a wait');
  const body = await last!.json() as { code: string; wait_seconds: number };
  t.equal(body.code, 'throttled');
  t.ok(body.wait_seconds > 0);
  const page = await (await c.fetch('/.gatehouse/login')).text();
  t.match(page, /data-msg-throttled="Too many attempts\. Try again in \{seconds\} seconds\."/, 'the page has the words for it');
  t.ok(readAudit(f).some((e) => e.event === 'signin.lockout'), 'the lock-out is audited');
});
