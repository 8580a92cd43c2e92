// Stashed requests (http/stash.ts, session/stash-store.ts, policy/resume-marker.ts),
// against a lenient upstream that records every byte: a resume marker replays
// only on the stash's own target and is decided as the stashed request; caps per
// session, per user and per instance (also with Redis); only same-origin
// requests are kept; the challenge page says what will be sent.

import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Client, type GatewayFixture } from '../helpers/gateway.ts';
import type { LenientUpstream } from '../helpers/lenient-upstream.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { requireRedis, REDIS_URL } from '../helpers/services.ts';
import { enrollTotpOverHttp, passStashedChallenge } from '../helpers/totp.ts';

const USERS = {
  alice: { password: 'alice-test-pass', groups: ['finance'] },
};

async function setup(t: Test, extra: Record<string, unknown> = {}, policy: Record<string, unknown> = {}): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    routes: [{ path: '/' }],
    config: {
      policy: {
        default: 'login',
        rules: [
          { id: 'static', match: { path: '/static/**' }, require: 'none' },
          { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
        ],
        ...policy,
      },
      rollout: { enforce_for: ['everyone'] },
      ...extra,
    },
  });
  return { f, up };
}

async function signedIn(f: GatewayFixture): Promise<Client> {
  const c = new Client(f.url);
  if ((await c.signIn('alice', 'alice-test-pass')).status !== 303) throw new Error('sign-in failed');
  return c;
}

/** A same-origin form POST that needs a step-up: returns the challenge Location. */
async function pay(f: GatewayFixture, c: Client, body = 'amount=100', headers: Record<string, string> = { origin: f.url }): Promise<URL> {
  const r = await c.fetch('/billing/pay?to=acme', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${f.url}/billing`, ...headers }, body });
  if (r.status !== 302) throw new Error(`expected a challenge redirect, got ${r.status}`);
  return new URL(r.headers.get('location')!, f.url);
}

t.test('a resume marker replays nothing outside the stash\'s own target, and the replay is decided as the stashed POST', async (t) => {
  const { f, up } = await setup(t);
  const c = await signedIn(f);
  const challenge = await pay(f, c);
  const stash = challenge.searchParams.get('stash');
  t.ok(stash, 'a same-origin POST is stashed');

  // A password-only session puts the marker on a page it may see: nothing is replayed.
  for (const target of [`/static/x?__gatehouse_resume=${stash}`, `/billing/pay?__gatehouse_resume=${stash}`, `/billing/pay?to=evil&__gatehouse_resume=${stash}`]) {
    const r = await c.fetch(target, { headers: { accept: 'application/json' } });
    t.not(r.status, 200, `${target}: not replayed (${r.status})`);
  }
  // On its own target, the marker is decided for the stashed POST: still no second factor, so the challenge again.
  const own = await c.fetch(`/billing/pay?to=acme&__gatehouse_resume=${stash}`);
  t.equal(own.status, 302, 'the stash\'s own target: decided as POST /billing/pay');
  t.match(own.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2Fbilling%2Fpay%3Fto%3Dacme&rule=billing&stash=/, 'back to the check (alice has no factor yet: enroll), the stash kept');
  t.notOk(up.bytes().includes('/billing/pay'), 'the upstream never saw the stashed POST');
  t.notOk(up.bytes().includes('amount=100'), 'nor its body');

  const page = await (await c.fetch(own.headers.get('location')!)).text();
  t.match(page, /your POST to \/billing\/pay is sent\./, 'the page says what will be completed');
});

t.test('only same-origin requests are kept', async (t) => {
  const { f, up } = await setup(t);
  const c = await signedIn(f);
  const cases: Array<[Record<string, string>, boolean, string]> = [
    [{ origin: f.url }, true, 'Origin = public origin'],
    [{ 'sec-fetch-site': 'same-origin' }, true, 'Sec-Fetch-Site: same-origin'],
    [{ 'sec-fetch-site': 'none' }, true, 'Sec-Fetch-Site: none'],
    [{ 'sec-fetch-site': 'same-site', origin: 'http://localhost:1' }, false, 'same-site: another port'],
    [{ origin: 'http://app.localhost' }, false, 'Origin: a subdomain'],
    [{ 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' }, false, 'cross-site'],
    [{}, false, 'neither header'],
  ];
  for (const [headers, kept, what] of cases) {
    const loc = await pay(f, c, 'amount=1', headers);
    t.match(loc.pathname, /^\/\.gatehouse\/(challenge|enroll)$/, `${what}: challenged`);
    t.equal(loc.searchParams.get('stash') !== null, kept, `${what}: ${kept ? 'kept' : 'not kept'}`);
    if (!kept) t.equal(loc.searchParams.get('rd'), '/billing', `${what}: back to the form page afterwards`);
  }
  t.equal(up.bytes(), '', 'nothing reached the upstream');
});

async function capsPerSessionAndUser(t: Test, extra: Record<string, unknown>): Promise<void> {
  const { f, up } = await setup(t, extra);
  const sessions = [await signedIn(f), await signedIn(f), await signedIn(f), await signedIn(f)];
  const kept = async (c: Client) => (await pay(f, c)).searchParams.get('stash') !== null;
  for (let i = 0; i < 3; i++) t.ok(await kept(sessions[0]), `session 1, stash ${i + 1}: kept`);
  const fourth = await pay(f, sessions[0]);
  t.equal(fourth.searchParams.get('stash'), null, 'a 4th waiting stash in one session is not kept');
  t.equal(fourth.searchParams.get('resubmit'), '1', 'the user is asked to submit again after the check');
  for (let i = 0; i < 3; i++) t.ok(await kept(sessions[1]), `session 2, stash ${i + 1}: kept`);
  for (let i = 0; i < 3; i++) t.ok(await kept(sessions[2]), `session 3, stash ${i + 1}: kept`);
  t.ok(await kept(sessions[3]), 'the 10th for the user: kept');
  t.notOk(await kept(sessions[3]), 'the 11th for the user: not kept');
  t.equal(up.bytes(), '', 'nothing reached the upstream');
}

t.test('caps: 3 per session, 10 per user (memory shared state)', async (t) => {
  await capsPerSessionAndUser(t, {});
});

t.test('caps: the same limits with Redis shared state', async (t) => {
  if (!(await requireRedis(t))) {
    t.plan(0, 'Redis not reachable (reason printed above)');
    return;
  }
  await capsPerSessionAndUser(t, { shared_state: { kind: 'redis', url: REDIS_URL, prefix: `gh-test-${randomBytes(6).toString('hex')}:` } });
});

t.test('caps: a byte budget per instance (policy.stash_total_max)', async (t) => {
  const { f, up } = await setup(t, {}, { stash_max_body: '8KiB', stash_total_max: '10KiB' });
  const c = await signedIn(f);
  const first = await pay(f, c, `amount=${'1'.repeat(6000)}`);
  t.ok(first.searchParams.get('stash'), 'the first 6 KB are kept');
  const second = await pay(f, c, `amount=${'2'.repeat(6000)}`);
  t.equal(second.searchParams.get('stash'), null, 'past the budget nothing is kept');
  t.equal(second.searchParams.get('resubmit'), '1');
  const small = await pay(f, c, 'amount=3');
  t.ok(small.searchParams.get('stash'), 'a small one still fits');
  t.equal(f.gw.services.stashes.bytesHeld() <= 10 * 1024, true, `held ${f.gw.services.stashes.bytesHeld()} bytes`);
  t.equal(up.bytes(), '', 'nothing reached the upstream');
});

t.test('a replay is decided for the method its form claims (_method), not only the POST', async (t) => {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    routes: [{ path: '/' }],
    config: {
      policy: {
        default: 'login',
        rules: [
          { id: 'delete-items', match: { path: '/items/**', methods: ['DELETE'] }, require: 'mfa', factors: ['webauthn'] },
          { id: 'write-items', match: { path: '/items/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
        ],
      },
    },
  });
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  const c = await signedIn(f);
  const r = await c.fetch('/items/1', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: f.url, referer: `${f.url}/items` }, body: '_method=DELETE&confirm=1' });
  t.equal(r.status, 302);
  const challenge = new URL(r.headers.get('location')!, f.url);
  const stash = challenge.searchParams.get('stash')!;
  t.ok(stash, 'the POST is kept');
  // TOTP satisfies the POST rule; the DELETE the form claims needs a passkey.
  const passed = await passStashedChallenge(c, challenge, device);
  t.equal(passed.status, 303, 'the TOTP check passes');
  const resume = passed.headers.get('location')!;
  t.match(resume, /^\/items\/1\?__gatehouse_resume=/);
  const replay = await c.fetch(resume);
  t.equal(replay.status, 302, 'the replay is judged as DELETE too: another check, not the upstream');
  t.match(replay.headers.get('location'), /rule=delete-items/);
  t.notOk(up.bytes().includes('_method=DELETE'), 'the app that honours _method never got the form');
});

/** A params rule (route=/export in the query or body) behind a step-up; alice enrolled and signed in, her factor stale. */
async function exportStepUp(t: Test) {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    // method_override pass: the body is read for the params rule alone.
    routes: [{ path: '/', method_override: 'pass' }],
    config: {
      policy: { default: 'login', rules: [{ id: 'db-export', match: { path: '/index.php', params: { route: '/export' } }, require: 'mfa', max_age: '5m' }] },
    },
  });
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  f.clock.advance(10 * 60_000);
  return { f, up, device, c: await signedIn(f) };
}

t.test('a POST whose action is only in its body (params rule) is kept, replayed after the step-up, and reaches the app once, byte for byte', async (t) => {
  const { f, up, device, c } = await exportStepUp(t);
  const body = 'route=%2Fexport&db=shop&what=sql&note=caf%C3%A9+%2B';
  const r = await c.fetch('/index.php', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: f.url, referer: `${f.url}/index.php?route=/server/export` }, body });
  t.equal(r.status, 302, 'challenged');
  const challenge = new URL(r.headers.get('location')!, f.url);
  t.equal(challenge.searchParams.get('rule'), 'db-export', 'by the params rule: route=/export was only in the body');
  const stash = challenge.searchParams.get('stash')!;
  t.ok(stash, 'the POST is kept');
  t.equal(up.requests.length, 0, 'nothing reached the app');
  const passed = await passStashedChallenge(c, challenge, device);
  t.equal(passed.status, 303);
  const replay = await c.fetch(passed.headers.get('location')!);
  t.equal(replay.status, 200, 'the replay is decided on the kept body: allowed now');
  t.equal(up.requests.length, 1, 'the app got the POST once');
  t.match(up.requests[0], { method: 'POST', target: '/index.php', body });
});

t.test('a compressed body is kept with its Content-Encoding: decided unread before and after the step-up, replayed byte for byte', async (t) => {
  const { f, up, device, c } = await exportStepUp(t);
  const body = gzipSync('route=%2Fexport&db=shop');
  const r = await c.fetch('/index.php', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip', origin: f.url, referer: `${f.url}/index.php` }, body });
  t.equal(r.status, 302, 'an encoded body is decided unread: the params rule is in doubt and challenges');
  const challenge = new URL(r.headers.get('location')!, f.url);
  t.ok(challenge.searchParams.get('stash'), 'the POST is kept');
  const passed = await passStashedChallenge(c, challenge, device);
  t.equal(passed.status, 303);
  const replay = await c.fetch(passed.headers.get('location')!);
  t.equal(replay.status, 200, 'after the step-up the doubt is satisfied');
  t.equal(up.requests.length, 1, 'the app got the POST once');
  t.equal(up.requests[0].header('content-encoding'), 'gzip', 'with its Content-Encoding');
  t.equal(gunzipSync(Buffer.from(up.requests[0].body, 'latin1')).toString(), 'route=%2Fexport&db=shop', 'and the exact compressed bytes');
});
