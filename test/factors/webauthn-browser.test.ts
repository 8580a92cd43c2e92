// End to end: real Chromium with CDP virtual authenticators runs the browser
// half of each ceremony (@simplewebauthn/browser), the service runs the server
// half against a real SQLite store and shared state. Nothing is mocked.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { createWebAuthn, type WebAuthnService } from '../../src/factors/webauthn.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { launchBrowser, newPage, requireChromium } from '../helpers/browser.ts';

const require = createRequire(import.meta.url);
const BUNDLE = readFileSync(
  path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
);
const PAGE = '<!doctype html><meta charset="utf-8"><title>webauthn test</title><script src="/swa.js"></script>';

/** Serves a blank page that loads the browser library; the ceremonies are driven from the test. */
async function startSite(): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/swa.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(BUNDLE);
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    }
  });
  // 'localhost', not 127.0.0.1: WebAuthn needs a secure context and a domain RP ID.
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://localhost:${port}`, port };
}

interface Authenticator { page: Page; cdp: CDPSession; id: string }

/** A page on the site with one virtual authenticator of its own (own context, so credentials never mix). */
async function deviceWith(browser: Browser, url: string, kind: 'passkey' | 'security-key'): Promise<Authenticator> {
  const page = await newPage(browser);
  await page.goto(url);
  await page.waitForFunction(() => 'SimpleWebAuthnBrowser' in globalThis);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const options = kind === 'passkey'
    ? { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
    // A plain USB key without a PIN: presence only.
    : { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false, isUserVerified: false, automaticPresenceSimulation: true };
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: options as never });
  return { page, cdp, id: authenticatorId };
}

type Outcome = { ok: true; response: unknown } | { ok: false; error: string };

/**
 * Runs startRegistration / startAuthentication in the page. A ceremony no
 * authenticator can answer waits for the user until its timeout; cancel it
 * after `waitMs` instead (the browser then rejects with an AbortError).
 */
async function ceremony(page: Page, which: 'startRegistration' | 'startAuthentication', optionsJSON: unknown, waitMs: number): Promise<Outcome> {
  return page.evaluate(async ({ which, optionsJSON, waitMs }) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const swa = (globalThis as any).SimpleWebAuthnBrowser;
    const timer = setTimeout(() => swa.WebAuthnAbortService.cancelCeremony(), waitMs);
    try {
      return { ok: true as const, response: await swa[which]({ optionsJSON }) };
    } catch (err) {
      return { ok: false as const, error: `${(err as Error).name}: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }, { which, optionsJSON, waitMs });
}

const browserRegister = (page: Page, optionsJSON: unknown, waitMs = 15_000): Promise<Outcome> => ceremony(page, 'startRegistration', optionsJSON, waitMs);
const browserAuthenticate = (page: Page, optionsJSON: unknown, waitMs = 15_000): Promise<Outcome> => ceremony(page, 'startAuthentication', optionsJSON, waitMs);

function responseOf(t: Test, outcome: Outcome, what: string): unknown {
  if (!outcome.ok) {
    t.fail(`${what}: the browser refused: ${outcome.error}`);
    throw new Error(`${what}: ${outcome.error}`);
  }
  return outcome.response;
}

const user = (id: string) => ({ id, name: `${id}@example.com`, displayName: id });

/** Registers one credential end to end and returns the new factor id. */
async function register(t: Test, svc: WebAuthnService, dev: Authenticator, userId: string, kind: 'passkey' | 'security-key', name = ''): Promise<string> {
  const options = await svc.registrationOptions(user(userId), 'browser-a', kind);
  const response = responseOf(t, await browserRegister(dev.page, options), `register ${kind} for ${userId}`);
  const result = await svc.finishRegistration({ id: userId }, 'browser-a', response, name);
  if (!result.ok) {
    t.fail(`register ${kind} for ${userId}: ${result.reason}`);
    throw new Error(result.reason);
  }
  return result.factor.id;
}

async function signIn(svc: WebAuthnService, dev: Authenticator, userId: string, waitMs?: number) {
  const options = await svc.authenticationOptions({ id: userId }, 'browser-a');
  const outcome = await browserAuthenticate(dev.page, options, waitMs);
  return { options, outcome, result: outcome.ok ? await svc.finishAuthentication({ id: userId }, 'browser-a', outcome.response) : undefined };
}

if (requireChromium(t)) t.test('WebAuthn ceremonies in Chromium', async (t) => {
  const site = await startSite();
  t.teardown(() => new Promise<void>((resolve) => site.server.close(() => resolve())));
  const browser = await launchBrowser();
  t.teardown(() => browser.close());

  async function fresh(): Promise<{ store: Store; shared: SharedState; svc: WebAuthnService }> {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    const shared = createMemorySharedState();
    t.teardown(async () => {
      await shared.close();
      await store.close();
    });
    return { store, shared, svc: createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: site.url }) };
  }

  t.test('rp id and origin come from the public URL', async (t) => {
    const { svc } = await fresh();
    t.equal(svc.rpId, 'localhost');
    t.equal(svc.origin, `http://localhost:${site.port}`, 'origin keeps the port');
  });

  t.test('passkey on a platform authenticator: register, then sign in', async (t) => {
    const { store, svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');

    const options = await svc.registrationOptions(user('alice'), 'browser-a', 'passkey');
    t.equal(options.authenticatorSelection?.residentKey, 'required', 'discoverable credential required');
    t.equal(options.authenticatorSelection?.userVerification, 'required', 'user verification required');
    t.equal(options.authenticatorSelection?.authenticatorAttachment, undefined, 'attachment not forced: the browser offers what it has');
    t.same(options.pubKeyCredParams.map((p) => p.alg), [-8, -7, -257], 'EdDSA, ES256, RS256 only');
    t.notMatch(Buffer.from(options.user.id, 'base64url').toString('latin1'), /alice/, 'the user handle is not the username');
    t.same(options.excludeCredentials, [], 'nothing to exclude yet');

    const response = responseOf(t, await browserRegister(dev.page, options), 'register');
    const reg = await svc.finishRegistration({ id: 'alice' }, 'browser-a', response, '  Laptop  ');
    if (!reg.ok) throw new Error(reg.reason);
    t.equal(reg.factor.kind, 'webauthn');
    t.equal(reg.factor.user, 'alice');
    t.equal(reg.factor.name, 'Laptop', 'label trimmed');
    t.equal(reg.factor.data.uv, true, 'passkeys always need user verification');
    t.equal(reg.factor.data.credential_id, (response as { id: string }).id, 'credential id stored');
    t.type(reg.factor.data.public_key, 'string');
    t.same((await store.listFactors('alice')).map((f) => f.id), [reg.factor.id], 'persisted');

    const creds = await dev.cdp.send('WebAuthn.getCredentials', { authenticatorId: dev.id });
    t.equal(creds.credentials.length, 1, 'the authenticator holds one credential');
    t.equal(creds.credentials[0].isResidentCredential, true, 'a resident (discoverable) credential: a passkey');

    const again = await svc.registrationOptions(user('alice'), 'browser-a', 'passkey');
    t.same(again.excludeCredentials?.map((c) => c.id), [reg.factor.data.credential_id], 'existing credentials are excluded from a new registration');
    await svc.finishRegistration({ id: 'alice' }, 'browser-a', {}, ''); // leaves the pending registration alone (malformed)

    const before = Date.now();
    const { options: authOptions, outcome, result } = await signIn(svc, dev, 'alice');
    t.same(authOptions.allowCredentials?.map((c) => c.id), [reg.factor.data.credential_id], 'allowCredentials lists the user\'s credentials');
    t.equal(authOptions.userVerification, 'required', 'only passkeys: verification required up front');
    t.ok(outcome.ok, 'the browser signed');
    if (!result?.ok) throw new Error(`sign-in failed: ${result?.reason}`);
    t.equal(result.factorId, reg.factor.id);
    t.equal(result.verified.factorId, reg.factor.id);
    t.same({ ...result.verified.check, at: 0 }, { kind: 'webauthn', amr: 'hwk', phishing_resistant: true, at: 0 });
    t.ok(result.verified.check.at >= before, 'checked now');
    const stored = await store.getFactor('alice', reg.factor.id);
    t.ok(stored?.last_used_at !== null && stored!.last_used_at! >= before, 'last_used_at updated');
    const signCount = (await dev.cdp.send('WebAuthn.getCredentials', { authenticatorId: dev.id })).credentials[0].signCount;
    t.equal(stored?.data.counter, signCount, 'stored counter follows the authenticator');
  });

  t.test('security key on USB: register, then sign in without user verification', async (t) => {
    const { store, svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'security-key');
    const options = await svc.registrationOptions(user('bob'), 'browser-a', 'security-key');
    t.equal(options.authenticatorSelection?.authenticatorAttachment, 'cross-platform');
    t.equal(options.authenticatorSelection?.residentKey, 'discouraged');
    t.equal(options.authenticatorSelection?.userVerification, 'preferred');
    const response = responseOf(t, await browserRegister(dev.page, options), 'register');
    const reg = await svc.finishRegistration({ id: 'bob' }, 'browser-a', response, '');
    if (!reg.ok) throw new Error(reg.reason);
    t.equal(reg.factor.name, 'Security key', 'default label');
    t.equal(reg.factor.data.uv, false, 'a security key may sign with presence only');
    t.same(reg.factor.data.transports, ['usb']);

    const first = await signIn(svc, dev, 'bob');
    t.equal(first.options.userVerification, 'preferred');
    t.equal(first.result?.ok, true, `first sign-in: ${JSON.stringify(first.result ?? first.outcome)}`);
    const second = await signIn(svc, dev, 'bob');
    t.equal(second.result?.ok, true, 'second sign-in, counter moved forward');
    const counter = (await store.getFactor('bob', reg.factor.id))?.data.counter as number;
    t.ok(counter >= 2, `counter advanced (${counter})`);
  });

  t.test('two credentials for one user, both usable', async (t) => {
    const { store, svc } = await fresh();
    const phone = await deviceWith(browser, site.url, 'passkey');
    const key = await deviceWith(browser, site.url, 'security-key');
    const passkeyId = await register(t, svc, phone, 'carol', 'passkey', 'Phone');
    const keyId = await register(t, svc, key, 'carol', 'security-key', 'YubiKey 5');
    const factors = await store.listFactors('carol');
    t.same(factors.map((f) => f.name).sort(), ['Phone', 'YubiKey 5']);

    const options = await svc.authenticationOptions({ id: 'carol' }, 'browser-a');
    t.equal(options.allowCredentials?.length, 2, 'both credentials allowed');
    t.equal(options.userVerification, 'preferred', 'mixed credentials: the key without a PIN must still work');

    const viaPhone = await signIn(svc, phone, 'carol');
    t.same(viaPhone.result?.ok && viaPhone.result.factorId, passkeyId, 'the passkey signs in');
    const viaKey = await signIn(svc, key, 'carol');
    t.same(viaKey.result?.ok && viaKey.result.factorId, keyId, 'the security key signs in');

    await store.removeFactor('carol', keyId);
    const removed = await signIn(svc, key, 'carol', 2000);
    // The browser no longer offers the removed key (not in allowCredentials), or the service refuses it.
    t.not(removed.result?.ok, true, 'a removed credential no longer signs in');
  });

  t.test('a passkey assertion without user verification is refused', async (t) => {
    const { svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');
    await register(t, svc, dev, 'dave', 'passkey');
    await dev.cdp.send('WebAuthn.setUserVerified', { authenticatorId: dev.id, isUserVerified: false });

    const failedUv = await signIn(svc, dev, 'dave', 3000);
    t.not(failedUv.result?.ok, true, `failed fingerprint/PIN never signs in (${failedUv.outcome.ok ? JSON.stringify(failedUv.result) : failedUv.outcome.error})`);

    // A client that asks the authenticator not to verify (a modified page): the
    // assertion arrives without the UV flag and the service must refuse it.
    await dev.cdp.send('WebAuthn.setUserVerified', { authenticatorId: dev.id, isUserVerified: true });
    const options = await svc.authenticationOptions({ id: 'dave' }, 'browser-a');
    const outcome = await browserAuthenticate(dev.page, { ...options, userVerification: 'discouraged' });
    const response = responseOf(t, outcome, 'assertion with UV discouraged');
    const flags = Buffer.from((response as { response: { authenticatorData: string } }).response.authenticatorData, 'base64url')[32];
    t.equal(flags & 0x04, 0, 'the authenticator did not verify the user');
    const result = await svc.finishAuthentication({ id: 'dave' }, 'browser-a', response);
    t.equal(result.ok, false);
    t.match(!result.ok && result.reason, /user verification|could not be verified/i);

    const ok = await signIn(svc, dev, 'dave');
    t.equal(ok.result?.ok, true, 'with verification it signs in again');
  });

  t.test('sign-count regression (a cloned authenticator) is refused', async (t) => {
    const { store, svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'security-key');
    const id = await register(t, svc, dev, 'erin', 'security-key');
    t.equal((await signIn(svc, dev, 'erin')).result?.ok, true, 'signs in before tampering');
    const rec = await store.getFactor('erin', id);
    await store.updateFactor('erin', id, { data: { ...rec!.data, counter: 1_000_000 } });

    const { result } = await signIn(svc, dev, 'erin');
    t.same(result, { ok: false, reason: 'counter regression' });
    t.equal((await store.getFactor('erin', id))?.data.counter, 1_000_000, 'the stored counter is unchanged');
  });

  t.test('challenges are single use', async (t) => {
    const { svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');
    await register(t, svc, dev, 'frank', 'passkey');
    const options = await svc.authenticationOptions({ id: 'frank' }, 'browser-a');
    const response = responseOf(t, await browserAuthenticate(dev.page, options), 'sign');
    t.equal((await svc.finishAuthentication({ id: 'frank' }, 'browser-a', response)).ok, true, 'first use');
    const replay = await svc.finishAuthentication({ id: 'frank' }, 'browser-a', response);
    t.same(replay, { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'replay refused');

    await svc.authenticationOptions({ id: 'frank' }, 'browser-a');
    const replayOnNewChallenge = await svc.finishAuthentication({ id: 'frank' }, 'browser-a', response);
    t.equal(replayOnNewChallenge.ok, false, 'replay against a newer challenge refused');
    t.match(!replayOnNewChallenge.ok && replayOnNewChallenge.reason, /challenge/);

    const regOptions = await svc.registrationOptions(user('frank'), 'browser-a', 'security-key');
    const key = await deviceWith(browser, site.url, 'security-key');
    const regResponse = responseOf(t, await browserRegister(key.page, regOptions), 'register');
    t.equal((await svc.finishRegistration({ id: 'frank' }, 'browser-a', regResponse, 'Key')).ok, true);
    t.same(await svc.finishRegistration({ id: 'frank' }, 'browser-a', regResponse, 'Key'), { ok: false, reason: 'no pending registration (expired or already used)' }, 'registration replay refused');
  });

  t.test('a ceremony started on one instance completes on another', async (t) => {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    const shared = createMemorySharedState();
    t.teardown(async () => {
      await shared.close();
      await store.close();
    });
    const one = createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: site.url });
    const two = createWebAuthn({ store, shared, rpName: 'Gatehouse test', publicUrl: site.url });
    const dev = await deviceWith(browser, site.url, 'passkey');

    const regOptions = await one.registrationOptions(user('grace'), 'browser-a', 'passkey');
    const reg = await two.finishRegistration({ id: 'grace' }, 'browser-a', responseOf(t, await browserRegister(dev.page, regOptions), 'register'), 'Laptop');
    t.equal(reg.ok, true, 'registration started on one, finished on two');

    const authOptions = await two.authenticationOptions({ id: 'grace' }, 'browser-a');
    const auth = await one.finishAuthentication({ id: 'grace' }, 'browser-a', responseOf(t, await browserAuthenticate(dev.page, authOptions), 'sign'));
    t.equal(auth.ok, true, 'sign-in started on two, finished on one');
  });

  t.test('the user named in the request must own the credential', async (t) => {
    const { svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');
    await register(t, svc, dev, 'heidi', 'passkey');
    await register(t, svc, await deviceWith(browser, site.url, 'passkey'), 'ivan', 'passkey');
    // Ivan's challenge, Heidi's authenticator answering it.
    const options = await svc.authenticationOptions({ id: 'ivan' }, 'browser-a');
    const heidiOptions = await svc.authenticationOptions({ id: 'heidi' }, 'browser-a');
    const response = responseOf(t, await browserAuthenticate(dev.page, { ...heidiOptions, challenge: options.challenge }), 'sign');
    t.same(await svc.finishAuthentication({ id: 'ivan' }, 'browser-a', response), { ok: false, reason: 'unknown credential' });
  });

  t.test('a passkey signs in without a username: the credential names its user', async (t) => {
    const { svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');
    const id = await register(t, svc, dev, 'judy', 'passkey');
    await register(t, svc, await deviceWith(browser, site.url, 'passkey'), 'ken', 'passkey');
    const options = await svc.discoverableOptions('sid-1');
    t.same(options.allowCredentials ?? [], [], 'no credential named: the browser offers the passkeys it holds');
    t.equal(options.userVerification, 'required', 'fingerprint or PIN required: both factors in one');
    const response = responseOf(t, await browserAuthenticate(dev.page, options), 'passkey sign-in');
    t.same(await svc.finishDiscoverable('sid-2', response), { ok: false, reason: 'the sign-in was started by another browser' }, 'bound to the browser that asked');
    const again = await svc.discoverableOptions('sid-1');
    const second = responseOf(t, await browserAuthenticate(dev.page, again), 'passkey sign-in');
    const r = await svc.finishDiscoverable('sid-1', second);
    if (!r.ok) throw new Error(r.reason);
    t.equal(r.user, 'judy', 'the user the passkey belongs to');
    t.equal(r.factorId, id);
    t.same({ ...r.verified.check, at: 0 }, { kind: 'webauthn', amr: 'hwk', phishing_resistant: true, at: 0 });
    t.same(await svc.finishDiscoverable('sid-1', second), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'single use');
  });

  t.test('passkey sign-in refuses a key that is not a passkey, and a missing user verification', async (t) => {
    const { svc } = await fresh();
    const key = await deviceWith(browser, site.url, 'security-key');
    await register(t, svc, key, 'leo', 'security-key');
    const options = await svc.discoverableOptions('sid-k');
    const outcome = await browserAuthenticate(key.page, options, 2000);
    t.equal(outcome.ok, false, 'a key without a resident credential or user verification has nothing to offer');

    const dev = await deviceWith(browser, site.url, 'passkey');
    await register(t, svc, dev, 'mia', 'passkey');
    const noUv = await svc.discoverableOptions('sid-m');
    const response = responseOf(t, await browserAuthenticate(dev.page, { ...noUv, userVerification: 'discouraged' }), 'assertion with UV discouraged');
    const r = await svc.finishDiscoverable('sid-m', response);
    t.equal(r.ok, false, 'without user verification a passkey is not both factors');
    t.match(!r.ok && r.reason, /user verification|not verified/i);
  });

  t.test('a response made for another origin is refused (phishing)', async (t) => {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    const shared = createMemorySharedState();
    t.teardown(async () => {
      await shared.close();
      await store.close();
    });
    const genuine = createWebAuthn({ store, shared, rpName: 'Gatehouse', publicUrl: `http://localhost:${site.port + 1}` });
    const dev = await deviceWith(browser, site.url, 'passkey'); // the page is on site.url: a look-alike origin

    const regOptions = await genuine.registrationOptions(user('judy'), 'browser-a', 'passkey');
    const reg = await genuine.finishRegistration({ id: 'judy' }, 'browser-a', responseOf(t, await browserRegister(dev.page, regOptions), 'register'), '');
    t.equal(reg.ok, false, 'registration from another origin refused');
    t.match(!reg.ok && reg.reason, /origin/);
    t.same(await store.listFactors('judy'), [], 'nothing stored');

    // A credential registered on the real site, exercised from the look-alike.
    const real = createWebAuthn({ store, shared, rpName: 'Gatehouse', publicUrl: site.url });
    await register(t, real, dev, 'judy', 'passkey');
    const authOptions = await genuine.authenticationOptions({ id: 'judy' }, 'browser-a');
    const auth = await genuine.finishAuthentication({ id: 'judy' }, 'browser-a', responseOf(t, await browserAuthenticate(dev.page, authOptions), 'sign'));
    t.equal(auth.ok, false, 'assertion from another origin refused');
    t.match(!auth.ok && auth.reason, /origin/);
  });

  t.test('malformed responses are refused without throwing and without spending the challenge', async (t) => {
    const { svc } = await fresh();
    const dev = await deviceWith(browser, site.url, 'passkey');
    const regOptions = await svc.registrationOptions(user('mallory'), 'browser-a', 'passkey');
    const regResponse = responseOf(t, await browserRegister(dev.page, regOptions), 'register') as Record<string, unknown>;

    const huge = 'A'.repeat(5_000_000);
    const garbage: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'not json {'],
      ['a number', 42],
      ['an array', [regResponse]],
      ['an empty object', {}],
      ['no response', { ...regResponse, response: undefined }],
      ['wrong type', { ...regResponse, type: 'password' }],
      ['id of the wrong type', { ...regResponse, id: 12345, rawId: 12345 }],
      ['id and rawId differ', { ...regResponse, rawId: 'AAAA' }],
      ['huge id', { ...regResponse, id: huge, rawId: huge }],
      ['huge attestation', { ...regResponse, response: { ...(regResponse.response as object), attestationObject: huge } }],
      ['not base64url', { ...regResponse, response: { ...(regResponse.response as object), clientDataJSON: '{"type":"webauthn.create"}' } }],
      ['transports not a list', { ...regResponse, response: { ...(regResponse.response as object), transports: 'usb' } }],
    ];
    for (const [what, bad] of garbage) {
      const r = await svc.finishRegistration({ id: 'mallory' }, 'browser-a', bad, '');
      t.same(r, { ok: false, reason: 'malformed registration response' }, `registration: ${what}`);
    }
    t.same(await svc.finishRegistration({ id: 'mallory' }, 'browser-a', regResponse, 'x'.repeat(65)), { ok: false, reason: 'name is longer than 64 characters' }, 'over-long label refused');
    t.same(await svc.finishRegistration({ id: 'mallory' }, 'browser-a', regResponse, { evil: true } as never), { ok: false, reason: 'name must be text' }, 'non-text label refused');
    const reg = await svc.finishRegistration({ id: 'mallory' }, 'browser-a', regResponse, 'x'.repeat(64));
    t.equal(reg.ok, true, 'the genuine response still completes: bad input spent nothing');

    const authOptions = await svc.authenticationOptions({ id: 'mallory' }, 'browser-a');
    const authResponse = responseOf(t, await browserAuthenticate(dev.page, authOptions), 'sign') as Record<string, unknown>;
    const authGarbage: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['a string', '{"id":'],
      ['true', true],
      ['an empty object', {}],
      ['signature of the wrong type', { ...authResponse, response: { ...(authResponse.response as object), signature: { a: 1 } } }],
      ['huge signature', { ...authResponse, response: { ...(authResponse.response as object), signature: huge } }],
      ['huge userHandle', { ...authResponse, response: { ...(authResponse.response as object), userHandle: huge } }],
      ['authenticatorData missing', { ...authResponse, response: { ...(authResponse.response as object), authenticatorData: undefined } }],
    ];
    for (const [what, bad] of authGarbage) {
      const r = await svc.finishAuthentication({ id: 'mallory' }, 'browser-a', bad);
      t.same(r, { ok: false, reason: 'malformed authentication response' }, `authentication: ${what}`);
    }
    t.same(await svc.finishAuthentication({ id: '' }, 'browser-a', authResponse), { ok: false, reason: 'webauthn: a user id is required' }, 'empty user id refused');
    t.same(await svc.finishAuthentication(null as never, 'browser-a', authResponse), { ok: false, reason: 'webauthn: a user id is required' }, 'missing user refused');

    // Well-formed but wrong bytes: reaches the library, which throws; the service answers.
    const forged = { ...authResponse, response: { ...(authResponse.response as object), signature: Buffer.from('not a signature').toString('base64url') } };
    const f = await svc.finishAuthentication({ id: 'mallory' }, 'browser-a', forged);
    t.equal(f.ok, false, 'a forged signature is refused');
    t.match(!f.ok && f.reason, /sign-in refused|not verified/);

    const authOptions2 = await svc.authenticationOptions({ id: 'mallory' }, 'browser-a');
    const junkCbor = { ...authResponse, response: { ...(authResponse.response as object), authenticatorData: Buffer.from('junk').toString('base64url') } };
    const j = await svc.finishAuthentication({ id: 'mallory' }, 'browser-a', junkCbor);
    t.equal(j.ok, false, 'junk authenticator data is refused');
    const good = await svc.finishAuthentication({ id: 'mallory' }, 'browser-a', responseOf(t, await browserAuthenticate(dev.page, authOptions2), 'sign'));
    t.equal(good.ok, false, 'the failed attempt spent that challenge');
  });
});
