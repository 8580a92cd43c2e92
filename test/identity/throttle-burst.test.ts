// Throttling is reserve-then-verify, never check-then-count (README "Security
// model"). Attempts released together in one burst are verified at most as
// often as one client trying in turn could before its first wait: with memory
// shared state and with Redis, at the Throttle and through the gateway's pages
// (passwords and TOTP codes, the right answer hidden last in the burst).

import t, { type Test } from 'tap';
import { Throttle, burstAllowance, throttleKeys } from '../../src/identity/throttle.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { createRedisSharedState } from '../../src/store/redis-shared-state.ts';
import type { SharedState } from '../../src/store/shared-state.ts';
import { Client, readAudit, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { REDIS_URL, requireRedis } from '../helpers/services.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';
import { dropRedisPrefix, randomPrefix } from '../scale/instances.ts';

const BURST = 60;
const ACCOUNT = throttleKeys('pwd', 'alice', '10.0.0.1')[0];
const ALLOWANCE = burstAllowance(ACCOUNT);

/**
 * What one client trying in turn could verify in `ms` of real time: the burst
 * allowance, then one more after each wait (1 s, 2 s, 4 s …) that has run out.
 * Redis expires its locks on its own clock, so a burst that outlasts the first
 * wait on a loaded machine is allowed the attempts that wait let through.
 */
function allowanceWithin(ms: number): number {
  return ALLOWANCE + Math.floor(Math.log2(ms / 1000 + 1));
}

async function throttleBurst(t: Test, shared: SharedState): Promise<void> {
  const throttle = new Throttle(shared);
  const keys = throttleKeys('pwd', 'alice', '10.0.0.1');
  const results = await Promise.all(Array.from({ length: BURST }, () => throttle.reserve(keys)));
  const admitted = results.filter((r) => r.ok);
  t.equal(admitted.length, ALLOWANCE, `${ALLOWANCE} of ${BURST} attempts released together are admitted`);
  const refused = results.filter((r) => !r.ok);
  t.ok(refused.every((r) => r.waitMs > 0), 'the others are told how long to wait');
  t.same(admitted.map((r) => r.ok && r.attempt.numbers[0]).sort((a, b) => Number(a) - Number(b)), Array.from({ length: ALLOWANCE }, (_, i) => i + 1), 'each admitted attempt has its own number');
  const last = admitted.map((r) => r.ok ? throttle.failed(r.attempt) : undefined);
  t.ok(last.some((f) => f && f.waitMs === 1000 && f.failures === ALLOWANCE), 'the last one admitted earned the first wait');
  t.ok((await throttle.waiting(keys)) > 0, 'the account waits');

  // A success clears the account; the address keeps only its real failures.
  const other = throttleKeys('pwd', 'bob', '10.0.0.1');
  const r = await throttle.reserve(other);
  t.ok(r.ok, 'another account from the same address may still try');
  if (r.ok) await throttle.succeed(r.attempt);
  t.equal(await shared.get('fail:pwd:u:bob'), null, 'the success cleared bob\'s counter');
  t.equal(await shared.get('fail:pwd:ip:10.0.0.1'), String(ALLOWANCE), 'the address counts alice\'s failures, not bob\'s success');

  // Released (not an attempt after all): the count and the lock it set go.
  const keysC = throttleKeys('pwd', 'carol', '10.0.0.2');
  const before = await Promise.all(Array.from({ length: ALLOWANCE - 1 }, () => throttle.reserve(keysC)));
  const lockTaker = await throttle.reserve(keysC);
  t.ok(lockTaker.ok && (await throttle.waiting(keysC)) > 0, 'the attempt that would earn a wait locks before it is verified');
  if (lockTaker.ok) await throttle.release(lockTaker.attempt);
  t.equal(await throttle.waiting(keysC), 0, 'releasing it lifts the lock it set');
  t.equal(await shared.get('fail:pwd:u:carol'), String(before.length), 'and withdraws its count');
}

t.test('Throttle with memory shared state', async (t) => {
  const shared = createMemorySharedState();
  t.teardown(() => shared.close());
  await throttleBurst(t, shared);
});

t.test('Throttle with Redis shared state', async (t) => {
  if (!(await requireRedis(t))) return; // requireRedis said why, loudly (and fails under CI)
  const prefix = randomPrefix();
  const shared = createRedisSharedState(REDIS_URL, prefix);
  t.teardown(async () => { await shared.close(); await dropRedisPrefix(REDIS_URL, prefix); });
  await throttleBurst(t, shared);
  // The Lua schedule matches the TypeScript one (attemptWait): reserve one past the hard lock.
  const throttle = new Throttle(shared);
  const keys = [{ key: 'lua-check', free: 2 }];
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await throttle.reserve(keys);
    if (!r.ok) { waits.push(-1); continue; }
    waits.push(Math.ceil((await throttle.waiting(keys)) / 1000));
    await shared.delete('lock:lua-check');
  }
  t.same(waits, [0, 0, 1, 2, 4, 8], 'free attempts, then 1 s, 2 s, 4 s, 8 s');
});

async function signInBurst(t: Test, f: GatewayFixture): Promise<void> {
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  f.clock.hold(); // the first wait lasts 1 s of the gateway's clock, however long the burst takes here
  t.teardown(() => f.clock.release());
  const post = (password: string) => c.postForm('/.gatehouse/login', { csrf, username: 'alice', password, rd: '/' });
  const started = performance.now();
  const answers = await Promise.all([...Array.from({ length: BURST - 1 }, (_, i) => post(`guess-${i}`)), post('alice-test-pass')]);
  const allowance = allowanceWithin(performance.now() - started);
  await f.gw.services.audit.flush();
  const verified = readAudit(f).filter((e) => e.user === 'alice' && (e.event === 'signin.success' || (e.event === 'signin.failure' && e.reason === 'invalid credentials')));
  t.ok(verified.length <= allowance, `${verified.length} of ${BURST} sign-ins were verified (at most ${allowance})`);
  t.ok(verified.length >= 1, 'some were verified');
  const statuses = answers.map((r) => r.status);
  t.equal(statuses.filter((s) => s === 429).length >= BURST - allowance, true, 'the rest were told to wait');
  if (statuses[BURST - 1] === 303) t.ok(verified.some((e) => e.event === 'signin.success'), 'the right password passed only as one of the few verified');
}

t.test('a burst of sign-ins through the gateway (memory)', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  await signInBurst(t, f);
});

async function totpBurst(t: Test, f: GatewayFixture): Promise<void> {
  const device = await enrollTotpOverHttp(f, 'bob', 'bob-test-pass');
  const c = new Client(f.url);
  t.equal((await c.signIn('bob', 'bob-test-pass', '/')).status, 303);
  const page = await (await c.fetch('/.gatehouse/challenge?rd=%2F&method=totp')).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  const right = await device.next();
  const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
  const post = (code: string) => c.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code });
  f.clock.hold(); // as for sign-ins: the burst must not outlast the first 1 s wait on a loaded machine
  t.teardown(() => f.clock.release());
  const started = performance.now();
  const answers = await Promise.all([...Array.from({ length: BURST - 1 }, (_, i) => post(wrong(i))), post(right)]);
  const allowance = allowanceWithin(performance.now() - started);
  await f.gw.services.audit.flush();
  const audit = readAudit(f);
  const verified = audit.filter((e) => e.user === 'bob' && (e.event === 'factor.failure' || (e.event === 'factor.used' && e.factor === 'totp')));
  // One factor.used is the enrollment itself.
  const inBurst = verified.length - 1;
  t.ok(inBurst <= allowance, `${inBurst} of ${BURST} codes were verified (at most ${allowance})`);
  t.ok(inBurst >= 1, 'some were verified');
  if (answers[BURST - 1].status === 303) t.comment('the right code was among the few admitted');
  t.ok(answers.filter((r) => r.status === 429).length >= BURST - allowance, 'the rest were told to wait');
}

t.test('a burst of TOTP codes through the gateway (memory)', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  await totpBurst(t, f);
});

t.test('a burst of wrong enrollment confirmation codes (memory)', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('bob', 'bob-test-pass', '/');
  const setup = await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(setup)![1];
  f.clock.hold(); // the waits run on the gateway's clock, not on how long a loaded machine takes
  t.teardown(() => f.clock.release());
  const answers = await Promise.all(Array.from({ length: BURST }, (_, i) =>
    c.postForm('/.gatehouse/enroll', { csrf, rd: '/', action: 'totp', code: String(100000 + i) })));
  const checked = answers.filter((r) => r.status === 400).length;
  t.ok(checked <= ALLOWANCE && checked >= 1, `${checked} of ${BURST} confirmation codes were checked (at most ${ALLOWANCE})`);
  t.equal(answers.filter((r) => r.status === 429).length, BURST - checked, 'the others were told to wait');
});

async function redisGateway(t: Test): Promise<GatewayFixture | undefined> {
  if (!(await requireRedis(t))) return undefined; // requireRedis said why, loudly (and fails under CI)
  const prefix = randomPrefix();
  const f = await startTestGateway({ config: { shared_state: { kind: 'redis', url: REDIS_URL, prefix } } });
  t.teardown(async () => { await f.close(); await dropRedisPrefix(REDIS_URL, prefix); });
  return f;
}

t.test('a burst of sign-ins through the gateway (Redis)', async (t) => {
  const f = await redisGateway(t);
  if (f) await signInBurst(t, f);
});

t.test('a burst of TOTP codes through the gateway (Redis)', async (t) => {
  const f = await redisGateway(t);
  if (f) await totpBurst(t, f);
});
