// Brute force (README "Security model"): a burst of wrong passwords locks the
// account for a while; during the wait even the right password is refused with
// a visible wait time (429, "Try again in N seconds", Retry-After); the audit
// log records the failures and the lockout. When the wait is over the right
// password works, and the success clears the account's counter.

import t from 'tap';
import { startTestGateway, Client, readAudit } from '../helpers/gateway.ts';

const BURST = 25;

t.test('25 wrong passwords, then the right one: refused with a wait', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  f.clock.hold(); // the waits run on the gateway's clock, not on how long a loaded machine takes
  t.teardown(() => f.clock.release());
  const statuses: number[] = [];
  for (let i = 0; i < BURST; i++) {
    const r = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: `guess-${i}`, rd: '/' });
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401], 'the first five failures are plain refusals');
  t.ok(statuses.slice(5).every((s) => s === 429), 'from the sixth on the account is waiting');

  const right = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(right.status, 429, 'the right password is refused during the wait');
  const retryAfter = Number(right.headers.get('retry-after'));
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is a whole number of seconds (${retryAfter})`);
  const page = await right.text();
  const m = /Try again in <span[^>]*>(\d+) seconds?<\/span>/.exec(page);
  t.ok(m, 'the page says how long to wait');
  t.equal(Number(m?.[1]), retryAfter, 'the page and Retry-After agree');
  t.notOk(right.headers.get('set-cookie'), 'no session is issued');
  t.equal((await c.fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } })).status, 401, 'still signed out');

  // Another user from the same address is not locked out by alice's counter (the per-IP allowance is larger).
  const bob = await new Client(f.url).signIn('bob', 'bob-test-pass');
  t.equal(bob.status, 303, 'bob still signs in from the same address');

  await f.gw.services.audit.flush();
  const audit = readAudit(f);
  const failures = audit.filter((e) => e.event === 'signin.failure' && e.user === 'alice');
  const lockouts = audit.filter((e) => e.event === 'signin.lockout' && e.user === 'alice');
  t.ok(failures.length >= 6, `failures are audited (${failures.length})`);
  const started = lockouts.filter((e) => e.failures !== undefined);
  t.equal(started.length, 1, 'one lockout began (it carries the failure count)');
  t.equal(started[0]?.failures, 6, 'at the sixth consecutive failure');
  t.equal(lockouts.length - started.length, BURST - 6 + 1, 'every attempt refused while locked is audited as blocked');
  t.ok(lockouts.every((e) => typeof e.until === 'string' && !Number.isNaN(Date.parse(e.until as string))), 'each lockout says until when');
  t.ok(audit.every((e) => !JSON.stringify(e).includes('guess-') && !JSON.stringify(e).includes('alice-test-pass')), 'no password reaches the audit log');

  // After the wait (on the gateway's clock) the right password works and resets the counter.
  f.clock.advance(retryAfter * 1000 + 200);
  const after = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(after.status, 303, 'after the wait the right password signs in');
  const next = new Client(f.url);
  const csrf2 = await next.csrf('/.gatehouse/login');
  const one = await next.postForm('/.gatehouse/login', { csrf: csrf2, username: 'alice', password: 'wrong', rd: '/' });
  t.equal(one.status, 401, 'a single failure after a success is a plain refusal again (counter reset)');
});

t.test('a locked account answers API-style clients with 429 too, and the username case does not dodge it', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login');
  for (let i = 0; i < 6; i++) {
    const r = await c.postForm('/.gatehouse/login', { csrf, username: i % 2 ? 'ALICE' : 'alice', password: 'nope', rd: '/' });
    await r.arrayBuffer();
  }
  const r = await c.postForm('/.gatehouse/login', { csrf, username: ' Alice ', password: 'alice-test-pass', rd: '/' });
  t.equal(r.status, 429, 'a different spelling of the same user is locked too');
  t.ok(r.headers.get('retry-after'));
});
