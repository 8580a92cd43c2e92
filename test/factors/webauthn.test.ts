// The pure parts of the WebAuthn service, and the paths that need no browser
// (expiry, single use on failure). The ceremonies themselves run in Chromium:
// webauthn-browser.test.ts.

import t from 'tap';
import {
  asAuthenticationResponse, asRegistrationResponse, authenticatorSelectionFor, counterAccepted, createWebAuthn, credentialDataOf, credentialName,
  pendingCeremonyKey, relyingPartyFor, userHandleFor,
} from '../../src/factors/webauthn.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { FactorRecord } from '../../src/store/types.ts';

t.test('relyingPartyFor', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['https://mfa.example.com', 'mfa.example.com', 'https://mfa.example.com'],
    ['https://mfa.example.com:8443/base/path?x=1', 'mfa.example.com', 'https://mfa.example.com:8443'],
    ['https://MFA.Example.COM/', 'mfa.example.com', 'https://mfa.example.com'],
    ['http://localhost:3000', 'localhost', 'http://localhost:3000'],
  ];
  for (const [url, rpId, origin] of cases) t.same(relyingPartyFor(url), { rpId, origin }, url);
  t.throws(() => relyingPartyFor('not a url'), /not a URL/);
  t.throws(() => relyingPartyFor('ftp://example.com'), /http\(s\)/);
  t.throws(() => relyingPartyFor('http://127.0.0.1:8080'), /IP address/);
  t.throws(() => relyingPartyFor('http://[::1]:8080'), /IP address/);
});

t.test('userHandleFor: deterministic, 32 bytes, per user and per RP, not the username', async (t) => {
  const a = userHandleFor('example.com', 'alice');
  t.equal(a.length, 32);
  t.same(a, userHandleFor('example.com', 'alice'), 'stable');
  t.notSame(a, userHandleFor('example.com', 'bob'), 'per user');
  t.notSame(a, userHandleFor('other.example', 'alice'), 'per RP');
  t.notMatch(Buffer.from(a).toString('latin1'), /alice/);
});

t.test('authenticatorSelectionFor', async (t) => {
  t.same(authenticatorSelectionFor('passkey'), { residentKey: 'required', userVerification: 'required' });
  t.same(authenticatorSelectionFor('security-key'), { authenticatorAttachment: 'cross-platform', residentKey: 'discouraged', userVerification: 'preferred' });
  t.not(authenticatorSelectionFor('passkey'), authenticatorSelectionFor('passkey'), 'a fresh object each time (the library mutates it)');
});

t.test('credentialName', async (t) => {
  const cases: Array<[unknown, 'passkey' | 'security-key', ReturnType<typeof credentialName>]> = [
    ['YubiKey 5', 'security-key', { ok: true, name: 'YubiKey 5' }],
    ['  Work laptop \n', 'passkey', { ok: true, name: 'Work laptop' }],
    ['', 'passkey', { ok: true, name: 'Passkey' }],
    ['   ', 'security-key', { ok: true, name: 'Security key' }],
    [undefined, 'passkey', { ok: true, name: 'Passkey' }],
    [null, 'security-key', { ok: true, name: 'Security key' }],
    ['é'.repeat(64), 'passkey', { ok: true, name: 'é'.repeat(64) }],
    ['🔑'.repeat(64), 'passkey', { ok: true, name: '🔑'.repeat(64) }],
    ['x'.repeat(65), 'passkey', { ok: false, reason: 'name is longer than 64 characters' }],
    ['x'.repeat(1_000_000), 'passkey', { ok: false, reason: 'name is longer than 64 characters' }],
    ['bad\u0000name', 'passkey', { ok: false, reason: 'name contains control characters' }],
    ['two\nlines', 'passkey', { ok: false, reason: 'name contains control characters' }],
    [42, 'passkey', { ok: false, reason: 'name must be text' }],
    [{ toString: () => 'x' }, 'passkey', { ok: false, reason: 'name must be text' }],
  ];
  for (const [input, kind, want] of cases) t.same(credentialName(input, kind), want, JSON.stringify(input)?.slice(0, 40) ?? String(input));
});

t.test('counterAccepted', async (t) => {
  const cases: Array<[number, number, boolean, string]> = [
    [0, 0, true, 'authenticator that never counts (synced passkeys)'],
    [0, 1, true, 'first count'],
    [5, 6, true, 'moves forward'],
    [5, 100, true, 'jumps forward (used elsewhere with this RP? still monotonic)'],
    [5, 5, false, 'same value: cloned'],
    [5, 4, false, 'goes back: cloned'],
    [5, 0, false, 'drops to 0 after counting: cloned'],
  ];
  for (const [stored, received, want, why] of cases) t.equal(counterAccepted(stored, received), want, `${stored} → ${received}: ${why}`);
});

const regBody = { id: 'AQID', rawId: 'AQID', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA', transports: ['usb'] }, clientExtensionResults: {} };
const authBody = { id: 'AQID', rawId: 'AQID', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA', userHandle: 'AQ' }, clientExtensionResults: {} };

t.test('asRegistrationResponse keeps only well-formed, bounded input', async (t) => {
  t.same(asRegistrationResponse(regBody), { id: 'AQID', rawId: 'AQID', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA', transports: ['usb'] }, clientExtensionResults: {} });
  const bad: Array<[string, unknown]> = [
    ['null', null], ['string', 'x'], ['array', []],
    ['type', { ...regBody, type: 'x' }],
    ['rawId mismatch', { ...regBody, rawId: 'AQIE' }],
    ['id with padding chars inside', { ...regBody, id: 'A=B', rawId: 'A=B' }],
    ['empty id', { ...regBody, id: '', rawId: '' }],
    ['response array', { ...regBody, response: [] }],
    ['clientDataJSON number', { ...regBody, response: { ...regBody.response, clientDataJSON: 1 } }],
    ['attestationObject too big', { ...regBody, response: { ...regBody.response, attestationObject: 'A'.repeat(70_000) } }],
    ['transports of numbers', { ...regBody, response: { ...regBody.response, transports: [1] } }],
    ['too many transports', { ...regBody, response: { ...regBody.response, transports: Array(11).fill('usb') } }],
    ['clientExtensionResults string', { ...regBody, clientExtensionResults: 'x' }],
  ];
  for (const [why, v] of bad) t.equal(asRegistrationResponse(v), undefined, why);
});

t.test('asAuthenticationResponse keeps only well-formed, bounded input', async (t) => {
  t.same(asAuthenticationResponse(authBody)?.response, { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA', userHandle: 'AQ' });
  t.equal(asAuthenticationResponse({ ...authBody, response: { ...authBody.response, userHandle: '' } })?.response.userHandle, undefined, 'empty user handle = none');
  t.equal(asAuthenticationResponse({ ...authBody, response: { ...authBody.response, userHandle: null } })?.response.userHandle, undefined, 'null user handle = none');
  const bad: Array<[string, unknown]> = [
    ['undefined', undefined], ['number', 7],
    ['signature missing', { ...authBody, response: { ...authBody.response, signature: undefined } }],
    ['signature object', { ...authBody, response: { ...authBody.response, signature: {} } }],
    ['signature too big', { ...authBody, response: { ...authBody.response, signature: 'A'.repeat(3000) } }],
    ['userHandle number', { ...authBody, response: { ...authBody.response, userHandle: 5 } }],
    ['authenticatorData with spaces', { ...authBody, response: { ...authBody.response, authenticatorData: 'A A' } }],
    ['id too big', { ...authBody, id: 'A'.repeat(2000), rawId: 'A'.repeat(2000) }],
  ];
  for (const [why, v] of bad) t.equal(asAuthenticationResponse(v), undefined, why);
});

t.test('credentialDataOf', async (t) => {
  const rec = (data: Record<string, unknown>, kind: FactorRecord['kind'] = 'webauthn'): FactorRecord =>
    ({ id: 'f', user: 'u', kind, name: 'n', data, created_at: 0, last_used_at: null });
  const full = { credential_id: 'AQID', public_key: 'pk', counter: 3, transports: ['usb', 7], aaguid: 'g', device_type: 'multiDevice', backed_up: true, uv: false };
  t.same(credentialDataOf(rec(full)), { ...full, transports: ['usb'] });
  t.equal(credentialDataOf(rec({ ...full, uv: undefined }))?.uv, true, 'unknown uv fails closed: verification required');
  t.equal(credentialDataOf(rec(full, 'totp')), undefined, 'other kinds ignored');
  t.equal(credentialDataOf(rec({ ...full, counter: -1 })), undefined, 'negative counter');
  t.equal(credentialDataOf(rec({ ...full, counter: '3' })), undefined, 'counter of the wrong type');
  t.equal(credentialDataOf(rec({ ...full, public_key: undefined })), undefined, 'no public key');
});

t.test('challenges expire, and a failed attempt spends them', async (t) => {
  let clock = 1_000_000;
  const now = () => clock;
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const shared = createMemorySharedState({ now });
  t.teardown(async () => {
    await shared.close();
    await store.close();
  });
  const svc = createWebAuthn({ store, shared, rpName: 'Test', publicUrl: 'https://mfa.example.com', now, challengeTtlMs: 60_000 });
  const u = { id: 'alice', name: 'alice', displayName: 'Alice' };

  const opts = await svc.registrationOptions(u, 'browser-a', 'passkey');
  t.equal(opts.timeout, 60_000, 'the browser timeout matches the challenge lifetime');
  t.equal(opts.rp.id, 'mfa.example.com');
  clock += 60_001;
  t.same(await svc.finishRegistration(u, 'browser-a', regBody, ''), { ok: false, reason: 'no pending registration (expired or already used)' }, 'expired');

  await svc.registrationOptions(u, 'browser-a', 'passkey');
  const r = await svc.finishRegistration(u, 'browser-a', regBody, '');
  t.equal(r.ok, false, 'bogus attestation refused');
  t.match(!r.ok && r.reason, /^registration refused: /, 'the library error is reported, not thrown');
  t.same(await svc.finishRegistration(u, 'browser-a', regBody, ''), { ok: false, reason: 'no pending registration (expired or already used)' }, 'the failed attempt spent the challenge');

  await svc.authenticationOptions(u, 'browser-a');
  t.same(await svc.finishAuthentication(u, 'browser-a', authBody), { ok: false, reason: 'unknown credential' }, 'no such credential for the user');
  t.same(await svc.finishAuthentication(u, 'browser-a', authBody), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'spent');
  await svc.authenticationOptions(u, 'browser-a');
  clock += 60_001;
  t.same(await svc.finishAuthentication(u, 'browser-a', authBody), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'expired');

  t.same(await store.listFactors('alice'), [], 'nothing stored by any of it');
  await t.rejects(svc.registrationOptions(u, 'browser-a', 'fingerprint' as never), TypeError, 'unknown kind is a programming error');
  await t.rejects(svc.authenticationOptions({ id: '' }, 'browser-a'), TypeError, 'a user id is required');
  await t.rejects(svc.authenticationOptions(u, ''), TypeError, 'a binding is required');
  await t.rejects(svc.registrationOptions(u, '', 'passkey'), TypeError, 'a binding is required to register too');
  t.same(await svc.finishAuthentication(u, '', authBody), { ok: false, reason: 'webauthn: a binding is required' }, 'finishing without a binding: refused, not thrown');
  t.same(await svc.finishRegistration(u, undefined as never, regBody, ''), { ok: false, reason: 'webauthn: a binding is required' });
});

t.test('pendingCeremonyKey: one key per ceremony, user and browser; no id or binding spells another pair\'s key', async (t) => {
  const cases: Array<['reg' | 'auth', string, string, string]> = [
    ['auth', 'alice', 'rid-1', 'webauthn:auth:alice:rid-1'],
    ['auth', 'alice', 'rid-2', 'webauthn:auth:alice:rid-2'],
    ['reg', 'alice', 'rid-1', 'webauthn:reg:alice:rid-1'],
    ['auth', 'a:b', 'c', 'webauthn:auth:a%3Ab:c'],
    ['auth', 'a', 'b:c', 'webauthn:auth:a:b%3Ac'],
    ['auth', 'a%3Ab', 'c', 'webauthn:auth:a%253Ab:c'],
    ['reg', 'jürgen@example.com', 'Zm9v_-', 'webauthn:reg:j%C3%BCrgen%40example.com:Zm9v_-'],
  ];
  for (const [ceremony, user, bind, key] of cases) t.equal(pendingCeremonyKey(ceremony, user, bind), key, `${ceremony} ${user} in ${bind}`);
  t.equal(new Set(cases.map(([c, user, bind]) => pendingCeremonyKey(c, user, bind))).size, cases.length, 'all distinct');
});

t.test('challenges are per user and per browser', async (t) => {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const shared = createMemorySharedState();
  t.teardown(async () => {
    await shared.close();
    await store.close();
  });
  const svc = createWebAuthn({ store, shared, rpName: 'Test', publicUrl: 'https://mfa.example.com' });
  await svc.registrationOptions({ id: 'alice', name: 'alice', displayName: 'Alice' }, 'browser-a', 'passkey');
  t.same(await svc.finishRegistration({ id: 'bob' }, 'browser-a', regBody, ''), { ok: false, reason: 'no pending registration (expired or already used)' }, 'bob cannot finish alice\'s ceremony');
  t.same(await svc.finishRegistration({ id: 'alice' }, 'browser-b', regBody, ''), { ok: false, reason: 'no pending registration (expired or already used)' }, 'nor can alice in another browser');
  t.not(await shared.get(pendingCeremonyKey('reg', 'alice', 'browser-a')), null, 'alice\'s challenge untouched');
  const [a, b] = [await svc.authenticationOptions({ id: 'alice' }, 'browser-a'), await svc.authenticationOptions({ id: 'alice' }, 'browser-b')];
  t.not(a.challenge, b.challenge);
  t.match(await shared.get(pendingCeremonyKey('auth', 'alice', 'browser-a')), a.challenge, 'a second browser does not replace the first one\'s sign-in challenge');
  t.same(await svc.finishAuthentication({ id: 'alice' }, 'browser-c', authBody), { ok: false, reason: 'no pending sign-in (expired or already used)' }, 'a browser that asked for none has none');
  t.match(await shared.get(pendingCeremonyKey('auth', 'alice', 'browser-b')), b.challenge, 'and spends no other browser\'s');
});
