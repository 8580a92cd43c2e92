import t from 'tap';
import type { FactorKind } from '../../src/config/types.ts';
import { FACTOR_KINDS, amrFor, cleanFactorName, factorCheck, factorKindInfo, isPhishingResistant, userIdOf, verified } from '../../src/factors/types.ts';

const KINDS: FactorKind[] = ['totp', 'webauthn', 'push', 'email', 'sms', 'recovery'];

t.test('amr and phishing resistance per kind', async (t) => {
  const table: Array<[FactorKind, string, boolean]> = [
    ['totp', 'otp', false],
    ['webauthn', 'hwk', true],
    ['email', 'mail', false],
    ['sms', 'sms', false],
    ['recovery', 'otp', false],
  ];
  for (const [kind, amr, phr] of table) {
    t.equal(amrFor(kind), amr, `${kind} amr`);
    t.equal(isPhishingResistant(kind), phr, `${kind} phishing resistance`);
    t.same(factorCheck(kind, 123), { kind, amr, phishing_resistant: phr, at: 123 });
  }
  t.throws(() => amrFor('password' as FactorKind), /unknown factor kind/);
});

t.test('verified() carries the factor id only when given', async (t) => {
  t.same(verified('totp', 5, 'f1'), { check: { kind: 'totp', amr: 'otp', phishing_resistant: false, at: 5 }, factorId: 'f1' });
  t.notOk('factorId' in verified('recovery', 5));
});

t.test('every kind has page copy; weak kinds come after strong ones', async (t) => {
  t.same(FACTOR_KINDS.map((k) => k.kind).sort(), [...KINDS].sort());
  for (const k of KINDS) {
    const info = factorKindInfo(k);
    t.ok(info.label && info.description && info.badge, `${k} has label, description, badge`);
  }
  t.equal(factorKindInfo('totp').label, 'Authenticator app');
  t.equal(factorKindInfo('webauthn').badge, 'Most secure');
  t.equal(factorKindInfo('recovery').badge, 'Fallback');
  const firstWeak = FACTOR_KINDS.findIndex((k) => k.weak);
  t.ok(FACTOR_KINDS.slice(firstWeak).every((k) => k.weak), 'strong kinds first');
  t.same(FACTOR_KINDS.filter((k) => !k.weak).map((k) => k.kind), ['webauthn', 'push', 'totp']);
});

t.test('cleanFactorName and userIdOf', async (t) => {
  const table: Array<[unknown, string]> = [
    ['  My  phone ', 'My phone'],
    ['Work\nYubiKey', 'Work YubiKey'],
    ['a\u0000b\u202Ec', 'abc'],
    ['', 'Default'],
    ['   ', 'Default'],
    [undefined, 'Default'],
    [42, 'Default'],
    ['x'.repeat(500), 'x'.repeat(64)],
  ];
  for (const [input, want] of table) t.equal(cleanFactorName(input, 'Default'), want, JSON.stringify(input)?.slice(0, 30));
  t.equal(userIdOf('alice'), 'alice');
  t.equal(userIdOf({ id: 'bob' }), 'bob');
  t.throws(() => userIdOf(''), /user id/);
  t.throws(() => userIdOf({} as { id: string }), /user id/);
});
