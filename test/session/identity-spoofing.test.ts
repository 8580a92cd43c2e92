// Identity headers are the gateway's alone: a client-sent X-Gatehouse-User or
// X-Gatehouse-Assertion (even a genuine assertion taken from another session)
// never reaches the upstream, with or without a session. The upstream sees
// exactly one of each, and it is the one for the session that made the request.
// (test/http/header-spoofing.test.ts covers spellings on raw sockets; this is the session side.)

import t from 'tap';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestGateway, Client } from '../helpers/gateway.ts';

interface Echo { headers: Record<string, string>; rawHeaders: string[] }
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

function count(raw: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) n++;
  return n;
}

t.test('client-sent identity headers never reach the upstream', async (t) => {
  const f = await startTestGateway({
    config: { policy: { default: 'login', rules: [{ id: 'public', match: { path: '/echo/public/**' }, require: 'none' }] } },
  });
  t.teardown(() => f.close());
  const issuer = new URL(f.url).origin;
  const audience = `http://127.0.0.1:${f.portal!.port}`;
  const keys = createLocalJWKSet(await (await fetch(`${f.url}/.gatehouse/jwks.json`)).json() as JSONWebKeySet);

  const bob = new Client(f.url);
  await bob.signIn('bob', 'bob-test-pass');
  const bobsAssertion = (await (await bob.fetch('/echo', { headers: API })).json() as Echo).headers['x-gatehouse-assertion'];
  t.equal((await jwtVerify(bobsAssertion, keys, { issuer, audience })).payload.sub, 'bob', "control: bob's genuine assertion");

  const spoofs: Record<string, string>[] = [
    { 'x-gatehouse-user': 'mallory' },
    { 'x-gatehouse-user': 'bob', 'x-gatehouse-groups': 'admins', 'x-gatehouse-email': 'bob@example.com' },
    { 'x-gatehouse-assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.' },
    { 'x-gatehouse-assertion': bobsAssertion },
    { 'x-gatehouse-auth-methods': 'pwd hwk', 'x-gatehouse-auth-time': '9999999999' },
  ];

  // Without a session, on a route that needs none: no identity at all upstream.
  const anon = new Client(f.url);
  for (const h of spoofs) {
    const r = await anon.fetch('/echo/public/page', { headers: { ...API, ...h } });
    t.equal(r.status, 200, `anonymous ${Object.keys(h).join('+')}: served`);
    const echo = await r.json() as Echo;
    const leaked = Object.keys(echo.headers).filter((k) => k.startsWith('x-gatehouse-'));
    t.same(leaked, [], 'no x-gatehouse-* header reached the upstream');
  }

  // Without a session on a protected path: not even forwarded (sign-in first).
  const blocked = await anon.fetch('/echo', { headers: { ...API, 'x-gatehouse-user': 'alice', 'x-gatehouse-assertion': bobsAssertion } });
  t.equal(blocked.status, 401, 'spoofed headers do not sign anyone in');

  // With alice's session: the upstream sees alice, once, and her own assertion.
  const alice = new Client(f.url);
  await alice.signIn('alice', 'alice-test-pass');
  for (const h of spoofs) {
    const label = Object.keys(h).join('+');
    const r = await alice.fetch('/echo', { headers: { ...API, ...h } });
    t.equal(r.status, 200, `alice ${label}: served`);
    const echo = await r.json() as Echo;
    t.equal(echo.headers['x-gatehouse-user'], 'alice', `${label}: the upstream sees alice`);
    t.equal(echo.headers['x-gatehouse-groups'], 'admins,finance', `${label}: with her groups`);
    t.equal(echo.headers['x-gatehouse-auth-methods'], 'pwd', `${label}: and her methods`);
    for (const name of ['x-gatehouse-user', 'x-gatehouse-assertion', 'x-gatehouse-groups', 'x-gatehouse-auth-time']) {
      t.equal(count(echo.rawHeaders, name), 1, `${label}: exactly one ${name}`);
    }
    const jwt = echo.headers['x-gatehouse-assertion'];
    t.not(jwt, bobsAssertion, `${label}: not the replayed assertion`);
    const { payload } = await jwtVerify(jwt, keys, { issuer, audience });
    t.equal(payload.sub, 'alice', `${label}: the assertion is alice's and verifies`);
  }
});
