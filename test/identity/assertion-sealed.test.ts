// The assertion signing key at rest (README "Identity to the upstream"): sealed
// with the factor encryption key like TOTP seeds, so reading the database is
// not enough to mint X-Gatehouse-Assertion tokens. A key stored in plain JSON
// by an older version is sealed at start (same kid: upstreams notice nothing);
// a key sealed under a replaced encryption key is sealed again under the new
// one; a key no configured encryption key opens stops the start with the
// reason. Real store (SQLite), verification with `jose`.

import t, { type Test } from 'tap';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { AssertionSigner, newSigningKey, type AssertionClaims } from '../../src/identity/assertion.ts';
import { createSecretBox, UnknownSealingKeyError } from '../../src/store/secret-box.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

const ISSUER = 'http://localhost:8080';
const AUD = 'http://127.0.0.1:8081';
const KEY_A = 'sealed-signing-key-test-A-0123456789-abcdefgh';
const KEY_B = 'sealed-signing-key-test-B-0123456789-abcdefgh';
const claims: AssertionClaims = { sub: 'alice', email: 'alice@example.com', groups: [], amr: ['pwd'], acr: 'pwd', auth_time: Math.floor(Date.now() / 1000), sid: 's1' };

async function freshStore(t: Test): Promise<Store> {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  t.teardown(() => store.close());
  return store;
}

async function verifies(signer: AssertionSigner): Promise<boolean> {
  try {
    await jwtVerify(signer.assertion(claims, AUD), createLocalJWKSet(signer.jwks() as JSONWebKeySet), { issuer: ISSUER, audience: AUD });
    return true;
  } catch {
    return false;
  }
}

t.test('a new key is stored sealed: the database alone cannot sign', async (t) => {
  const store = await freshStore(t);
  const box = createSecretBox([KEY_A]);
  const signer = new AssertionSigner(store, box, ISSUER);
  await signer.init();
  const [stored] = await store.listSigningKeys();
  t.notMatch(stored.private_jwk, /"d"|"kty"/, 'no JWK fields in the stored private key');
  t.throws(() => JSON.parse(stored.private_jwk), 'not JSON');
  t.equal(box.kidOf(stored.private_jwk), box.currentKid, 'sealed under the configured key');
  t.throws(() => createSecretBox([KEY_B]).open(stored.private_jwk), UnknownSealingKeyError, 'another key cannot open it');
  // What it seals is the private half of the published key.
  const priv = createPrivateKey({ key: JSON.parse(box.open(stored.private_jwk).toString('utf8')), format: 'jwk' });
  const derived = createPublicKey(priv).export({ format: 'jwk' });
  const published = JSON.parse(stored.public_jwk) as { x: string; y: string };
  t.same([derived.x, derived.y], [published.x, published.y], 'the sealed key is the published key\'s private half');
  t.ok(await verifies(signer), 'assertions verify against the JWKS');
});

t.test('a plain key from before is sealed at start, keeping its kid', async (t) => {
  const store = await freshStore(t);
  const legacy = newSigningKey(Date.now());
  await store.addSigningKey(legacy);
  const box = createSecretBox([KEY_A]);
  const signer = new AssertionSigner(store, box, ISSUER);
  await signer.init();
  const [stored] = await store.listSigningKeys();
  t.equal(stored.kid, legacy.kid, 'same key (no rotation, upstreams notice nothing)');
  t.not(stored.private_jwk, legacy.private_jwk, 'no longer stored plain');
  t.same(JSON.parse(box.open(stored.private_jwk).toString('utf8')), JSON.parse(legacy.private_jwk), 'the sealed value is that key');
  t.equal(decodeProtectedHeader(signer.assertion(claims, AUD)).kid, legacy.kid, 'it still signs');
  t.ok(await verifies(signer));
  // A second instance starting on the same store opens the sealed key.
  const other = new AssertionSigner(store, createSecretBox([KEY_A]), ISSUER);
  await other.init();
  t.equal(decodeProtectedHeader(other.assertion(claims, AUD)).kid, legacy.kid, 'another instance with the same encryption key signs with it');
});

t.test('encryption key replaced: sealed again under the new key; without the old key the start fails', async (t) => {
  const store = await freshStore(t);
  await new AssertionSigner(store, createSecretBox([KEY_A]), ISSUER).init();
  const [before] = await store.listSigningKeys();

  await t.rejects(new AssertionSigner(store, createSecretBox([KEY_B]), ISSUER).init(), UnknownSealingKeyError, 'a key no configured encryption key opens stops the start');
  t.same(await store.listSigningKeys(), [before], 'and changes nothing');

  const rotated = createSecretBox([KEY_B, KEY_A]);
  const signer = new AssertionSigner(store, rotated, ISSUER);
  await signer.init();
  const [after] = await store.listSigningKeys();
  t.equal(after.kid, before.kid, 'same signing key');
  t.equal(rotated.kidOf(after.private_jwk), rotated.currentKid, 'now sealed under the new encryption key');
  t.ok(await verifies(signer));
  const newOnly = new AssertionSigner(store, createSecretBox([KEY_B]), ISSUER);
  await newOnly.init();
  t.ok(await verifies(newOnly), 'the old encryption key can then be dropped');
});
