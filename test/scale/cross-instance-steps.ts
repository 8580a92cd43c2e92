// The guarantees several gateway processes must keep together (README "Several
// instances"), checked by doing each step on one process and the next on the
// other: a TOTP code is good once across both, an enrollment or a step-up
// started on one finishes on the other, a stashed request replays exactly once,
// a logout is honoured everywhere at once, and brute-force counters add up. Run
// against two instances sharing PostgreSQL and Redis (two-instances.test.ts)
// and against one instance with two workers and the embedded defaults
// (two-workers.test.ts); the two targets are named 'a' and 'b'.

import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import type { Browser } from './instances.ts';

export interface CrossInstanceContext {
  /** A new browser (its own cookie jar) that sends each request to the target named. */
  browser(): Browser;
  publicUrl: string;
  /** What the upstream (the demo portal) recorded. */
  portal: { state: { payments: Array<{ by?: string }> } };
}

/** The TOTP code for the time step `step` (unix seconds / 30). */
function totpAt(secret: string, step: number): string {
  const when = new Date(step * 30_000 + 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return execFileSync('oathtool', ['--totp', '-b', '--now', when, secret.replace(/\s+/g, '')]).toString().trim();
}
const currentStep = () => Math.floor(Date.now() / 30_000);
const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

export const POLICY = {
  default: 'login',
  rules: [
    // A step-up rule any second factor satisfies (so a recovery code can pass it).
    { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
  ],
};

export async function crossInstanceSteps(t: Test, { browser, publicUrl, portal }: CrossInstanceContext): Promise<void> {
  let secret = '';
  let recoveryCodes: string[] = [];
  let enrolledStep = 0;

  await t.test('TOTP enrollment started on A finishes on B', async (t) => {
    const b = browser();
    t.equal((await b.signIn('a', 'alice', 'alice-test-pass', '/echo')).status, 303, 'signed in on A');
    const page = await b.get('a', '/.gatehouse/enroll?rd=%2Fecho&method=totp');
    t.equal(page.status, 200);
    const html = await page.text();
    secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1] ?? '';
    t.ok(secret, 'A shows the secret');
    enrolledStep = currentStep();
    const r = await b.post('b', '/.gatehouse/enroll', { csrf: csrfIn(html), rd: '/echo', action: 'totp', code: totpAt(secret, enrolledStep) });
    t.equal(r.status, 303, 'B accepts the code for the enrollment A began');
    const rec = await (await b.get('b', r.headers.get('location')!)).text();
    recoveryCodes = [...rec.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
    t.equal(recoveryCodes.length, 10, 'recovery codes from the shared store');
    const echo = await b.get('a', '/echo', { accept: 'application/json' });
    t.equal(echo.status, 200);
    t.match(((await echo.json()) as { headers: Record<string, string> }).headers['x-gatehouse-auth-methods'], /otp/, 'A sees the factor passed on B');
  });

  await t.test('a TOTP code used on A is refused on B', async (t) => {
    const code = totpAt(secret, enrolledStep + 1);
    const first = browser();
    await first.signIn('a', 'alice', 'alice-test-pass', '/echo');
    const html = await (await first.get('a', '/.gatehouse/challenge?rd=%2Fecho&method=totp')).text();
    const ok = await first.post('a', '/.gatehouse/challenge', { csrf: csrfIn(html), rd: '/echo', method: 'totp', code });
    t.equal(ok.status, 303, 'accepted on A');
    const second = browser();
    await second.signIn('b', 'alice', 'alice-test-pass', '/echo');
    const html2 = await (await second.get('b', '/.gatehouse/challenge?rd=%2Fecho&method=totp')).text();
    const replay = await second.post('b', '/.gatehouse/challenge', { csrf: csrfIn(html2), rd: '/echo', method: 'totp', code });
    t.equal(replay.status, 401, 'the same code is refused on B');
    t.match(await replay.text(), /already used/);
  });

  await t.test('a stashed POST (step-up on A, challenge on B) is replayed exactly once', async (t) => {
    const before = portal.state.payments.length;
    const b = browser();
    await b.signIn('a', 'alice', 'alice-test-pass', '/billing');
    const post = await b.post('a', '/billing/pay', { amount: '42.00', payee: 'Scale Test' }, { referer: `${publicUrl}/billing` });
    t.equal(post.status, 302, 'step-up on A');
    const challenge = post.headers.get('location')!;
    t.match(challenge, /^\/\.gatehouse\/challenge\?rd=%2Fbilling%2Fpay&rule=billing&stash=[\w-]+$/);
    t.equal(portal.state.payments.length, before, 'nothing paid yet');
    const html = await (await b.get('b', `${challenge}&method=recovery`)).text();
    const stash = new URL(challenge, publicUrl).searchParams.get('stash')!;
    const passed = await b.post('b', '/.gatehouse/challenge', { csrf: csrfIn(html), rd: '/billing/pay', rule: 'billing', stash, method: 'recovery', code: recoveryCodes[0] });
    t.equal(passed.status, 303, 'recovery code accepted on B');
    const resume = passed.headers.get('location')!;
    t.match(resume, /^\/billing\/pay\?__gatehouse_resume=/);
    const replayed = await b.get('b', resume);
    t.equal(replayed.status, 200, 'B replays the request A stashed');
    t.match(await replayed.text(), /42\.00/);
    t.equal(portal.state.payments.length, before + 1, 'one payment');
    t.equal(portal.state.payments.at(-1)?.by, 'alice');
    for (const name of ['b', 'a']) {
      const again = await b.get(name, resume);
      t.equal(again.status, 302, `the resume link again on ${name.toUpperCase()} replays nothing`);
    }
    t.equal(portal.state.payments.length, before + 1, 'still one payment');
  });

  await t.test('a logout on A is refused on B at once (B had the session cached)', async (t) => {
    const b = browser();
    await b.signIn('a', 'alice', 'alice-test-pass', '/echo');
    t.equal((await b.get('b', '/echo')).status, 200, 'B serves the session (now cached there)');
    const cookie = b.cookieHeader();
    const html = await (await b.get('a', '/.gatehouse/logout')).text();
    t.equal((await b.post('a', '/.gatehouse/logout', { csrf: csrfIn(html) })).status, 200, 'signed out on A');
    const after = await b.get('b', '/echo', { cookie });
    t.equal(after.status, 302, 'B refuses the old cookie on the very next request');
    t.equal(after.headers.get('location'), '/.gatehouse/login?rd=%2Fecho', 'and sends the browser to sign in');
  });

  await t.test('brute-force counters add up across instances', async (t) => {
    const b = browser();
    const csrf = await b.csrf('a', '/.gatehouse/login');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await b.post(i % 2 === 0 ? 'a' : 'b', '/.gatehouse/login', { csrf, username: 'bob', password: `wrong-${i}`, rd: '/' });
      statuses.push(r.status);
    }
    t.same(statuses, [401, 401, 401, 401, 401, 429], 'five free failures in total, the sixth (on B) locks: 3 on A + 3 on B');
    const right = await b.post('a', '/.gatehouse/login', { csrf, username: 'bob', password: 'bob-test-pass', rd: '/' });
    t.equal(right.status, 429, 'even the right password waits, on A');
    t.match(right.headers.get('retry-after'), /^\d+$/);
  });
}
