// One behavioural contract for every Store implementation (src/store/types.ts).
// Each implementation's test file runs it with a factory that opens a fresh,
// empty, not yet migrated store; the suite migrates and closes it.

import type { Test } from 'tap';
import type { DeviceRecord, FactorRecord, SessionRecord, SigningKey, Store } from '../../src/store/types.ts';

// Past 2^31 so a 32-bit column would be caught.
const T0 = 1_760_000_000_000;

function factor(over: Partial<FactorRecord> & Pick<FactorRecord, 'id' | 'user'>): FactorRecord {
  return { kind: 'totp', name: 'Authenticator app', data: { key_id: 'k1', ciphertext: 'abc' }, created_at: T0, last_used_at: null, ...over };
}

function device(over: Partial<DeviceRecord> & Pick<DeviceRecord, 'id' | 'user'>): DeviceRecord {
  return { label: 'Firefox on Linux', created_at: T0, expires_at: T0 + 30 * 86_400_000, last_used_at: null, ...over };
}

function session(over: Partial<SessionRecord> & Pick<SessionRecord, 'id' | 'user'>): SessionRecord {
  return { label: 'Chrome on Linux', network: '192.0.2.0/24', created_at: T0, seen_at: T0, expires_at: T0 + 86_400_000, ...over };
}

function signingKey(kid: string, created_at: number): SigningKey {
  return { kid, alg: 'ES256', private_jwk: JSON.stringify({ kty: 'EC', d: `d-${kid}` }), public_jwk: JSON.stringify({ kty: 'EC', kid }), created_at, retired_at: null };
}

/** A store from before migration 5 holding duplicate credential ids (sqlite-store and postgres-store tests): [id, user, credential id, created_at]: RFVQ registered three times, VElF twice at the same moment, T05F once. */
export const DUPLICATE_ROWS: Array<[string, string, string, number]> = [
  ['w2', 'mallory', 'RFVQ', 2], ['w1', 'alice', 'RFVQ', 1], ['w0', 'bob', 'RFVQ', 2], ['x2', 'erin', 'VElF', 5], ['x1', 'dave', 'VElF', 5], ['u1', 'carol', 'T05F', 3],
];

/** What migration 5 must leave of DUPLICATE_ROWS: `store` is opened on them, not yet migrated past version 4. */
export async function checkDuplicatesMigrated(t: Test, store: Store): Promise<void> {
  const notices = await store.migrate();
  t.same(notices.map((n) => /factor (\S+) of user (\S+)/.exec(n)?.slice(1)), [['w0', 'bob'], ['w2', 'mallory'], ['x2', 'erin']], 'each row that lost its id is reported, oldest first');
  t.match(notices[0], /shares WebAuthn credential id RFVQ with an older factor/);
  t.same((await store.factorsByCredentialId('RFVQ')).map((f) => f.id), ['w1'], 'the oldest registration keeps the id');
  t.same((await store.factorsByCredentialId('VElF')).map((f) => f.id), ['x1'], 'at one creation time, the smaller record id keeps it');
  t.same((await store.factorsByCredentialId('T05F')).map((f) => f.id), ['u1'], 'a credential id with one owner is untouched');
  t.equal((await store.listFactors('mallory')).length, 1, 'the later row stays (its user still has it after the password)');
  t.equal(await store.addFactor(factor({ id: 'n1', user: 'zoe', kind: 'webauthn', data: { credential_id: 'RFVQ', public_key: 'cHVi', counter: 0 } })),
    false, 'from now on the database refuses a second owner');
  t.same(await store.migrate(), [], 'migrating again changes and reports nothing');
}

export function storeConformance(t: Test, makeStore: () => Promise<Store>): void {
  async function fresh(st: Test): Promise<Store> {
    const store = await makeStore();
    st.teardown(() => store.close());
    await store.migrate();
    return store;
  }

  t.test('migrate() is idempotent and ping() answers', async (t) => {
    const store = await fresh(t);
    await t.resolves(store.migrate(), 'second migrate succeeds');
    await t.resolves(store.migrate(), 'third migrate succeeds');
    await t.resolves(store.ping(), 'ping resolves');
    await store.addFactor(factor({ id: 'f1', user: 'alice' }));
    await store.migrate();
    t.equal((await store.listFactors('alice')).length, 1, 'migrate again keeps data');
  });

  t.test('factors round-trip, including JSON data', async (t) => {
    const store = await fresh(t);
    const data = {
      credential_id: 'Y3JlZA', public_key: 'cHVi', counter: 42, transports: ['usb', 'nfc'], aaguid: null,
      backed_up: false, nested: { deep: [1, 2.5, { x: 'ü ✓ "quoted"' }] },
    };
    const webauthn = factor({ id: 'f2', user: 'alice', kind: 'webauthn', name: 'YubiKey 5', data, created_at: T0 + 2, last_used_at: T0 + 5 });
    const totp = factor({ id: 'f1', user: 'alice', created_at: T0 + 1 });
    await store.addFactor(webauthn);
    await store.addFactor(totp);
    await store.addFactor(factor({ id: 'f3', user: 'bob' }));

    t.same(await store.listFactors('alice'), [totp, webauthn], 'listed in creation order, all fields intact');
    t.strictSame(await store.getFactor('alice', 'f2'), webauthn, 'getFactor returns the exact record');
    t.equal(await store.getFactor('bob', 'f2'), undefined, "another user's factor is not found");
    t.equal(await store.getFactor('alice', 'nope'), undefined, 'unknown id is not found');
    t.same(await store.listFactors('carol'), [], 'no factors for an unknown user');
    await t.rejects(store.addFactor(factor({ id: 'f1', user: 'alice' })), 'duplicate id is refused');

    await store.updateFactor('alice', 'f2', { name: 'Backup key' });
    await store.updateFactor('alice', 'f2', { data: { ...data, counter: 43 }, last_used_at: T0 + 9 });
    t.strictSame(await store.getFactor('alice', 'f2'), { ...webauthn, name: 'Backup key', data: { ...data, counter: 43 }, last_used_at: T0 + 9 }, 'patches apply');
    await store.updateFactor('alice', 'f2', {});
    t.equal((await store.getFactor('alice', 'f2'))?.name, 'Backup key', 'empty patch changes nothing');
    await store.updateFactor('alice', 'f2', { last_used_at: null });
    t.equal((await store.getFactor('alice', 'f2'))?.last_used_at, null, 'last_used_at can be cleared');
    await store.updateFactor('bob', 'f2', { name: 'hijack' });
    t.equal((await store.getFactor('alice', 'f2'))?.name, 'Backup key', "another user cannot patch alice's factor");

    t.equal(await store.removeFactor('bob', 'f1'), false, "another user cannot remove alice's factor");
    t.equal(await store.removeFactor('alice', 'f1'), true, 'removeFactor reports removal');
    t.equal(await store.removeFactor('alice', 'f1'), false, 'second remove finds nothing');
    await store.addFactor(factor({ id: 'f4', user: 'alice', kind: 'email' }));
    t.equal(await store.removeAllFactors('alice'), 2, 'removeAllFactors counts what it removed');
    t.same(await store.listFactors('alice'), [], 'alice has none left');
    t.equal((await store.listFactors('bob')).length, 1, "bob's factor untouched");
  });

  t.test('listEnrolledUsers lists users with their distinct kinds', async (t) => {
    const store = await fresh(t);
    t.same(await store.listEnrolledUsers(), [], 'empty store has no enrolled users');
    await store.addFactor(factor({ id: 'a1', user: 'alice', kind: 'webauthn' }));
    await store.addFactor(factor({ id: 'a2', user: 'alice', kind: 'totp' }));
    await store.addFactor(factor({ id: 'a3', user: 'alice', kind: 'webauthn' }));
    await store.addFactor(factor({ id: 'b1', user: 'bob', kind: 'email' }));
    await store.replaceRecoveryCodes('carol', ['h1']);
    await store.putUserState({ user: 'dave', deferrals: 1, last_factor: null, mfa_reset_at: null, updated_at: T0 });
    t.same(await store.listEnrolledUsers(), [
      { user: 'alice', kinds: ['totp', 'webauthn'] },
      { user: 'bob', kinds: ['email'] },
    ], 'only users with factors, kinds distinct and sorted');
    await store.removeAllFactors('bob');
    t.same((await store.listEnrolledUsers()).map((u) => u.user), ['alice'], 'a user with no factors left drops out');
  });

  t.test('recovery codes: replace, consume once, count', async (t) => {
    const store = await fresh(t);
    t.equal(await store.countRecoveryCodes('alice'), 0, 'none at first');
    await store.replaceRecoveryCodes('alice', ['h1', 'h2', 'h3']);
    await store.replaceRecoveryCodes('bob', ['h1']);
    t.equal(await store.countRecoveryCodes('alice'), 3, 'three unused');

    t.equal(await store.consumeRecoveryCode('alice', 'h2'), true, 'first use succeeds');
    t.equal(await store.consumeRecoveryCode('alice', 'h2'), false, 'second use of the same code fails');
    t.equal(await store.countRecoveryCodes('alice'), 2, 'used code no longer counted');
    t.equal(await store.consumeRecoveryCode('alice', 'nope'), false, 'unknown code fails');
    t.equal(await store.consumeRecoveryCode('carol', 'h1'), false, "a code is bound to its user");
    t.equal(await store.countRecoveryCodes('bob'), 1, "bob's code untouched by alice's use");

    await t.rejects(store.replaceRecoveryCodes('alice', ['x', 'x']), /duplicate/, 'duplicate hashes refused');
    t.equal(await store.countRecoveryCodes('alice'), 2, 'refused replacement changed nothing');

    await store.replaceRecoveryCodes('alice', ['n1', 'n2']);
    t.equal(await store.consumeRecoveryCode('alice', 'h1'), false, 'old codes die on replacement');
    t.equal(await store.countRecoveryCodes('alice'), 2, 'only the new codes count');
    t.equal(await store.consumeRecoveryCode('alice', 'n1'), true, 'new code works');
    await store.replaceRecoveryCodes('alice', ['h2']);
    t.equal(await store.consumeRecoveryCode('alice', 'h2'), true, 'a re-issued hash is usable again after replacement');
    await store.replaceRecoveryCodes('alice', []);
    t.equal(await store.countRecoveryCodes('alice'), 0, 'replacing with none removes all');
    t.equal(await store.countRecoveryCodes('bob'), 1, "bob's codes untouched throughout");
  });

  t.test('recovery code consumed exactly once under 20 concurrent attempts', async (t) => {
    const store = await fresh(t);
    await store.replaceRecoveryCodes('alice', ['race', 'other']);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.consumeRecoveryCode('alice', 'race')));
    t.equal(results.filter(Boolean).length, 1, 'exactly one attempt wins');
    t.equal(await store.countRecoveryCodes('alice'), 1, 'one code left');
  });

  t.test('devices: add, get, list, touch, expiry, remove', async (t) => {
    const store = await fresh(t);
    const d1 = device({ id: 'd1', user: 'alice' });
    const d2 = device({ id: 'd2', user: 'alice', label: 'Safari on iPhone', created_at: T0 + 1, expires_at: T0 + 86_400_000, last_used_at: T0 + 3 });
    await store.addDevice(d2);
    await store.addDevice(d1);
    await store.addDevice(device({ id: 'd3', user: 'bob' }));

    t.strictSame(await store.getDevice('d2'), d2, 'getDevice returns the record with its expiry fields');
    t.equal(await store.getDevice('zz'), undefined, 'unknown device is not found');
    t.same(await store.listDevices('alice'), [d1, d2], 'listed in creation order');
    await t.rejects(store.addDevice(device({ id: 'd1', user: 'bob' })), 'duplicate id is refused');

    await store.touchDevice('d1', T0 + 77);
    t.equal((await store.getDevice('d1'))?.last_used_at, T0 + 77, 'touch records last use');
    t.equal((await store.getDevice('d1'))?.expires_at, d1.expires_at, 'touch leaves the expiry alone');

    t.equal(await store.removeDevice('bob', 'd1'), false, "another user cannot remove alice's device");
    t.equal(await store.removeDevice('alice', 'd1'), true, 'removeDevice reports removal');
    t.equal(await store.getDevice('d1'), undefined, 'removed device is gone');
    t.equal(await store.removeAllDevices('alice'), 1, 'removeAllDevices counts');
    t.same(await store.listDevices('alice'), [], 'alice has none left');
    t.equal((await store.listDevices('bob')).length, 1, "bob's device untouched");
  });

  t.test('user state upserts', async (t) => {
    const store = await fresh(t);
    t.equal(await store.getUserState('alice'), undefined, 'no state at first');
    const s1 = { user: 'alice', deferrals: 1, last_factor: null, mfa_reset_at: null, updated_at: T0 };
    await store.putUserState(s1);
    t.strictSame(await store.getUserState('alice'), s1, 'insert round-trips');
    const s2 = { user: 'alice', deferrals: 2, last_factor: 'webauthn' as const, mfa_reset_at: T0 + 10, updated_at: T0 + 11 };
    await store.putUserState(s2);
    t.strictSame(await store.getUserState('alice'), s2, 'second put replaces every field');
    await store.putUserState({ user: 'bob', deferrals: 0, last_factor: 'totp', mfa_reset_at: null, updated_at: T0 });
    t.strictSame(await store.getUserState('alice'), s2, "another user's state is separate");
  });

  t.test('consecutive failures: counted atomically, taken back, cleared, listed', async (t) => {
    const store = await fresh(t);
    t.equal(await store.failureCount('pwd:u:alice'), 0, 'none at first');
    t.equal(await store.addFailure('pwd:u:alice', T0), 1, 'the first failure answers 1');
    t.equal(await store.addFailure('pwd:u:alice', T0 + 1), 2, 'the next answers 2');
    const counts = await Promise.all(Array.from({ length: 20 }, () => store.addFailure('mfa:u:alice', T0 + 19)));
    t.same([...counts].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), '20 concurrent adds each answer a different count');
    await store.removeFailure('pwd:u:alice');
    t.equal(await store.failureCount('pwd:u:alice'), 1, 'removeFailure takes one back');
    await store.removeFailure('pwd:u:alice');
    await store.removeFailure('pwd:u:alice');
    t.equal(await store.failureCount('pwd:u:alice'), 0, 'never below zero');
    t.equal(await store.addFailure('pwd:u:alice', T0 + 2), 1, 'counting again after zero starts at 1');
    await store.addFailure('pwd:u:bob', T0 + 3);
    t.same(await store.listFailures(1), [
      { name: 'mfa:u:alice', failures: 20, updated_at: T0 + 19 },
      { name: 'pwd:u:alice', failures: 1, updated_at: T0 + 2 },
      { name: 'pwd:u:bob', failures: 1, updated_at: T0 + 3 },
    ].sort((a, b) => b.failures - a.failures || (a.name < b.name ? -1 : 1)), 'listed most first, then by name');
    t.same((await store.listFailures(2)).map((f) => f.name), ['mfa:u:alice'], 'only those at the minimum or above');
    t.equal(await store.clearFailures(['pwd:u:alice', 'mfa:u:alice', 'pwd:u:nobody']), 2, 'clearFailures answers how many had a count');
    t.equal(await store.failureCount('mfa:u:alice'), 0, 'cleared');
    t.equal(await store.failureCount('pwd:u:bob'), 1, "another account's count stays");
  });

  t.test('service keys: the first stored wins, later adds change nothing', async (t) => {
    const store = await fresh(t);
    t.equal(await store.getServiceKey('vapid'), undefined, 'none at first');
    const k = { name: 'vapid', sealed_private: 'v1.k.iv.ct.tag', public: 'BPub', created_at: T0 };
    t.equal(await store.addServiceKey(k), true, 'stored');
    t.equal(await store.addServiceKey({ ...k, sealed_private: 'other', public: 'BOther', created_at: T0 + 1 }), false, 'a second key of that name is not stored');
    t.strictSame(await store.getServiceKey('vapid'), k, 'the first one stays, every field intact');
    t.equal(await store.getServiceKey('other'), undefined);
  });

  t.test('sign-in places: upsert per network, newest wins, old ones forgotten', async (t) => {
    const store = await fresh(t);
    t.same(await store.listSignInPlaces('alice'), [], 'none at first');
    const london = { network: '81.2.69.0/24', country: 'GB', lat: 51.5074, lon: -0.1278, at: T0 };
    await store.recordSignInPlace('alice', london, 0);
    t.strictSame(await store.listSignInPlaces('alice'), [london], 'round-trips, coordinates exact');
    const v6 = { network: '2001:db8:1::/48', country: null, lat: null, lon: null, at: T0 + 10 };
    await store.recordSignInPlace('alice', v6, 0);
    await store.recordSignInPlace('alice', { ...london, at: T0 + 20 }, 0);
    t.strictSame(await store.listSignInPlaces('alice'), [v6, { ...london, at: T0 + 20 }], 'one row per network, oldest first');
    await store.recordSignInPlace('alice', { ...london, at: T0 + 5 }, 0);
    t.equal((await store.listSignInPlaces('alice'))[1].at, T0 + 20, 'an older sign-in never moves a place back in time');
    await store.recordSignInPlace('bob', { ...london, at: T0 }, 0);
    await store.recordSignInPlace('alice', { network: '90.1.2.0/24', country: 'FR', lat: 48.86, lon: 2.35, at: T0 + 30 }, T0 + 15);
    t.same((await store.listSignInPlaces('alice')).map((p) => p.network), ['81.2.69.0/24', '90.1.2.0/24'], 'places seen before forgetBefore are forgotten');
    t.equal((await store.listSignInPlaces('bob')).length, 1, "another user's places are untouched");
  });

  t.test('signing keys: add, list, retire, delete', async (t) => {
    const store = await fresh(t);
    t.same(await store.listSigningKeys(), [], 'none at first');
    const k1 = signingKey('k1', T0);
    const k2 = signingKey('k2', T0 + 1000);
    await store.addSigningKey(k2);
    await store.addSigningKey(k1);
    t.strictSame(await store.listSigningKeys(), [k1, k2], 'listed oldest first, all fields intact');
    await t.rejects(store.addSigningKey(signingKey('k1', T0 + 5)), 'duplicate kid is refused');

    await store.retireSigningKey('k1', T0 + 2000);
    t.equal((await store.listSigningKeys())[0].retired_at, T0 + 2000, 'retire records the time');
    await store.retireSigningKey('k1', T0 + 9000);
    t.equal((await store.listSigningKeys())[0].retired_at, T0 + 2000, 'retiring again keeps the first time (no longer grace)');
    t.equal((await store.listSigningKeys())[1].retired_at, null, 'other key still active');

    await store.replaceSigningPrivateKey('k2', 'v1.sealed');
    t.strictSame(await store.listSigningKeys(), [{ ...k1, retired_at: T0 + 2000 }, { ...k2, private_jwk: 'v1.sealed' }], 'the private key is replaced, nothing else');
    await store.replaceSigningPrivateKey('k2', k2.private_jwk);

    await store.deleteSigningKey('k1');
    t.strictSame(await store.listSigningKeys(), [k2], 'deleted key is gone');
    await t.resolves(store.deleteSigningKey('k1'), 'deleting an absent key is harmless');
  });

  t.test('WebAuthn credentials are found by credential id alone (passkey sign-in)', async (t) => {
    const store = await fresh(t);
    const key = factor({ id: 'w1', user: 'alice', kind: 'webauthn', name: 'Laptop', data: { credential_id: 'Q1JFRC1B', public_key: 'cHVi', counter: 0 } });
    await store.addFactor(key);
    await store.addFactor(factor({ id: 'w2', user: 'bob', kind: 'webauthn', data: { credential_id: 'Q1JFRC1C', public_key: 'cHVi', counter: 0 } }));
    await store.addFactor(factor({ id: 't1', user: 'carol', data: { credential_id: 'Q1JFRC1B' } }));
    t.strictSame(await store.factorsByCredentialId('Q1JFRC1B'), [key], 'the WebAuthn record with that id, not a TOTP record that happens to carry the field');
    t.same(await store.factorsByCredentialId('q1jfrc1b'), [], 'ids are compared exactly (base64url is case-sensitive)');
    t.same(await store.factorsByCredentialId('nope'), [], 'an unknown id finds nothing');
    await store.updateFactor('alice', 'w1', { data: { ...key.data, counter: 5 }, last_used_at: T0 + 9 });
    t.equal((await store.factorsByCredentialId('Q1JFRC1B'))[0].data.counter, 5, 'an update keeps it findable');
    await store.removeFactor('alice', 'w1');
    t.same(await store.factorsByCredentialId('Q1JFRC1B'), [], 'a removed credential is no longer found');
  });

  t.test('a WebAuthn credential id has one owner: a second insert stores nothing and says so', async (t) => {
    const store = await fresh(t);
    const cred = (id: string, user: string, credential_id: string) =>
      factor({ id, user, kind: 'webauthn', name: 'Key', data: { credential_id, public_key: 'cHVi', counter: 0 } });
    t.equal(await store.addFactor(cred('w1', 'alice', 'U0FNRQ')), true, 'the first owner is stored');
    t.equal(await store.addFactor(cred('w2', 'mallory', 'U0FNRQ')), false, 'another user registering the same id: refused');
    t.equal(await store.addFactor(cred('w3', 'alice', 'U0FNRQ')), false, 'the same user registering it twice: refused');
    t.same((await store.factorsByCredentialId('U0FNRQ')).map((f) => f.id), ['w1'], 'one owner in the store');
    t.same(await store.listFactors('mallory'), [], 'nothing stored for the refused one');
    t.equal(await store.addFactor(factor({ id: 't1', user: 'alice' })), true, 'factors without a credential id never conflict');
    t.equal(await store.addFactor(factor({ id: 't2', user: 'alice' })), true, '… with each other either');
    await t.rejects(store.addFactor(cred('w1', 'bob', 'T1RIRVI')), 'a duplicate record id is still an error');
    const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => store.addFactor(cred(`r${i}`, `user${i}`, 'UkFDRQ'))));
    t.equal(raced.filter(Boolean).length, 1, 'ten registrations of one id at once: exactly one stored');
    t.equal((await store.factorsByCredentialId('UkFDRQ')).length, 1);
    await store.removeFactor('alice', 'w1');
    t.equal(await store.addFactor(cred('w4', 'bob', 'U0FNRQ')), true, 'once removed, the id can be registered again');
  });

  t.test('updateFactorIfCounter writes only while the stored sign counter is the one expected', async (t) => {
    const store = await fresh(t);
    const data = { credential_id: 'Q1RS', public_key: 'cHVi', counter: 4, transports: [] };
    await store.addFactor(factor({ id: 'w1', user: 'alice', kind: 'webauthn', data }));
    t.equal(await store.updateFactorIfCounter('alice', 'w1', 3, { data: { ...data, counter: 5 }, last_used_at: T0 + 1 }), false, 'a stale counter: nothing written');
    t.equal((await store.getFactor('alice', 'w1'))?.data.counter, 4);
    t.equal(await store.updateFactorIfCounter('bob', 'w1', 4, { data: { ...data, counter: 5 } }), false, "another user cannot write alice's credential");
    t.equal(await store.updateFactorIfCounter('alice', 'w1', 4, { data: { ...data, counter: 6 }, last_used_at: T0 + 2 }), true, 'the expected counter: written');
    t.strictSame(await store.getFactor('alice', 'w1'), factor({ id: 'w1', user: 'alice', kind: 'webauthn', data: { ...data, counter: 6 }, last_used_at: T0 + 2 }), 'the whole patch applied');
    t.equal(await store.updateFactorIfCounter('alice', 'w1', 4, { data: { ...data, counter: 5 } }), false, 'the counter read before that write no longer matches');
    t.equal(await store.updateFactorIfCounter('alice', 'w1', 6, {}), true, 'an empty patch answers whether the counter matches');
    t.equal(await store.updateFactorIfCounter('alice', 'nope', 6, { last_used_at: T0 }), false, 'an unknown factor: false');
    const zero = { ...data, credential_id: 'WkVSTw', counter: 0 };
    await store.addFactor(factor({ id: 'w0', user: 'alice', kind: 'webauthn', data: zero }));
    t.equal(await store.updateFactorIfCounter('alice', 'w0', 0, { data: zero, last_used_at: T0 + 3 }), true, 'a counter that stays 0 (authenticators that never count)');
    t.equal(await store.updateFactorIfCounter('alice', 'w0', 0, { data: zero, last_used_at: T0 + 4 }), true, '… again');
    const raced = await Promise.all([7, 8, 9, 10].map((counter) => store.updateFactorIfCounter('alice', 'w1', 6, { data: { ...data, counter } })));
    t.equal(raced.filter(Boolean).length, 1, 'four writes from one read of the counter: exactly one applies');
  });

  t.test('the session registry: listed newest first, touched forward only, bounded, removable', async (t) => {
    const store = await fresh(t);
    const s1 = session({ id: 's1', user: 'alice', seen_at: T0 + 10 });
    const s2 = session({ id: 's2', user: 'alice', label: 'Firefox on Windows', seen_at: T0 + 20 });
    await store.addSession(s1, 20);
    await store.addSession(s2, 20);
    await store.addSession(session({ id: 's3', user: 'bob' }), 20);
    t.strictSame(await store.listSessions('alice', T0 + 30), [s2, s1], 'most recently seen first, every field intact');
    t.same(await store.listSessions('alice', T0 + 86_400_000), [], 'past expires_at: not listed');
    await t.rejects(store.addSession(session({ id: 's1', user: 'bob' }), 20), 'a duplicate id is refused');

    await store.touchSession('s1', T0 + 50, '198.51.100.0/24');
    await store.touchSession('s1', T0 + 40, '203.0.113.0/24');
    t.same((await store.listSessions('alice', T0 + 60)).map((r) => [r.id, r.seen_at, r.network]), [['s1', T0 + 50, '198.51.100.0/24'], ['s2', T0 + 20, '192.0.2.0/24']], 'seen moves forward only');

    await store.addSession(session({ id: 's4', user: 'alice', created_at: T0 + 70, seen_at: T0 + 70 }), 2);
    t.same((await store.listSessions('alice', T0 + 80)).map((r) => r.id), ['s4', 's1'], 'only the `keep` most recently seen stay');
    await store.addSession(session({ id: 's5', user: 'alice', created_at: T0 + 86_400_000, seen_at: T0 + 86_400_000, expires_at: T0 + 2 * 86_400_000 }), 20);
    t.same((await store.listSessions('alice', 0)).map((r) => r.id), ['s5'], 'expired entries go when the user signs in again');

    t.equal(await store.removeSession('bob', 's5'), false, "another user's session is not removed");
    t.equal(await store.removeSession('alice', 's5'), true);
    t.equal(await store.removeSession('alice', 's5'), false, 'removing twice: false');
    await store.addSession(session({ id: 's6', user: 'bob' }), 20);
    t.equal(await store.removeAllSessions('bob'), 2, 'remove all: the count');
    t.same(await store.listSessions('bob', T0), []);
  });

  t.test('a closed store fails closed', async (t) => {
    const store = await makeStore();
    await store.migrate();
    await store.close();
    await t.rejects(store.ping(), 'ping rejects after close');
    await t.rejects(store.listFactors('alice'), 'reads reject after close');
    await t.resolves(store.close(), 'closing twice is harmless');
  });
}
