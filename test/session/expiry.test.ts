// Absolute max_age and idle_timeout through a real gateway, with short values
// (max_age 5s, idle_timeout 2s): a session left alone dies after the idle
// timeout; a session in use stays alive (the gateway re-seals `seen` now and
// then on proxied requests) but dies at max_age however busy it is. Time passes
// on the gateway's clock (f.clock), which the test moves forward.

import t, { type Test } from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';

const MAX_AGE_MS = 5000;
const IDLE_MS = 2000;
const MARGIN_MS = 500; // past the boundary, not on it
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function start(t: Test): Promise<GatewayFixture> {
  const f = await startTestGateway({ config: { session: { max_age: '5s', idle_timeout: '2s' } } });
  t.teardown(() => f.close());
  // Only the test's advances move the gateway's clock: real time spent on a
  // loaded machine must not eat into the 2 s idle window.
  f.clock.hold();
  t.teardown(() => f.clock.release());
  return f;
}

async function status(c: Client, path = '/echo'): Promise<number> {
  const r = await c.fetch(path, { headers: API });
  await r.arrayBuffer();
  return r.status;
}

async function signIn(f: GatewayFixture, c: Client): Promise<number> {
  const r = await c.signIn('alice', 'alice-test-pass');
  if (r.status !== 303) throw new Error(`sign-in failed: ${r.status}`);
  return f.clock.now();
}

t.test('an idle session expires after idle_timeout', async (t) => {
  const f = await start(t);
  const c = new Client(f.url);
  await signIn(f, c);
  t.equal(await status(c), 200, 'signed in');
  f.clock.advance(IDLE_MS + MARGIN_MS);
  t.equal(await status(c), 401, 'anonymous after idle_timeout without activity');
  const nav = await c.fetch('/echo');
  t.equal(nav.status, 302, 'a navigation goes to the login page');
  t.match(nav.headers.get('location'), /^\/\.gatehouse\/login/);
});

t.test('activity refreshes the idle timer, the absolute max_age still ends the session', async (t) => {
  const f = await start(t);
  const name = f.gw.services.sessions.cookieName;
  const c = new Client(f.url);
  const t0 = await signIn(f, c);
  const first = c.cookies.get(name);
  const seen: { at: number; status: number }[] = [];
  // One request every 300 ms (well inside the idle window) until past max_age.
  while (f.clock.now() - t0 < MAX_AGE_MS + 2 * MARGIN_MS) {
    f.clock.advance(300);
    seen.push({ at: f.clock.now() - t0, status: await status(c) });
  }
  const early = seen.filter((s) => s.at < MAX_AGE_MS - MARGIN_MS);
  const late = seen.filter((s) => s.at > MAX_AGE_MS + MARGIN_MS);
  t.ok(early.some((s) => s.at > 2 * IDLE_MS), 'the served run spans more than two idle windows');
  t.same(early.filter((s) => s.status !== 200), [], 'every request before max_age is served (idle timer refreshed by activity)');
  t.not(c.cookies.get(name), first, 'the gateway re-sealed the cookie along the way');
  t.ok(late.length > 0 && late.every((s) => s.status === 401), 'after max_age the session is anonymous despite activity');
});

t.test('a refreshed session that then goes idle expires', async (t) => {
  const f = await start(t);
  const c = new Client(f.url);
  await signIn(f, c);
  for (let i = 0; i < 5; i++) {
    f.clock.advance(700);
    t.equal(await status(c), 200, `active at about ${(i + 1) * 700} ms`);
  }
  f.clock.advance(IDLE_MS + MARGIN_MS);
  t.equal(await status(c), 401, 'idle again: anonymous');
});

t.test('a client ignoring Set-Cookie for two minutes: the session slides server-side, at most one sealed cookie per slide interval', async (t) => {
  // idle_timeout 1m: the slide interval is a quarter of it, 15 s; two minutes is two idle windows.
  const f = await startTestGateway({ config: { session: { max_age: '1h', idle_timeout: '1m' } } });
  t.teardown(() => f.close());
  f.clock.hold(); // every loop step is exactly 2 s on the gateway's clock, so two minutes are 60 requests however slow each is
  t.teardown(() => f.clock.release());
  const name = f.gw.services.sessions.cookieName;
  const c = new Client(f.url);
  const t0 = await signIn(f, c);
  const frozen = c.cookieHeader(); // the client never stores another cookie
  const INTERVAL_MS = 15_000;
  const statuses: number[] = [];
  let sealed = 0;
  while (f.clock.now() - t0 < 120_000) {
    f.clock.advance(2_000);
    const r = await c.fetch('/echo', { headers: { ...API, cookie: frozen } });
    await r.arrayBuffer();
    statuses.push(r.status);
    sealed += r.headers.getSetCookie().filter((sc) => sc.startsWith(`${name}=`)).length;
  }
  t.ok(statuses.length >= 60, `${statuses.length} requests over two minutes`);
  t.same(statuses.filter((s) => s !== 200), [], 'every request is served with the first cookie (the idle deadline slid server-side)');
  t.ok(sealed >= 1, `the gateway offered a fresh cookie (${sealed})`);
  t.ok(sealed <= Math.ceil(120_000 / INTERVAL_MS), `at most one sealed cookie per ${INTERVAL_MS / 1000} s interval: ${sealed} in two minutes`);
  f.clock.advance(60_000 + MARGIN_MS);
  t.equal(await status(new Client(f.url), '/echo'), 401, 'sanity: an anonymous client is refused');
  const idle = await c.fetch('/echo', { headers: { ...API, cookie: frozen } });
  await idle.arrayBuffer();
  t.equal(idle.status, 401, 'left idle past idle_timeout, the same cookie is refused');
});
