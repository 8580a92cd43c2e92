// A session cookie is authentic or worthless: any change to the sealed value,
// a truncated one, or one sealed with another secret reads as no session at
// all (navigation → 302 to the login page; API client → 401 JSON). The control
// case proves the forged content itself would be accepted if sealed right.

import t from 'tap';
import { sealData } from 'iron-session';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { randomId, type SessionData } from '../../src/session/session-data.ts';

const TEST_SECRET = 'test-session-secret-0123456789-abcdefghijklmnop'; // the helper's config

async function asNavigation(f: GatewayFixture, cookie: string): Promise<Response> {
  const c = new Client(f.url);
  return c.fetch('/echo', { headers: { cookie } });
}

async function asApi(f: GatewayFixture, cookie: string): Promise<Response> {
  const c = new Client(f.url);
  return c.fetch('/echo', { headers: { cookie, accept: 'application/json', 'sec-fetch-mode': 'cors' } });
}

/** Flips one character of the sealed value to another of the same alphabet. */
function flipAt(value: string, i: number): string {
  const c = value[i];
  const swap = c === 'A' ? 'B' : 'A';
  return value.slice(0, i) + swap + value.slice(i + 1);
}

t.test('tampered, truncated and foreign cookies are anonymous', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const name = f.gw.services.sessions.cookieName;
  const c = new Client(f.url);
  t.equal((await c.signIn('alice', 'alice-test-pass')).status, 303);
  const good = c.cookies.get(name)!;
  t.ok(good, 'signed in with a sealed cookie');
  t.equal((await asApi(f, `${name}=${good}`)).status, 200, 'the genuine cookie works');

  const now = Date.now();
  const forged: SessionData = { v: 1, sid: randomId(), user: 'alice', created: now, seen: now, pwd_at: now, amr: ['pwd'], factors: [], enrolled: [], csrf: randomId() };
  const rightSecret = await sealData(forged, { password: TEST_SECRET, ttl: 3600 });
  const otherSecret = await sealData(forged, { password: 'another-secret-of-sufficient-length-0123456789', ttl: 3600 });
  t.equal((await asApi(f, `${name}=${rightSecret}`)).status, 200, 'control: this content sealed with the gateway secret is accepted');

  const variants: Record<string, string> = {
    'one character flipped early (seal header)': flipAt(good, 10),
    'one character flipped in the middle (ciphertext)': flipAt(good, Math.floor(good.length / 2)),
    'one character flipped at the end (MAC)': flipAt(good, good.length - 2),
    'truncated by one character': good.slice(0, -1),
    'truncated to half': good.slice(0, Math.floor(good.length / 2)),
    'extra characters appended': `${good}AAAA`,
    'sealed with another secret': otherSecret,
    'empty': '',
    'not a seal at all': 'alice',
    'oversized': 'A'.repeat(5000),
  };
  for (const [label, value] of Object.entries(variants)) {
    const nav = await asNavigation(f, `${name}=${value}`);
    t.equal(nav.status, 302, `${label}: navigation is redirected`);
    t.match(nav.headers.get('location'), /^\/\.gatehouse\/login\?rd=%2Fecho$/, `${label}: to the login page`);
    const api = await asApi(f, `${name}=${value}`);
    t.equal(api.status, 401, `${label}: API client gets 401`);
    t.match(api.headers.get('content-type'), /application\/json/, `${label}: as JSON`);
    const body = await api.json() as { error: string; challenge_url: string };
    t.equal(body.error, 'login_required', `${label}: login_required`);
    t.match(body.challenge_url, `${f.url}/.gatehouse/login`, `${label}: with the login URL`);
  }

  // The genuine cookie is unharmed by all the attempts (no cache poisoning).
  t.equal((await asApi(f, `${name}=${good}`)).status, 200, 'the genuine cookie still works');
});
