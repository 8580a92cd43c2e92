// The pure OIDC claim mapping: who the user is, their groups, the IdP's
// authentication methods, and when the IdP's second factor counts.

import t from 'tap';
import { claimAt, emailUnverified, idpAuthentication, idpFactorCheck, mergeChecks, parseGroups, profileFromClaims, sessionAmrFor } from '../../src/identity/oidc-claims.ts';

t.test('parseGroups: arrays, space/comma strings, junk dropped', async (t) => {
  const cases: Array<[unknown, string[], string]> = [
    [['admins', 'finance'], ['admins', 'finance'], 'array'],
    ['admins finance', ['admins', 'finance'], 'space-separated string'],
    ['admins,finance, staff', ['admins', 'finance', 'staff'], 'comma-separated string'],
    [['admins', 'admins', ' staff '], ['admins', 'staff'], 'duplicates removed, trimmed'],
    [['ok', 42, null, { a: 1 }, 'bad\r\nX-Injected: 1', 'a,b', ''], ['ok'], 'non-strings, control characters, commas and empties dropped'],
    [undefined, [], 'absent'],
    [42, [], 'a number'],
  ];
  for (const [input, want, why] of cases) t.same(parseGroups(input), want, why);
  t.equal(parseGroups(Array.from({ length: 500 }, (_, i) => `g${i}`)).length, 200, 'bounded');
});

t.test('claimAt: flat names first, then a dotted path; never the prototype', async (t) => {
  const claims = { groups: ['a'], 'realm.roles': ['flat'], realm: { roles: ['nested'] }, realm_access: { roles: ['x', 'y'] } };
  t.same(claimAt(claims, 'groups'), ['a']);
  t.same(claimAt(claims, 'realm.roles'), ['flat'], 'a flat claim with a dot in its name wins');
  t.same(claimAt(claims, 'realm_access.roles'), ['x', 'y'], 'nested (Keycloak-style)');
  t.equal(claimAt(claims, 'constructor'), undefined, 'no prototype properties');
  t.equal(claimAt(claims, 'realm_access.__proto__'), undefined);
  t.equal(claimAt(claims, 'missing.path'), undefined);
});

t.test('profileFromClaims: the username claim only (sub by default); email, name, groups', async (t) => {
  const bySub = { usernameClaim: 'sub', groupsClaim: 'groups' };
  t.same(profileFromClaims({ sub: 'u-1', preferred_username: 'carol', email: 'carol@example.com', name: 'Carol C', groups: 'eng ops' }, bySub),
    { user: 'u-1', email: 'carol@example.com', display_name: 'Carol C', groups: ['eng', 'ops'] }, 'sub, whatever preferred_username says');
  const opts = { usernameClaim: 'preferred_username', groupsClaim: 'groups' };
  t.same(profileFromClaims({ sub: 'u-1', preferred_username: 'carol' }, opts), { user: 'carol', email: '', display_name: 'carol', groups: [] }, 'another claim when asked; defaults');
  t.match(profileFromClaims({ sub: 'u-2' }, opts), { error: /no usable preferred_username claim/ }, 'no fallback to sub: it would share one namespace with usernames');
  t.match(profileFromClaims({ sub: 'u-3', preferred_username: 'evil\nname' }, opts), { error: /no usable/ }, 'a username with a control character is refused');
  t.match(profileFromClaims({ sub: 'u-5', email: 'e@x', email_verified: false }, { usernameClaim: 'email', groupsClaim: 'groups' }), { error: /not verified/ }, 'an unverified email is not an id');
  t.same(profileFromClaims({ sub: 'u-4', email: 'e@x', realm_access: { roles: ['r1'] } }, { usernameClaim: 'email', groupsClaim: 'realm_access.roles' }),
    { user: 'e@x', email: 'e@x', display_name: 'e@x', groups: ['r1'] }, 'configurable claims, nested groups');
  t.match(profileFromClaims({ preferred_username: 42 }, opts), { error: /no usable preferred_username/ }, 'no id at all is an error');
  t.match(profileFromClaims({ sub: 'x'.repeat(500) }, bySub), { error: /no usable sub/ }, 'an overlong id is refused');
});

t.test('emailUnverified: present and not true is unverified (fail closed); absent is not', async (t) => {
  const cases: Array<[unknown, boolean, string]> = [
    [true, false, 'true'],
    ['true', false, 'the string "true"'],
    [' TRUE ', false, 'the string, any case'],
    [false, true, 'false'],
    ['false', true, 'the string "false" some IdPs send'],
    ['False', true, 'the string, any case'],
    [null, true, 'null'],
    [0, true, '0'],
    [1, true, '1: only true says verified'],
    ['yes', true, 'another string'],
    [{}, true, 'an object'],
  ];
  for (const [v, want, why] of cases) t.equal(emailUnverified({ email: 'e@x', email_verified: v }), want, why);
  t.equal(emailUnverified({ email: 'e@x' }), false, 'absent (Azure AD and others omit it): not unverified');
  t.equal(emailUnverified(JSON.parse('{"__proto__": {"email_verified": false}}') as Record<string, unknown>), false, 'never read from the prototype');
});

t.test('profileFromClaims: an email the IdP marks unverified is dropped, and refused as the id', async (t) => {
  const bySub = { usernameClaim: 'sub', groupsClaim: 'groups' };
  const byEmail = { usernameClaim: 'email', groupsClaim: 'groups' };
  const cases: Array<[unknown, string, string]> = [
    [true, 'ceo@example.com', 'verified: kept'],
    ['true', 'ceo@example.com', 'verified as a string: kept'],
    [undefined, 'ceo@example.com', 'absent: kept'],
    [false, '', 'unverified: dropped'],
    ['false', '', 'unverified as a string: dropped'],
    [null, '', 'neither true nor false: dropped'],
  ];
  for (const [v, email, why] of cases) {
    const claims = { sub: 'u-9', email: 'ceo@example.com', name: 'Mallory', ...(v === undefined ? {} : { email_verified: v }) };
    t.same(profileFromClaims(claims, bySub), { user: 'u-9', email, display_name: 'Mallory', groups: [] }, `sub as the id, email_verified ${String(v)}: ${why}`);
    const asId = profileFromClaims(claims, byEmail);
    if (email === '') t.match(asId, { error: /not verified/ }, `email as the id, email_verified ${String(v)}: refused`);
    else t.same(asId, { user: 'ceo@example.com', email: 'ceo@example.com', display_name: 'Mallory', groups: [] }, `email as the id, email_verified ${String(v)}: signed in`);
  }
  t.same(profileFromClaims({ preferred_username: 'mal', email: 'ceo@example.com', email_verified: 'false' }, { usernameClaim: 'preferred_username', groupsClaim: 'groups' }),
    { user: 'mal', email: '', display_name: 'mal', groups: [] }, 'any other username claim: the user signs in without the email');
});

t.test('idpAuthentication: amr/acr/auth_time, malformed values ignored', async (t) => {
  t.same(idpAuthentication({ amr: ['pwd', 'hwk'], acr: 'urn:x', auth_time: 1_700_000_000 }), { amr: ['pwd', 'hwk'], acr: 'urn:x', authTime: 1_700_000_000_000 });
  t.same(idpAuthentication({ amr: 'pwd', auth_time: '1700000000' }), { amr: [] }, 'amr must be an array, auth_time a number');
  t.same(idpAuthentication({ amr: ['pwd', 'pwd', 'bad value', 7, 'otp'] }), { amr: ['pwd', 'otp'] }, 'deduplicated, only token-like strings');
  t.same(idpAuthentication({ auth_time: -5 }), { amr: [] }, 'a non-positive auth_time is ignored');
});

t.test('idpFactorCheck: trusted amr → a check with the IdP auth_time', async (t) => {
  const at = 1_700_000_000_000;
  const cases: Array<[string[], string[], unknown, string]> = [
    [['pwd', 'hwk'], ['hwk'], { kind: 'webauthn', amr: 'hwk', phishing_resistant: true, at }, 'hwk trusted → webauthn, phishing-resistant'],
    [['pwd', 'hwk'], [], undefined, 'nothing trusted → no check'],
    [['pwd', 'hwk'], ['otp', 'mfa'], undefined, 'hwk not in the trust list → no check'],
    [['pwd', 'otp', 'mfa'], ['mfa', 'otp'], { kind: 'totp', amr: 'otp', phishing_resistant: false, at }, 'otp/mfa trusted → a totp check (first trusted value in the IdP order)'],
    [['pwd', 'mfa', 'phr'], ['mfa', 'phr'], { kind: 'webauthn', amr: 'phr', phishing_resistant: true, at }, 'phr among the trusted → webauthn'],
    [['pwd'], ['hwk', 'otp'], undefined, 'password only → no check'],
  ];
  for (const [amr, trusted, want, why] of cases) t.same(idpFactorCheck({ amr, authTime: at }, trusted), want, why);
  t.equal(idpFactorCheck({ amr: ['pwd', 'hwk'] }, ['hwk']), undefined, 'without auth_time the freshness is unknown: not counted');
});

t.test('sessionAmrFor and mergeChecks', async (t) => {
  t.same(sessionAmrFor({ amr: ['pwd', 'hwk'] }), ['ext', 'pwd', 'hwk']);
  t.same(sessionAmrFor({ amr: [] }), ['ext']);
  const totpOld = { kind: 'totp' as const, amr: 'otp', phishing_resistant: false, at: 1 };
  const hwkOld = { kind: 'webauthn' as const, amr: 'hwk', phishing_resistant: true, at: 2 };
  const hwkNew = { ...hwkOld, at: 10 };
  t.same(mergeChecks([totpOld, hwkOld], [hwkNew]), [totpOld, hwkNew], 'newest per kind, sorted oldest first');
  t.same(mergeChecks([], []), []);
});
