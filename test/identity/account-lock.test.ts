// Never more than 100 consecutive failures on an account (NIST SP 800-63B
// §5.2.2; README "Security model"). The count lives in the durable store, so
// neither the shared-state counter's expiry nor a day's patience nor a restart
// starts an attacker afresh; at 100 the account locks until
// `gatehouse user unlock`.

import t, { type Test } from 'tap';
import { runUser } from '../../src/cli/user.ts';
import { MAX_CONSECUTIVE_FAILURES, Throttle, throttleKeys } from '../../src/identity/throttle.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';

const DAY = 86_400_000;

/** A Throttle over memory shared state and a SQLite store on one clock the test moves. */
async function throttleFixture(t: Test) {
  let now = 1_760_000_000_000;
  const clock = () => now;
  const store = openSqliteStore(':memory:');
  await store.migrate();
  t.teardown(() => store.close());
  const throttle = new Throttle(createMemorySharedState({ now: clock }), store, clock);
  return { throttle, store, advance: (ms: number) => { now += ms; } };
}

t.test('at the Throttle: 100 failures in a row lock the account, however slowly they come', async (t) => {
  const { throttle, store, advance } = await throttleFixture(t);
  const keys = throttleKeys('pwd', 'alice', '10.0.0.1');
  const counted: number[] = [];
  let refusal: unknown;
  // One attempt a day: the shared-state counter (24 h) expires between every two of them.
  for (let i = 0; i < MAX_CONSECUTIVE_FAILURES + 20 && refusal === undefined; i++) {
    advance(DAY + 1000);
    const r = await throttle.reserve(throttleKeys('pwd', 'alice', `10.0.${i % 250}.1`));
    if (r.ok) counted.push(throttle.failed(r.attempt).failures);
    else refusal = r;
  }
  t.same(counted, Array.from({ length: MAX_CONSECUTIVE_FAILURES }, (_, i) => i + 1), 'exactly 100 attempts were verified, each counted as the next failure in a row');
  t.same(refusal, { ok: false, waitMs: 3_600_000, locked: true }, 'the 101st is refused by the lock, not a wait');
  t.equal(throttle.failed({ keys, numbers: [1, 1], consecutive: 100 }).locked, true, 'the 100th failure reports the lock');
  t.equal(await throttle.locked(keys), true, 'the account reads as locked');
  advance(365 * DAY);
  const later = await throttle.reserve(keys);
  t.same(later, { ok: false, waitMs: 3_600_000, locked: true }, 'a year later it is still locked');
  t.equal(await store.failureCount('pwd:u:alice'), 100, 'refusals do not add to the count');
  t.equal(await throttle.locked(throttleKeys('mfa', 'alice', '10.0.0.1')), false, 'the second-factor count is separate');
  t.equal(await throttle.locked(throttleKeys('pwd', 'bob', '10.0.0.1')), false, 'other accounts are not locked');
});

t.test('at the Throttle: a burst at 99 verifies one attempt; release and success settle the ledger', async (t) => {
  const { throttle, store, advance } = await throttleFixture(t);
  for (let i = 0; i < 99; i++) await store.addFailure('pwd:u:carol', 0);
  advance(DAY);
  const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => throttle.reserve(throttleKeys('pwd', 'carol', `10.1.0.${i}`))));
  const admitted = burst.filter((r) => r.ok);
  t.equal(admitted.length, 1, 'of six released together at 99 failures, one is verified');
  t.ok(burst.filter((r) => !r.ok).every((r) => !r.ok && r.locked === true), 'the others are refused as locked');
  t.equal(await store.failureCount('pwd:u:carol'), 100, 'the count stops at 100');
  const a = admitted[0];
  if (a?.ok) await throttle.release(a.attempt);
  t.equal(await store.failureCount('pwd:u:carol'), 99, 'a released attempt (never verified) is taken back');

  const ok = await throttle.reserve(throttleKeys('pwd', 'carol', '10.1.1.1'));
  t.ok(ok.ok, 'the 100th attempt may be tried');
  if (ok.ok) {
    t.equal(ok.attempt.consecutive, 100);
    await throttle.succeed(ok.attempt);
  }
  t.equal(await store.failureCount('pwd:u:carol'), 0, 'a success clears the count');

  const noLedger = new Throttle(createMemorySharedState());
  const r = await noLedger.reserve(throttleKeys('pwd', 'carol', '10.1.1.1'));
  t.ok(r.ok && r.attempt.consecutive === undefined, 'a throttle without a ledger (break-glass) counts only in shared state');
});

t.test('through the gateway: locked at 100 wrong passwords, the right one refused, unlocked by the CLI', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  f.clock.hold();
  t.teardown(() => f.clock.release());
  // 98 earlier failures, as many days of patient guessing would leave them.
  const store = f.gw.services.store;
  for (let i = 0; i < 98; i++) await store.addFailure('pwd:u:alice', f.clock.now());
  f.clock.advance(DAY + 1000);

  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  const post = (password: string) => c.postForm('/.gatehouse/login', { csrf, username: 'alice', password, rd: '/' });
  const r99 = await post('guess-99');
  t.equal(r99.status, 401, 'the 99th is a plain refusal (the shared-state counter expired long ago)');
  await r99.arrayBuffer();
  const r100 = await post('guess-100');
  t.equal(r100.status, 403, 'the 100th failure locks the account, and its answer says so');
  t.match(await r100.text(), /This account is locked after too many failed attempts in a row\. Ask your administrator to unlock it\./);

  const right = await post('alice-test-pass');
  t.equal(right.status, 403, 'the right password is refused: the account is locked');
  t.notOk(right.headers.get('retry-after'), 'no Retry-After: waiting does not help');
  t.notOk(right.headers.get('set-cookie')?.includes('gatehouse_session=Fe'), 'no session is issued');
  t.match(await right.text(), /This account is locked/);
  f.clock.advance(30 * DAY);
  const d = new Client(f.url);
  const later = await d.postForm('/.gatehouse/login', { csrf: await d.csrf('/.gatehouse/login'), username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(later.status, 403, 'a month later the right password is still refused');
  t.match(await later.text(), /This account is locked/, 'as locked');
  t.equal(await store.failureCount('pwd:u:alice'), 100, 'refused attempts are not counted');
  const bob = await new Client(f.url).signIn('bob', 'bob-test-pass');
  t.equal(bob.status, 303, 'another account from the same address signs in');

  await f.gw.services.audit.flush();
  const lockouts = readAudit(f).filter((e) => e.event === 'signin.lockout' && e.user === 'alice');
  t.same(lockouts.map((e) => [e.locked, e.failures]), [[true, 100], [true, undefined], [true, undefined]],
    'the lock is audited when it starts (with the count) and at each refusal');

  // The operator lists and lifts the lock.
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } } };
  t.equal(await runUser(['locked', '--config', f.configPath], io), 0, err);
  t.match(out, /USER\s+LOCKED FOR\s+FAILURES\s+LAST FAILURE \(UTC\)\nalice\s+password\s+100\s+\d{4}-/, 'gatehouse user locked lists alice');
  out = '';
  t.equal(await runUser(['unlock', 'alice', '--by', 'ops', '--config', f.configPath], io), 0, err);
  t.match(out, /^unlocked alice \(100 failed attempts in a row cleared\); audited as seq \d+ \(by ops\)\n$/);
  t.equal(await runUser(['unlock', '--config', f.configPath], io), 2, 'unlock without a user is a usage error');
  t.equal(await runUser(['locked', 'alice', '--config', f.configPath], io), 2, 'locked takes no user');
  t.equal(await runUser(['list', '--by', 'ops', '--config', f.configPath], io), 2, '--by is only for unlock');

  const after = await new Client(f.url).signIn('alice', 'alice-test-pass');
  t.equal(after.status, 303, 'after the unlock the right password signs in at once');
  const unlocked = readAudit(f).filter((e) => e.event === 'account.unlocked');
  t.same(unlocked.map((e) => [e.user, e.by, e.failures, e.was_locked]), [['alice', 'ops', 100, true]], 'the unlock is in the audit chain');
});

/** alice with TOTP enrolled (routine MFA), `failures` second-factor failures in a row already in the store, signed in with her password. */
async function aliceAtSecondFactor(t: Test, failures: number) {
  const f = await startTestGateway({ config: { policy: { default: 'mfa' }, rollout: { grace_until: '2099-12-31' } } });
  t.teardown(() => f.close());
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  for (let i = 0; i < failures; i++) await f.gw.services.store.addFailure('mfa:u:alice', f.clock.now());
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass', '/');
  return { f, device, c };
}

t.test('through the gateway: the second factor locks at 100 in a row too', async (t) => {
  const { f, device, c } = await aliceAtSecondFactor(t, 100);
  const page = await c.fetch('/.gatehouse/challenge?method=totp&rd=%2F');
  const html = await page.text();
  t.equal(page.status, 403, 'the challenge page answers 403');
  t.match(html, /This account is locked after too many failed attempts in a row/, 'and says the account is locked');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const r = await c.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: await device.next() });
  t.equal(r.status, 403, 'the right code is refused');
  await r.arrayBuffer();
  t.equal((await c.fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } })).status, 401, 'the app stays out of reach');
});

t.test('through the gateway: "attempts left before a wait" counts the failures the waits run on, not the durable count', async (t) => {
  // Fifty failures from earlier days: the durable count has them, the shared-state counter has expired.
  const { f, device, c } = await aliceAtSecondFactor(t, 50);
  const wrong = String((Number(await device.next()) + 500_000) % 1_000_000).padStart(6, '0');
  const hints: (string | null)[] = [];
  for (let i = 0; i < 5; i++) {
    const page = await c.fetch('/.gatehouse/challenge?method=totp&rd=%2F');
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const r = await c.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: wrong });
    t.equal(r.status, 401, `wrong code ${i + 1} is refused without a wait`);
    hints.push(/(\d+ attempts? left before a wait\.)/.exec(await r.text())?.[1] ?? null);
  }
  t.same(hints, [null, '3 attempts left before a wait.', '2 attempts left before a wait.', '1 attempt left before a wait.', null],
    'the hint counts down the five attempts allowed before the waits start');
  t.equal(await f.gw.services.store.failureCount('mfa:u:alice'), 55, 'while the durable count goes on from 50');
});
