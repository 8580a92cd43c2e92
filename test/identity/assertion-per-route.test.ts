// What goes upstream per route: the signed assertion only where the route
// wants it (routes[].assertion, default headers.jwt), carrying exactly the
// claims the product contract names; identity headers (reused per session for
// a short while) never cross from one session to another, and a logged-out
// session's headers are never served again. Asserted on the bytes each
// lenient upstream received.

import t, { type Test } from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream, type LenientUpstream } from '../helpers/lenient-upstream.ts';

const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const CLAIMS = ['iss', 'aud', 'sub', 'email', 'groups', 'amr', 'acr', 'auth_time', 'iat', 'exp', 'jti', 'sid'];

async function setup(t: Test): Promise<{ f: GatewayFixture; a: LenientUpstream; b: LenientUpstream }> {
  const a = await startLenientUpstream(() => plainAnswer(200, 'OK', 'a'));
  const b = await startLenientUpstream(() => plainAnswer(200, 'OK', 'b'));
  const f = await startTestGateway({
    config: {
      routes: [
        { path: '/a', upstream: a.origin },
        { path: '/b', upstream: b.origin, assertion: false },
        { path: '/', upstream: 'http://127.0.0.1:9' },
      ],
    },
    upstream: false,
  });
  t.teardown(async () => { await f.close(); await a.close(); await b.close(); });
  return { f, a, b };
}

async function signedIn(f: GatewayFixture, user: string): Promise<string> {
  const c = new Client(f.url);
  const r = await c.signIn(user, `${user}-test-pass`);
  if (r.status !== 303) throw new Error(`sign-in of ${user} failed: ${r.status}`);
  return c.cookieHeader();
}

async function get(f: GatewayFixture, path: string, cookie: string): Promise<number> {
  const r = await new Client(f.url).fetch(path, { headers: { ...API, cookie } });
  await r.arrayBuffer();
  return r.status;
}

t.test('the assertion goes only where the route wants it, with exactly the named claims', async (t) => {
  const { f, a, b } = await setup(t);
  const alice = await signedIn(f, 'alice');
  t.equal(await get(f, '/a/x', alice), 200);
  t.equal(await get(f, '/b/x', alice), 200);
  const toA = a.requests.at(-1)!;
  const toB = b.requests.at(-1)!;
  t.equal(toA.header('x-gatehouse-user'), 'alice');
  t.equal(toB.header('x-gatehouse-user'), 'alice', 'the plain identity headers go to both');
  t.notOk(/x-gatehouse-assertion/i.test(toB.head), 'no assertion reaches the route with assertion: false');
  const jwt = toA.header('x-gatehouse-assertion');
  t.ok(jwt, 'the route following headers.jwt (true) gets the assertion');
  const payload = JSON.parse(Buffer.from(jwt!.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
  t.same(Object.keys(payload).sort(), [...CLAIMS].sort(), 'the claims are exactly the ones the contract names');
  t.equal(payload.aud, a.origin, 'the audience is the route\'s upstream');
});

t.test('identity headers never cross sessions; a logged-out session is refused at once', async (t) => {
  const { f, a } = await setup(t);
  const alice = await signedIn(f, 'alice');
  const bob = await signedIn(f, 'bob');
  const aliceLater = await signedIn(f, 'alice');
  const order: [string, string][] = [];
  for (let i = 0; i < 5; i++) {
    for (const [who, cookie] of [['alice', alice], ['bob', bob], ['alice', aliceLater]] as const) {
      t.equal(await get(f, `/a/${who}/${i}`, cookie), 200);
      const got = a.requests.at(-1)!;
      const claims = JSON.parse(Buffer.from(got.header('x-gatehouse-assertion')!.split('.')[1], 'base64url').toString()) as { sub: string; sid: string };
      order.push([got.header('x-gatehouse-user')!, claims.sid]);
      t.equal(got.header('x-gatehouse-user'), who, `request ${i} of ${who}: its own user header`);
      t.equal(claims.sub, who, `request ${i} of ${who}: its own assertion`);
    }
  }
  const sids = new Set(order.map(([, sid]) => sid));
  t.equal(sids.size, 3, 'three sessions, three sids in the assertions');

  // Logout of alice's first session (revocation), then her copied cookie: refused, nothing more upstream.
  const c = new Client(f.url);
  c.cookies.set(f.gw.services.sessions.cookieName, alice.split('=').slice(1).join('='));
  const csrf = await c.csrf('/.gatehouse/logout');
  t.equal((await c.postForm('/.gatehouse/logout', { csrf })).status, 200, 'logged out');
  const before = a.requests.length;
  t.equal(await get(f, '/a/after', alice), 401, 'the warm cached session is refused right after logout');
  t.equal(a.requests.length, before, 'and nothing reached the upstream');
  t.equal(await get(f, '/a/other', aliceLater), 200, 'her other session still works');
});
