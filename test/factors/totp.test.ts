// TOTP against an independent implementation: codes come from Debian's
// oathtool, the clock is injected, the store is real SQLite.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScureBase32Plugin } from 'otplib';
import t from 'tap';
import { createTotp, groupSecret, normalizeTotpInput, pendingEnrollmentKey, type Totp } from '../../src/factors/totp.ts';
import { createSecretBox } from '../../src/store/secret-box.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import type { Store } from '../../src/store/types.ts';

const KEY = 'test-encryption-key-0123456789-abcdefghij';
const STEP = 30_000;
/** 15 s into a time step, so ±1 step is unambiguous. */
const T0 = Date.UTC(2026, 0, 1, 0, 10, 15);

/** The code oathtool computes for `secret` at unix ms `at`. */
function oathtool(secret: string, at: number): string {
  const when = new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return execFileSync('/usr/bin/oathtool', ['--totp', '-b', secret, '--now', when], { encoding: 'utf8' }).trim();
}

interface Rig { store: Store; shared: SharedState; totp: Totp; clock: { now: number } }

async function rig(t: { teardown(fn: () => unknown): unknown }, path = ':memory:', keys = [KEY]): Promise<Rig> {
  const store = openSqliteStore(path);
  await store.migrate();
  const clock = { now: T0 };
  const shared = createMemorySharedState({ now: () => clock.now });
  t.teardown(async () => { await store.close(); await shared.close(); });
  const totp = createTotp({ store, shared, box: createSecretBox(keys), issuer: 'Example Portal', now: () => clock.now });
  return { store, shared, totp, clock };
}

/** A user enrolled 10 minutes before T0 (so the enrollment code's step is long past). */
async function enrolled(r: Rig, id: string): Promise<{ secret: string; factorId: string }> {
  r.clock.now = T0 - 10 * 60_000;
  const e = await r.totp.beginEnrollment({ id, email: `${id}@example.com` }, 'browser-a');
  const done = await r.totp.finishEnrollment(id, 'browser-a', oathtool(e.secret, r.clock.now));
  if (!done.ok) throw new Error(`enrollment failed: ${done.reason}`);
  r.clock.now = T0;
  return { secret: e.secret, factorId: done.factor.id };
}

t.test('beginEnrollment: base32 secret, grouped text, otpauth URI, SVG QR code; pending seed sealed', async (t) => {
  const r = await rig(t);
  const e = await r.totp.beginEnrollment({ id: 'alice', email: 'alice@example.com' }, 'browser-a');
  t.match(e.secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret');
  t.equal(e.groupedSecret.replace(/ /g, ''), e.secret);
  t.match(e.groupedSecret, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  const uri = new URL(e.uri);
  t.equal(uri.protocol, 'otpauth:');
  t.equal(uri.searchParams.get('secret'), e.secret);
  t.equal(uri.searchParams.get('issuer'), 'Example Portal');
  t.match(decodeURIComponent(uri.pathname), /Example Portal:alice@example\.com$/);
  t.match(e.qrSvg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(e.qrSvg, /<\/svg>\s*$/);
  const pending = await r.shared.get(pendingEnrollmentKey('alice', 'browser-a'));
  t.type(pending, 'string');
  t.notOk(pending!.includes(e.secret), 'pending seed is sealed, not plain');
  t.ok((await r.shared.ttl(pendingEnrollmentKey('alice', 'browser-a'))) > 14 * 60_000, 'pending kept ~15 min');
  t.equal(groupSecret('ABCDEFGHIJ'), 'ABCD EFGH IJ');
});

t.test('finishEnrollment: wrong code keeps the pending seed; right code stores a sealed factor; the confirming code cannot be replayed', async (t) => {
  const r = await rig(t);
  const e = await r.totp.beginEnrollment({ id: 'alice', email: 'alice@example.com' }, 'browser-a');
  const good = oathtool(e.secret, r.clock.now);
  const wrong = good === '000000' ? '000001' : '000000';
  t.same(await r.totp.finishEnrollment('alice', 'browser-a', wrong), { ok: false, reason: 'invalid_code' });
  t.same(await r.totp.finishEnrollment('alice', 'browser-a', 'abc'), { ok: false, reason: 'invalid_code' });
  const done = await r.totp.finishEnrollment({ id: 'alice' }, 'browser-a', ` ${good.slice(0, 3)} ${good.slice(3)} `, 'Pixel  phone');
  t.ok(done.ok, 'right code (with spaces) enrolls');
  if (!done.ok) return;
  t.equal(done.factor.kind, 'totp');
  t.equal(done.factor.name, 'Pixel phone');
  t.equal(done.factor.user, 'alice');
  t.match(done.factor.data.secret, /^v1\./, 'seed stored sealed');
  t.same((await r.store.listFactors('alice')).map((f) => f.id), [done.factor.id]);
  t.equal(await r.shared.get(pendingEnrollmentKey('alice', 'browser-a')), null, 'pending seed consumed');
  t.same(await r.totp.finishEnrollment('alice', 'browser-a', good), { ok: false, reason: 'expired' }, 'second confirmation finds nothing pending');
  t.same(await r.totp.verify('alice', good), { ok: false, reason: 'replayed' }, 'the confirming code is spent');
});

t.test('finishEnrollment: pending seed expires after 15 minutes; default name', async (t) => {
  const r = await rig(t);
  const e = await r.totp.beginEnrollment({ id: 'bob' }, 'browser-a');
  t.match(decodeURIComponent(new URL(e.uri).pathname), /:bob$/, 'label falls back to the user id');
  r.clock.now += 15 * 60_000 + 1;
  t.same(await r.totp.finishEnrollment('bob', 'browser-a', oathtool(e.secret, r.clock.now)), { ok: false, reason: 'expired' });
  const again = await r.totp.beginEnrollment({ id: 'bob' }, 'browser-a');
  const done = await r.totp.finishEnrollment('bob', 'browser-a', oathtool(again.secret, r.clock.now));
  t.ok(done.ok && done.factor.name === 'Authenticator app');
});

t.test('beginEnrollment keeps the pending secret (reload, wrong code) until fresh is asked for', async (t) => {
  const r = await rig(t);
  const first = await r.totp.beginEnrollment({ id: 'carol' }, 'browser-a');
  const reload = await r.totp.beginEnrollment({ id: 'carol' }, 'browser-a');
  t.equal(reload.secret, first.secret, 'a reload shows the entry already scanned');
  t.equal(reload.uri, first.uri);
  t.same(await r.totp.finishEnrollment('carol', 'browser-a', '000000'), { ok: false, reason: 'invalid_code' });
  const afterWrong = await r.totp.beginEnrollment({ id: 'carol' }, 'browser-a');
  t.equal(afterWrong.secret, first.secret, 'a wrong code keeps the secret');
  const fresh = await r.totp.beginEnrollment({ id: 'carol' }, 'browser-a', { fresh: true });
  t.not(fresh.secret, first.secret, 'fresh replaces it');
  t.same(await r.totp.finishEnrollment('carol', 'browser-a', oathtool(first.secret, r.clock.now)), { ok: false, reason: 'invalid_code' }, 'the replaced secret no longer confirms');
  const done = await r.totp.finishEnrollment('carol', 'browser-a', oathtool(fresh.secret, r.clock.now));
  t.ok(done.ok, 'the new one does');
});

t.test('pendingEnrollmentKey: one key per user and browser; no id or binding spells another pair\'s key', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['alice', 'rid-1', 'totp:pending:alice:rid-1'],
    ['alice', 'rid-2', 'totp:pending:alice:rid-2'],
    ['bob', 'rid-1', 'totp:pending:bob:rid-1'],
    ['a:b', 'c', 'totp:pending:a%3Ab:c'],
    ['a', 'b:c', 'totp:pending:a:b%3Ac'],
    ['a%3Ab', 'c', 'totp:pending:a%253Ab:c'],
    ['jürgen@example.com', 'Zm9v_-', 'totp:pending:j%C3%BCrgen%40example.com:Zm9v_-'],
  ];
  for (const [user, bind, key] of cases) t.equal(pendingEnrollmentKey(user, bind), key, `${user} in ${bind}`);
  t.equal(new Set(cases.map(([user, bind]) => pendingEnrollmentKey(user, bind))).size, cases.length, 'all distinct');
});

t.test('a pending setup belongs to the browser that began it: another gets its own secret and cannot confirm this one', async (t) => {
  const r = await rig(t);
  const seen = await r.totp.beginEnrollment({ id: 'gina' }, 'attacker');
  const hers = await r.totp.beginEnrollment({ id: 'gina' }, 'owner');
  t.not(hers.secret, seen.secret, 'the second browser is shown a secret of its own');
  t.equal((await r.totp.beginEnrollment({ id: 'gina' }, 'attacker')).secret, seen.secret, 'the first browser still has its own (reload)');
  const code = oathtool(seen.secret, r.clock.now);
  t.same(await r.totp.finishEnrollment('gina', 'owner', code), { ok: false, reason: 'invalid_code' }, 'a code of the other browser\'s secret does not confirm this browser\'s');
  t.same(await r.totp.finishEnrollment('gina', 'third', code), { ok: false, reason: 'expired' }, 'a browser with nothing pending confirms nothing');
  t.same(await r.totp.finishEnrollment('gina', '', code), { ok: false, reason: 'expired' }, 'no binding: nothing to confirm');
  const done = await r.totp.finishEnrollment('gina', 'owner', oathtool(hers.secret, r.clock.now));
  t.ok(done.ok, 'the owner confirms her own');
  t.not(await r.shared.get(pendingEnrollmentKey('gina', 'attacker')), null, 'the other browser\'s setup is its own business (it lapses in 15 minutes)');
  r.clock.now += STEP;
  t.same(await r.totp.verify('gina', oathtool(seen.secret, r.clock.now)), { ok: false, reason: 'invalid_code' }, 'the secret the first browser saw makes no codes of hers');
  await t.rejects(r.totp.beginEnrollment({ id: 'gina' }, ''), TypeError, 'beginning without a binding is a programming error');
});

t.test('oathtool codes are accepted at -1, 0, +1 steps and refused at ±2', async (t) => {
  const r = await rig(t);
  for (const offset of [-2, -1, 0, 1, 2]) {
    const user = `u${offset}`;
    const { secret, factorId } = await enrolled(r, user);
    const code = oathtool(secret, T0 + offset * STEP);
    const result = await r.totp.verify(user, code);
    if (Math.abs(offset) <= 1) {
      t.ok(result.ok, `step ${offset} accepted`);
      if (result.ok) {
        t.same(result.verified, { check: { kind: 'totp', amr: 'otp', phishing_resistant: false, at: T0 }, factorId });
        t.equal((await r.store.getFactor(user, factorId))?.last_used_at, T0, 'last_used_at updated');
      }
    } else {
      t.same(result, { ok: false, reason: 'invalid_code' }, `step ${offset} refused`);
    }
  }
});

t.test('a code is accepted once; an older step after a newer one is refused', async (t) => {
  const r = await rig(t);
  const { secret } = await enrolled(r, 'alice');
  const now = oathtool(secret, T0);
  t.ok((await r.totp.verify('alice', now)).ok, 'first use');
  t.same(await r.totp.verify('alice', now), { ok: false, reason: 'replayed' }, 'same code again');
  t.same(await r.totp.verify('alice', `${now.slice(0, 3)}-${now.slice(3)}`), { ok: false, reason: 'replayed' }, 'same code, other spelling');

  const { secret: s2 } = await enrolled(r, 'bob');
  t.ok((await r.totp.verify('bob', oathtool(s2, T0 + STEP))).ok, 'newer step (+1) first');
  t.same(await r.totp.verify('bob', oathtool(s2, T0)), { ok: false, reason: 'replayed' }, 'older, still-valid step refused after it');
  t.same(await r.totp.verify('bob', oathtool(s2, T0 - STEP)), { ok: false, reason: 'replayed' }, 'and the one before');
  r.clock.now = T0 + 2 * STEP;
  t.ok((await r.totp.verify('bob', oathtool(s2, r.clock.now))).ok, 'a later step still works');
});

t.test('replay guard holds across two instances sharing store and shared state', async (t) => {
  const r = await rig(t);
  const { secret } = await enrolled(r, 'alice');
  const other = createTotp({ store: r.store, shared: r.shared, box: createSecretBox([KEY]), issuer: 'Example Portal', now: () => r.clock.now });
  const code = oathtool(secret, T0);
  const results = await Promise.all([r.totp.verify('alice', code), other.verify('alice', code), r.totp.verify('alice', code), other.verify('alice', code)]);
  t.equal(results.filter((x) => x.ok).length, 1, 'exactly one instance accepts the code');
  t.equal(results.filter((x) => !x.ok && x.reason === 'replayed').length, 3);
});

t.test('malformed input is invalid_code, never a throw', async (t) => {
  const r = await rig(t);
  const { secret } = await enrolled(r, 'alice');
  const good = oathtool(secret, T0);
  const toUnicode = (s: string, zero: number) => [...s].map((d) => String.fromCodePoint(zero + Number(d))).join('');
  const inputs: unknown[] = [
    '', ' ', 'abcdef', '12345', '1234567', good.slice(0, 5), good + '0', 'x'.repeat(10_240), '1'.repeat(10_240),
    toUnicode(good, 0xff10), toUnicode(good, 0x0660), toUnicode(good, 0x0966), `${good}\u0000`, `+${good.slice(1)}`,
    '12.456', '1e5678', null, undefined, 123456, {}, ['123456'],
  ];
  for (const input of inputs) {
    const label = JSON.stringify(input)?.slice(0, 40) ?? String(input);
    t.same(await r.totp.verify('alice', input as string), { ok: false, reason: 'invalid_code' }, `verify ${label}`);
    t.same(await r.totp.finishEnrollment('nobody', 'browser-a', input as string), { ok: false, reason: 'expired' }, `finish (nothing pending) ${label}`);
  }
  t.same(await r.totp.verify('nobody', good), { ok: false, reason: 'invalid_code' }, 'user without a factor');
  t.ok((await r.totp.verify('alice', good)).ok, 'after all that, the real code still works');
  t.same(normalizeTotpInput(' 12 34-56\t'), '123456');
});

t.test('several TOTP factors: a code from either works and names its factor', async (t) => {
  const r = await rig(t);
  const first = await enrolled(r, 'alice');
  r.clock.now = T0 - 5 * 60_000;
  const e = await r.totp.beginEnrollment({ id: 'alice' }, 'browser-a');
  const second = await r.totp.finishEnrollment('alice', 'browser-a', oathtool(e.secret, r.clock.now), 'Backup phone');
  t.ok(second.ok);
  if (!second.ok) return;
  r.clock.now = T0;
  const v2 = await r.totp.verify('alice', oathtool(e.secret, T0));
  t.ok(v2.ok && v2.verified.factorId === second.factor.id, 'second factor matched');
  const v1 = await r.totp.verify('alice', oathtool(first.secret, T0));
  t.ok(v1.ok && v1.verified.factorId === first.factorId, 'first factor matched; guards are per factor');
});

t.test('the seed is unreadable in the SQLite file', async (t) => {
  const dir = t.testdir();
  const r = await rig(t, join(dir, 'gatehouse.db'));
  const { secret, factorId } = await enrolled(r, 'alice');
  const sealed = (await r.store.getFactor('alice', factorId))!.data.secret as string;
  await r.store.close();
  const bytes = Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('gatehouse.db')).map((f) => readFileSync(join(dir, f))));
  t.ok(bytes.includes(Buffer.from(sealed)), 'positive control: the sealed value is in the files');
  const raw = Buffer.from(new ScureBase32Plugin().decode(secret));
  t.equal(raw.length, 20);
  t.notOk(bytes.includes(Buffer.from(secret)), 'base32 secret absent');
  t.notOk(bytes.includes(Buffer.from(secret.toLowerCase())), 'lower-case base32 absent');
  t.notOk(bytes.includes(raw), 'raw seed bytes absent');
  t.notOk(bytes.includes(Buffer.from(raw.toString('hex'))), 'hex seed absent');
  t.notOk(bytes.includes(Buffer.from(raw.toString('base64'))), 'base64 seed absent');
});

t.test('key rotation: old seeds verify and are re-sealed under the current key; unreadable seeds fail closed', async (t) => {
  const NEW = 'new-encryption-key-9876543210-zyxwvutsrq';
  const r = await rig(t);
  const { secret, factorId } = await enrolled(r, 'alice');
  const rotated = createTotp({ store: r.store, shared: r.shared, box: createSecretBox([NEW, KEY]), issuer: 'X', now: () => r.clock.now });
  t.ok((await rotated.verify('alice', oathtool(secret, T0))).ok, 'old seed verifies with [new, old]');
  const resealed = (await r.store.getFactor('alice', factorId))!.data.secret as string;
  t.equal(resealed.split('.')[1], createSecretBox([NEW]).currentKid, 're-sealed under the new key');
  const newOnly = createTotp({ store: r.store, shared: r.shared, box: createSecretBox([NEW]), issuer: 'X', now: () => r.clock.now });
  r.clock.now = T0 + STEP;
  t.ok((await newOnly.verify('alice', oathtool(secret, r.clock.now))).ok, 'new key alone now opens it');

  const { secret: s2 } = await enrolled(r, 'bob');
  const wrongKey = createTotp({ store: r.store, shared: r.shared, box: createSecretBox([NEW]), issuer: 'X', now: () => r.clock.now });
  await t.rejects(wrongKey.verify('bob', oathtool(s2, r.clock.now)), /unknown key/, 'a seed no key opens is an error, not a pass');
});

t.test('createTotp refuses a missing issuer', async (t) => {
  const r = await rig(t);
  t.throws(() => createTotp({ store: r.store, shared: r.shared, box: createSecretBox([KEY]), issuer: '' }), /issuer/);
});
