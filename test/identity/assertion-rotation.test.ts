// Signing-key rotation of the identity assertion: a key older than 30 days is
// replaced, the old kid stays published for 7 more days (tokens it signed, and
// upstreams' cached JWKS, keep working), then disappears. Real store (SQLite in
// memory), a clock under test control, verification with `jose`.

import t, { type Test } from 'tap';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { AssertionSigner, newSigningKey, type AssertionClaims } from '../../src/identity/assertion.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createSecretBox } from '../../src/store/secret-box.ts';

const DAY = 86_400_000;
const ISSUER = 'http://localhost:8080';
const AUD = 'http://127.0.0.1:8081';
const T0 = Date.UTC(2026, 10, 1);
const BOX = createSecretBox(['assertion-rotation-test-key-0123456789-abcdef']);

const claims = (sid = 'sid-1'): AssertionClaims => ({ sub: 'alice', email: 'alice@example.com', groups: ['admins'], amr: ['pwd'], acr: 'pwd', auth_time: Math.floor(T0 / 1000), sid });

async function freshStore(t: Test): Promise<Store> {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  t.teardown(() => store.close());
  return store;
}

function kids(set: { keys: object[] }): string[] {
  return (set.keys as { kid: string }[]).map((k) => k.kid).sort();
}

async function verifies(jwt: string, set: { keys: object[] }, now: number): Promise<boolean> {
  try {
    await jwtVerify(jwt, createLocalJWKSet(set as JSONWebKeySet), { issuer: ISSUER, audience: AUD, currentDate: new Date(now) });
    return true;
  } catch {
    return false;
  }
}

t.test('first start creates a key; a restart within 30 days keeps it', async (t) => {
  const store = await freshStore(t);
  let now = T0;
  const a = new AssertionSigner(store, BOX, ISSUER, () => now);
  await a.init();
  t.equal(a.jwks().keys.length, 1, 'one key published');
  const kid = kids(a.jwks())[0];
  now += 29 * DAY;
  const b = new AssertionSigner(store, BOX, ISSUER, () => now);
  await b.init();
  t.same(kids(b.jwks()), [kid], 'still the same key at 29 days');
  t.equal(decodeProtectedHeader(b.assertion(claims(), AUD)).kid, kid);
});

t.test('a key older than 30 days rotates at start; the old kid stays published for the grace period', async (t) => {
  const store = await freshStore(t);
  const old = newSigningKey(T0);
  await store.addSigningKey(old);
  // A token the old key signed shortly before the rotation (a signer that loaded it then).
  let now = T0 + 29 * DAY;
  const before = new AssertionSigner(store, BOX, ISSUER, () => now);
  await before.init();
  t.same(kids(before.jwks()), [old.kid], 'control: the old key is the only one before the rotation');
  const oldToken = before.assertion(claims(), AUD);
  t.equal(decodeProtectedHeader(oldToken).kid, old.kid);

  now = T0 + 31 * DAY;
  const s = new AssertionSigner(store, BOX, ISSUER, () => now);
  await s.init();
  const published = kids(s.jwks());
  t.equal(published.length, 2, 'two keys published: the new and the old');
  t.ok(published.includes(old.kid), 'the old kid stays published');
  const fresh = s.assertion(claims('sid-2'), AUD);
  const freshKid = decodeProtectedHeader(fresh).kid!;
  t.not(freshKid, old.kid, 'new tokens are signed with the new key');
  t.ok(published.includes(freshKid), 'which is published');
  t.ok(await verifies(fresh, s.jwks(), now), 'a new token verifies against the JWKS');
  // (checked at its issue time: it is short-lived, what matters is that its key is still published)
  t.ok(await verifies(oldToken, s.jwks(), T0 + 29 * DAY), 'a token signed by the old key still verifies');
  t.notOk(await verifies(oldToken, { keys: s.jwks().keys.filter((k) => (k as { kid: string }).kid !== old.kid) }, T0 + 29 * DAY), 'control: only thanks to the old key');
  const stored = await store.listSigningKeys();
  t.equal(stored.find((k) => k.kid === old.kid)?.retired_at, now, 'the old key is marked retired now');

  // After the grace period the old key is gone; the new one remains.
  now += 8 * DAY;
  const later = new AssertionSigner(store, BOX, ISSUER, () => now);
  await later.init();
  t.same(kids(later.jwks()), [freshKid], 'the old kid is withdrawn after 7 days');
  t.notOk((await store.listSigningKeys()).some((k) => k.kid === old.kid), 'and deleted from the store');
});

t.test('a long-running gateway rotates without a restart', async (t) => {
  const store = await freshStore(t);
  let now = T0;
  const s = new AssertionSigner(store, BOX, ISSUER, () => now);
  await s.init();
  const first = kids(s.jwks())[0];
  now += 31 * DAY;
  // Serving goes on: the signer notices the key's age and rotates in the background.
  s.assertion(claims(), AUD);
  await s.settled();
  const kid = decodeProtectedHeader(s.assertion(claims('sid-after'), AUD)).kid;
  t.not(kid, first, 'new tokens use a new key after 30 days');
  t.ok(kids(s.jwks()).includes(first), 'the old key stays published');
  t.ok(kids(s.jwks()).includes(kid!), 'the new key is published');
});

t.test('keys another instance adds are published without a restart', async (t) => {
  const store = await freshStore(t);
  let now = T0;
  const a = new AssertionSigner(store, BOX, ISSUER, () => now);
  const b = new AssertionSigner(store, BOX, ISSUER, () => now);
  await a.init();
  await b.init();
  t.same(kids(a.jwks()), kids(b.jwks()), 'both instances publish the same key');
  now += 31 * DAY;
  await b.init(); // b restarts and rotates
  now += 10 * 60_000; // within minutes, a reloads the key set
  a.jwks();
  await a.settled();
  t.same(kids(a.jwks()), kids(b.jwks()), "a publishes b's new key too");
  const fromB = b.assertion(claims(), AUD);
  t.ok(await verifies(fromB, a.jwks(), now), "a token from b verifies against a's JWKS");
});
