import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { FactorsConfig } from '../../src/config/types.ts';
import { createFactorRegistry, normalizePhone, type FactorRegistryOptions } from '../../src/factors/registry.ts';
import { openNotifier } from '../../src/identity/notifier.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { testFactorsConfig } from '../helpers/factors-config.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 15);
const FACTORS: FactorsConfig = testFactorsConfig('registry-test-key-0123456789-abcdefghijk');

async function rig(t: { testdir(): string; teardown(fn: () => unknown): unknown }, over: Partial<FactorRegistryOptions> = {}) {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const clock = { now: T0 };
  const shared = createMemorySharedState({ now: () => clock.now });
  t.teardown(async () => { await store.close(); await shared.close(); });
  const outbox = join(t.testdir(), 'outbox.log');
  const registry = createFactorRegistry({ store, shared, notifier: openNotifier({ kind: 'file', path: outbox }), factors: FACTORS, product: 'Example Portal', now: () => clock.now, ...over });
  const last = () => {
    const lines = existsSync(outbox) ? readFileSync(outbox, 'utf8').trim().split('\n') : [];
    const line = JSON.parse(lines.at(-1) ?? '{}');
    return { to: line.to as string, code: /code is (\d+)/.exec(line.text ?? '')?.[1] ?? '' };
  };
  return { store, shared, registry, clock, last };
}

const oathtool = (secret: string, at: number) =>
  execFileSync('/usr/bin/oathtool', ['--totp', '-b', secret, '--now', new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')], { encoding: 'utf8' }).trim();

t.test('enrolledKinds: strongest first; recovery only while codes remain', async (t) => {
  const r = await rig(t);
  t.same(await r.registry.enrolledKinds('alice'), []);
  const e = await r.registry.totp.beginEnrollment({ id: 'alice', email: 'alice@example.com' }, 'browser-a');
  t.ok((await r.registry.totp.finishEnrollment('alice', 'browser-a', oathtool(e.secret, T0))).ok);
  const codes = await r.registry.recovery.generate('alice');
  await r.store.addFactor({ id: 'wa1', user: 'alice', kind: 'webauthn', name: 'YubiKey', data: {}, created_at: T0, last_used_at: null });
  t.same(await r.registry.enrolledKinds({ id: 'alice' }), ['webauthn', 'totp', 'recovery']);
  for (const c of codes) await r.registry.recovery.verify('alice', c);
  t.same(await r.registry.enrolledKinds('alice'), ['webauthn', 'totp'], 'used-up recovery codes no longer count');
});

t.test('list, rename, remove', async (t) => {
  const r = await rig(t);
  await r.store.addFactor({ id: 'f1', user: 'alice', kind: 'webauthn', name: 'Key', data: {}, created_at: T0, last_used_at: null });
  t.same((await r.registry.listFactors('alice')).map((f) => f.id), ['f1']);
  t.ok(await r.registry.renameFactor('alice', 'f1', '  Blue\nkey '));
  t.equal((await r.store.getFactor('alice', 'f1'))?.name, 'Blue key');
  t.ok(await r.registry.renameFactor('alice', 'f1', '   '), 'empty name keeps the old one');
  t.equal((await r.store.getFactor('alice', 'f1'))?.name, 'Blue key');
  t.notOk(await r.registry.renameFactor('bob', 'f1', 'x'), "cannot rename another user's factor");
  t.equal(await r.registry.removeFactor('bob', 'f1'), undefined, "cannot remove another user's factor");
  const removed = await r.registry.removeFactor('alice', 'f1');
  t.equal(removed?.name, 'Blue key', 'the removed record comes back for the notice');
  t.equal(await r.registry.removeFactor('alice', 'f1'), undefined, 'second removal finds nothing');
  t.same(await r.registry.listFactors('alice'), []);
});

t.test('email enrollment: code to the user address, factor stored with it, then sign-in codes', async (t) => {
  const r = await rig(t);
  const alice = { id: 'alice', email: 'alice@example.com' };
  t.same(await r.registry.finishCodeEnrollment('email', alice, '123456'), { ok: false, reason: 'expired' }, 'nothing started');
  t.ok((await r.registry.beginCodeEnrollment('email', alice)).ok);
  const sent = r.last();
  t.equal(sent.to, 'alice@example.com');
  t.same(await r.registry.finishCodeEnrollment('email', alice, sent.code === '000000' ? '000001' : '000000'), { ok: false, reason: 'invalid_code' });
  const done = await r.registry.finishCodeEnrollment('email', alice, sent.code);
  t.ok(done.ok);
  if (!done.ok) return;
  t.equal(done.factor.kind, 'email');
  t.equal(done.factor.name, 'Email code');
  t.same(done.factor.data, { destination: 'alice@example.com' });
  t.same(await r.registry.enrolledKinds('alice'), ['email']);

  r.clock.now += 31_000;
  t.ok((await r.registry.sendCode('email', alice)).ok);
  const v = await r.registry.verifyCode('email', 'alice', r.last().code);
  t.ok(v.ok && v.verified.check.amr === 'mail');
  r.clock.now += 31_000;
  t.ok((await r.registry.beginCodeEnrollment('email', alice)).ok);
  const again = await r.registry.finishCodeEnrollment('email', alice, r.last().code);
  t.ok(again.ok && again.factor.id === done.factor.id, 'confirming the same address again returns the existing factor');
  t.equal((await r.registry.listFactors('alice')).length, 1);
  t.same(await r.registry.beginCodeEnrollment('email', { id: 'bob' }), { ok: false, reason: 'no_destination' });
});

t.test('sms enrollment: the phone typed in is normalized, confirmed and later used', async (t) => {
  const r = await rig(t);
  t.same(await r.registry.beginCodeEnrollment('sms', { id: 'alice' }, 'call me'), { ok: false, reason: 'no_destination' });
  t.same(await r.registry.sendCode('sms', { id: 'alice' }), { ok: false, reason: 'no_destination' }, 'no sms factor yet');
  t.ok((await r.registry.beginCodeEnrollment('sms', { id: 'alice' }, '+1 (555) 123-4567')).ok);
  t.equal(r.last().to, '+15551234567');
  const done = await r.registry.finishCodeEnrollment('sms', 'alice', r.last().code, 'Work phone');
  t.ok(done.ok && done.factor.name === 'Work phone' && done.factor.data.destination === '+15551234567');
  r.clock.now += 31_000;
  t.ok((await r.registry.sendCode('sms', { id: 'alice' })).ok);
  t.equal(r.last().to, '+15551234567', 'sign-in code goes to the enrolled phone');
  t.ok((await r.registry.verifyCode('sms', 'alice', r.last().code)).ok);
});

t.test('sms is absent unless configured', async (t) => {
  const r = await rig(t, { factors: { ...FACTORS, sms_otp: undefined } });
  t.equal(r.registry.sms, undefined);
  await t.rejects(r.registry.sendCode('sms', { id: 'alice' }), /sms codes are not configured/);
});

t.test('old encryption keys keep seeds and recovery codes working after rotation', async (t) => {
  const r = await rig(t);
  const e = await r.registry.totp.beginEnrollment({ id: 'alice' }, 'browser-a');
  t.ok((await r.registry.totp.finishEnrollment('alice', 'browser-a', oathtool(e.secret, T0))).ok);
  const codes = await r.registry.recovery.generate('alice');
  const NEW = 'rotated-key-0123456789-abcdefghijklmnopq';
  const rotated = createFactorRegistry({ store: r.store, shared: r.shared, notifier: openNotifier({ kind: 'file', path: join(t.testdir(), 'o2.log') }), factors: { ...FACTORS, encryption_key: NEW }, oldEncryptionKeys: [FACTORS.encryption_key], now: () => r.clock.now });
  r.clock.now += 30_000;
  t.ok((await rotated.totp.verify('alice', oathtool(e.secret, r.clock.now))).ok, 'TOTP seed opens');
  t.ok((await rotated.recovery.verify('alice', codes[0])).ok, 'recovery code verifies');
  const withoutOld = createFactorRegistry({ store: r.store, shared: r.shared, notifier: openNotifier({ kind: 'file', path: join(t.testdir(), 'o3.log') }), factors: { ...FACTORS, encryption_key: NEW }, now: () => r.clock.now });
  t.same(await withoutOld.recovery.verify('alice', codes[1]), { ok: false }, 'without the old key, old recovery hashes do not match');
});

t.test('normalizePhone table', async (t) => {
  const table: Array<[unknown, string | undefined]> = [
    ['+15551234567', '+15551234567'], ['+44 20 7946 0958', '+442079460958'], ['+1 (555) 123-4567', '+15551234567'],
    ['5551234567', undefined], ['+0551234567', undefined], ['+1555', undefined], ['+1234567890123456', undefined],
    ['+1555123456x', undefined], ['', undefined], [null, undefined], ['+1'.padEnd(40, '5'), undefined],
  ];
  for (const [input, want] of table) t.equal(normalizePhone(input), want, String(input));
});
