// Email and SMS codes with real parts: in-memory shared state on an injected
// clock, and the file notifier (the code is read back from the outbox file).

import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { admitCode, createOneTimeCodes, normalizeCodeInput, type OneTimeCodesOptions } from '../../src/factors/one-time-code.ts';
import { openNotifier } from '../../src/identity/notifier.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);
const TTL = 10 * 60_000;

interface OutboxLine { ts: string; to: string; subject: string; text: string; kind: string }

function rig(t: { testdir(): string; teardown(fn: () => unknown): unknown }, over: Partial<OneTimeCodesOptions> = {}) {
  const outbox = join(t.testdir(), 'outbox.log');
  const clock = { now: T0 };
  const shared = createMemorySharedState({ now: () => clock.now });
  t.teardown(() => shared.close());
  const notifier = openNotifier({ kind: 'file', path: outbox });
  const codes = createOneTimeCodes({ shared, notifier, kind: 'email', ttlMs: TTL, length: 6, product: 'Example Portal', now: () => clock.now, ...over });
  const lines = (): OutboxLine[] => (existsSync(outbox) ? readFileSync(outbox, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);
  const lastCode = (): string => {
    const m = /sign-in code is (\d+)\./.exec(lines().at(-1)?.text ?? '');
    if (!m) throw new Error('no code in the outbox');
    return m[1];
  };
  const tick = (ms: number) => { clock.now += ms; };
  return { shared, codes, lines, lastCode, tick, clock, outbox };
}

const alice = { id: 'alice', email: 'alice@example.com' };

t.test('send writes the message; the code verifies once', async (t) => {
  const r = rig(t);
  const sent = await r.codes.send(alice);
  t.same(sent, { ok: true, expiresAt: T0 + TTL });
  const [line] = r.lines();
  t.equal(line.to, 'alice@example.com');
  t.equal(line.kind, 'one_time_code');
  t.equal(line.subject, 'Your Example Portal sign-in code');
  const code = r.lastCode();
  t.match(code, /^\d{6}$/);
  t.match(line.text, `Your Example Portal sign-in code is ${code}. It expires in 10 minutes. If you did not try to sign in, tell your administrator.`);
  t.same(await r.codes.verify('alice', `${code.slice(0, 3)} ${code.slice(3)}`), {
    ok: true, verified: { check: { kind: 'email', amr: 'mail', phishing_resistant: false, at: T0 } },
  });
  t.same(await r.codes.verify('alice', code), { ok: false, reason: 'invalid_code' }, 'single use');
  const snapshot = JSON.stringify(r.lines());
  t.notOk(/[0-9a-f]{64}/.test(snapshot), 'outbox holds no hashes (sanity)');
});

t.test("codes are bound to their user; wrong and malformed input is refused without throwing", async (t) => {
  const r = rig(t);
  await r.codes.send(alice);
  const code = r.lastCode();
  t.same(await r.codes.verify('bob', code), { ok: false, reason: 'invalid_code' });
  for (const bad of ['', 'abcdef', '12345', '1234567', '１２３４５６', 'x'.repeat(10_240), null, 42]) {
    t.same(await r.codes.verify('alice', bad as string), { ok: false, reason: 'invalid_code' }, JSON.stringify(bad)?.slice(0, 20));
  }
  t.ok((await r.codes.verify('alice', code)).ok, 'the right code still works after failures');
});

t.test('codes expire after their TTL', async (t) => {
  const r = rig(t);
  await r.codes.send(alice);
  const code = r.lastCode();
  r.tick(TTL + 1);
  t.same(await r.codes.verify('alice', code), { ok: false, reason: 'invalid_code' }, 'gone from shared state');
});

t.test('a code past its expiry is refused even if shared state still holds it', async (t) => {
  const r = rig(t);
  await r.codes.send(alice);
  const code = r.lastCode();
  // The gateway's clock moves on while the store's does not (clock skew between instances and Redis).
  const skewed = createOneTimeCodes({ shared: r.shared, notifier: openNotifier({ kind: 'file', path: r.outbox }), kind: 'email', ttlMs: TTL, length: 6, now: () => T0 + TTL });
  t.same(await skewed.verify('alice', code), { ok: false, reason: 'expired' });
});

t.test('a used code lifts the resend wait: the next code (sign-in after enrollment) goes out at once', async (t) => {
  const r = rig(t);
  t.ok((await r.codes.send(alice)).ok, 'the enrollment code');
  r.tick(5_000);
  t.ok((await r.codes.verify('alice', r.lastCode())).ok, 'confirmed');
  const next = await r.codes.send(alice);
  t.ok(next.ok, 'the sign-in code right after is not held back by a cool-down');
  t.equal(r.lines().length, 2, 'two messages sent');
});

t.test('resend is rate limited per user', async (t) => {
  const r = rig(t);
  t.ok((await r.codes.send(alice)).ok);
  r.tick(10_000);
  const limited = await r.codes.send(alice);
  t.equal(limited.ok, false);
  if (!limited.ok && limited.reason === 'rate_limited') t.equal(limited.retryAfterMs, 20_000, 'wait the rest of the 30 s');
  else t.fail('expected rate_limited');
  t.ok((await r.codes.send({ id: 'bob', email: 'bob@example.com' })).ok, 'another user is not affected');
  r.tick(20_000);
  t.ok((await r.codes.send(alice)).ok, 'after the interval a new code goes out');
  t.equal(r.lines().filter((l) => l.to === 'alice@example.com').length, 2, 'the refused send sent nothing');
});

t.test('hourly cap stops a flood even when the interval is respected', async (t) => {
  const r = rig(t, { maxSendsPerHour: 4, maxActive: 10 });
  for (let i = 0; i < 4; i++) {
    t.ok((await r.codes.send(alice)).ok, `send ${i + 1}`);
    r.tick(31_000);
  }
  const capped = await r.codes.send(alice);
  t.ok(!capped.ok && capped.reason === 'rate_limited' && capped.retryAfterMs > 50 * 60_000, 'capped for the rest of the hour');
  r.tick(60 * 60_000);
  t.ok((await r.codes.send(alice)).ok, 'allowed again an hour later');
});

t.test('at most maxActive codes: the oldest dies; one success kills the rest', async (t) => {
  const r = rig(t, { maxActive: 3 });
  const sent: string[] = [];
  for (let i = 0; i < 4; i++) {
    await r.codes.send(alice);
    sent.push(r.lastCode());
    r.tick(31_000);
  }
  t.same(await r.codes.verify('alice', sent[0]), { ok: false, reason: 'invalid_code' }, 'oldest retired');
  t.ok((await r.codes.verify('alice', sent[2])).ok, 'a live one works');
  t.same(await r.codes.verify('alice', sent[3]), { ok: false, reason: 'invalid_code' }, 'siblings die after a success');
  t.same(await r.codes.verify('alice', sent[1]), { ok: false, reason: 'invalid_code' });
});

t.test('admitCode table (pure)', async (t) => {
  const idx: Array<[string, number]> = [['b', 20], ['a', 10], ['x', 5]];
  t.same(admitCode(idx, ['n', 30], 3, 6), { keep: [['a', 10], ['b', 20], ['n', 30]], retire: [] }, 'expired entry dropped first');
  t.same(admitCode(idx, ['n', 30], 2, 6), { keep: [['b', 20], ['n', 30]], retire: ['a'] });
  t.same(admitCode([], ['n', 30], 1, 0), { keep: [['n', 30]], retire: [] });
});

t.test('concurrent verifies of one code: exactly one succeeds', async (t) => {
  const r = rig(t);
  await r.codes.send(alice);
  const code = r.lastCode();
  const results = await Promise.all(Array.from({ length: 10 }, () => r.codes.verify('alice', code)));
  t.equal(results.filter((x) => x.ok).length, 1);
});

t.test('no destination; SMS uses the phone and 8-digit codes', async (t) => {
  const r = rig(t);
  t.same(await r.codes.send({ id: 'alice' }), { ok: false, reason: 'no_destination' });
  t.same(await r.codes.send({ id: 'alice', email: '   ' }), { ok: false, reason: 'no_destination' });
  const sms = rig(t, { kind: 'sms', length: 8 });
  t.same(await sms.codes.send({ id: 'alice', email: 'alice@example.com' }), { ok: false, reason: 'no_destination' }, 'sms needs a phone');
  t.ok((await sms.codes.send({ id: 'alice', phone: '+15551234567' })).ok);
  const line = sms.lines()[0];
  t.equal(line.to, '+15551234567');
  t.notMatch(line.text, /\n/, 'an SMS is one line');
  const code = sms.lastCode();
  t.match(code, /^\d{8}$/);
  const v = await sms.codes.verify('alice', code);
  t.ok(v.ok && v.verified.check.kind === 'sms' && v.verified.check.amr === 'sms');
});

t.test('a failed delivery leaves no usable code and does not block a retry', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'not-a-dir'), '');
  const clock = { now: T0 };
  const shared = createMemorySharedState({ now: () => clock.now });
  t.teardown(() => shared.close());
  const broken = createOneTimeCodes({ shared, notifier: openNotifier({ kind: 'file', path: join(dir, 'not-a-dir', 'outbox.log') }), kind: 'email', ttlMs: TTL, length: 6, now: () => clock.now });
  await t.rejects(broken.send(alice));
  const outbox = join(dir, 'outbox.log');
  const working = createOneTimeCodes({ shared, notifier: openNotifier({ kind: 'file', path: outbox }), kind: 'email', ttlMs: TTL, length: 6, now: () => clock.now });
  t.ok((await working.send(alice)).ok, 'retry allowed at once');
  t.equal(readFileSync(outbox, 'utf8').trim().split('\n').length, 1);
});

t.test('bad options are refused', async (t) => {
  const shared = createMemorySharedState();
  t.teardown(() => shared.close());
  const notifier = openNotifier({ kind: 'file', path: join(t.testdir(), 'o.log') });
  const base = { shared, notifier, kind: 'email' as const, ttlMs: TTL, length: 6 };
  t.throws(() => createOneTimeCodes({ ...base, length: 5 }), /6–8/);
  t.throws(() => createOneTimeCodes({ ...base, length: 9 }), /6–8/);
  t.throws(() => createOneTimeCodes({ ...base, ttlMs: 0 }), /ttl/);
  t.throws(() => createOneTimeCodes({ ...base, maxActive: 0 }), /maxActive/);
  t.throws(() => createOneTimeCodes({ ...base, kind: 'voice' as 'sms' }), /email or sms/);
  t.equal(normalizeCodeInput('12-34 56', 6), '123456');
  t.equal(normalizeCodeInput('123456', 8), undefined);
});

t.test('resendWait: what the "we sent a code" state counts down', async (t) => {
  const r = rig(t, { resendIntervalMs: 30_000 });
  t.equal(await r.codes.resendWait('alice'), 0, 'nothing sent: no wait');
  await r.codes.send(alice);
  t.equal(await r.codes.resendWait('alice'), 30_000, 'the whole interval right after a send');
  r.tick(12_000);
  t.equal(await r.codes.resendWait('alice'), 18_000, 'counts down with the clock');
  t.equal(await r.codes.resendWait('bob'), 0, 'per user');
  await r.codes.verify('alice', r.lastCode());
  t.equal(await r.codes.resendWait('alice'), 0, 'a used code lifts the wait');
});
