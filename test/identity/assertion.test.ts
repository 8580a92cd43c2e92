// The identity assertion (README "Identity to the upstream") checked the way an
// upstream app would: the X-Gatehouse-Assertion the demo portal received,
// verified with the independent `jose` library against GET
// /.gatehouse/jwks.json.

import t from 'tap';
import { unsealData } from 'iron-session';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';

const TEST_SECRET = 'test-session-secret-0123456789-abcdefghijklmnop'; // the helper's config
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function assertionFor(c: Client): Promise<string> {
  const r = await c.fetch('/echo', { headers: API });
  if (r.status !== 200) throw new Error(`/echo answered ${r.status}`);
  const body = await r.json() as { headers: Record<string, string> };
  const jwt = body.headers['x-gatehouse-assertion'];
  if (!jwt) throw new Error('no assertion reached the upstream');
  return jwt;
}

async function jwks(f: GatewayFixture): Promise<JSONWebKeySet> {
  const r = await fetch(`${f.url}/.gatehouse/jwks.json`);
  if (r.status !== 200) throw new Error(`jwks answered ${r.status}`);
  return await r.json() as JSONWebKeySet;
}

async function sidOf(f: GatewayFixture, c: Client): Promise<string> {
  const s = await unsealData<{ sid: string }>(c.cookies.get(f.gw.services.sessions.cookieName)!, { password: TEST_SECRET, ttl: 86_400 });
  return s.sid;
}

t.test('the assertion verifies against the JWKS and carries the right claims', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const issuer = new URL(f.url).origin;
  const audience = `http://127.0.0.1:${f.portal!.port}`;
  const c = new Client(f.url);
  const before = Math.floor(Date.now() / 1000);
  t.equal((await c.signIn('alice', 'alice-test-pass')).status, 303);
  const jwt = await assertionFor(c);

  const set = await jwks(f);
  t.ok(set.keys.length >= 1, 'the JWKS publishes a key');
  for (const k of set.keys) {
    t.equal(k.kty, 'EC');
    t.equal(k.crv, 'P-256');
    t.equal(k.alg, 'ES256');
    t.equal(k.use, 'sig');
    t.ok(k.kid, 'with a kid');
    t.notOk('d' in k, 'never the private part');
  }
  const jwksRes = await fetch(`${f.url}/.gatehouse/jwks.json`);
  t.equal(jwksRes.status, 200, 'the JWKS needs no session');

  const header = decodeProtectedHeader(jwt);
  t.equal(header.alg, 'ES256');
  t.equal(header.typ, 'JWT');
  t.ok(set.keys.some((k) => k.kid === header.kid), 'signed with a published key');

  const keys = createLocalJWKSet(set);
  const { payload } = await jwtVerify(jwt, keys, { issuer, audience, algorithms: ['ES256'] });
  const after = Math.floor(Date.now() / 1000);
  for (const claim of ['iss', 'aud', 'sub', 'email', 'groups', 'amr', 'acr', 'auth_time', 'iat', 'exp', 'jti', 'sid']) {
    t.ok(payload[claim] !== undefined, `claim ${claim} present`);
  }
  t.equal(payload.iss, issuer);
  t.equal(payload.aud, audience);
  t.equal(payload.sub, 'alice');
  t.equal(payload.email, 'alice@example.com');
  t.same(payload.groups, ['admins', 'finance']);
  t.same(payload.amr, ['pwd'], 'password only so far');
  t.equal(payload.acr, 'pwd');
  const authTime = payload.auth_time as number;
  t.ok(authTime >= before && authTime <= after, 'auth_time is the sign-in');
  t.ok(payload.iat! >= before && payload.iat! <= after, 'iat is now');
  t.ok(payload.exp! - payload.iat! > 0 && payload.exp! - payload.iat! <= 300, `short-lived (${payload.exp! - payload.iat!} s)`);
  t.type(payload.jti, 'string');
  t.ok((payload.jti as string).length >= 12, 'jti is random enough');
  t.equal(payload.sid, await sidOf(f, c), "sid is the session's id");

  // The same session gets the cached token; another session gets its own.
  const again = await assertionFor(c);
  const second = (await jwtVerify(again, keys, { issuer, audience })).payload;
  t.equal(second.jti, payload.jti, 'the same session reuses its token (same jti)');
  const other = new Client(f.url);
  await other.signIn('alice', 'alice-test-pass');
  const otherPayload = (await jwtVerify(await assertionFor(other), keys, { issuer, audience })).payload;
  t.not(otherPayload.jti, payload.jti, 'another session gets another token');
  t.not(otherPayload.sid, payload.sid, 'with its own sid');
  const bob = new Client(f.url);
  await bob.signIn('bob', 'bob-test-pass');
  const bobPayload = (await jwtVerify(await assertionFor(bob), keys, { issuer, audience })).payload;
  t.equal(bobPayload.sub, 'bob');
  t.same(bobPayload.groups, ['staff']);

  // The token is bound to its audience and issuer.
  await t.rejects(jwtVerify(jwt, keys, { issuer, audience: 'http://127.0.0.1:1' }), 'another upstream refuses it (audience)');
  await t.rejects(jwtVerify(jwt, keys, { issuer: 'https://other.example', audience }), 'another issuer is refused');
});

t.test('forged assertions fail verification', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const issuer = new URL(f.url).origin;
  const audience = `http://127.0.0.1:${f.portal!.port}`;
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass');
  const real = await assertionFor(c);
  const set = await jwks(f);
  const keys = createLocalJWKSet(set);
  const { payload } = await jwtVerify(real, keys, { issuer, audience });
  const kid = decodeProtectedHeader(real).kid!;

  // Another key, even one claiming the published kid.
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const claims: JWTPayload = { ...payload, sub: 'mallory', groups: ['admins'] };
  const sameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(privateKey);
  await t.rejects(jwtVerify(sameKid, keys, { issuer, audience }), 'signed by another key under the real kid');
  const otherKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'attacker' }).sign(privateKey);
  await t.rejects(jwtVerify(otherKid, keys, { issuer, audience }), 'signed by another key under its own kid');
  const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(privateKey);
  await t.rejects(jwtVerify(noKid, keys, { issuer, audience }), 'signed by another key without a kid');
  // Control: the attacker's token does verify against the attacker's own key, so the refusals above are about the key.
  const attackerSet = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256' }] });
  t.ok(await jwtVerify(sameKid, attackerSet, { issuer, audience }), 'control: well-formed apart from the key');

  // The real signature over edited claims.
  const [h, , s] = real.split('.');
  const edited = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  await t.rejects(jwtVerify(edited, keys, { issuer, audience }), 'edited claims under the real signature');
  // alg none and HMAC keyed with the public key (algorithm confusion).
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  await t.rejects(jwtVerify(none, keys, { issuer, audience }), 'alg none');
  const hsKey = new TextEncoder().encode(JSON.stringify(set.keys[0]));
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(hsKey);
  await t.rejects(jwtVerify(hs, keys, { issuer, audience }), 'HS256 keyed with the public JWK');
});
