import { createHash, hkdfSync } from 'node:crypto';
import t from 'tap';
import { createSecretBox, deriveKey, deriveSecret } from '../../src/store/secret-box.ts';

const KEY_A = 'a'.repeat(16) + 'correct horse battery staple';
const KEY_B = 'b'.repeat(16) + 'another long configured secret';

t.test('seal/open round-trip; format v1.<kid>.<iv>.<ct>.<tag>; fresh IV every time', async (t) => {
  const box = createSecretBox([KEY_A]);
  const plain = Buffer.from('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
  const one = box.seal(plain);
  const two = box.seal(plain);
  t.match(one, /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  t.not(one, two, 'same plaintext, different ciphertexts');
  t.same(box.open(one), plain);
  t.same(box.open(two), plain);
  t.notOk(one.includes(plain.toString()), 'plaintext not visible');
  t.same(box.open(box.seal(Buffer.alloc(0))), Buffer.alloc(0), 'empty plaintext works');
});

t.test('kid is the first 8 hex chars of SHA-256 of the HKDF-derived key', async (t) => {
  const derived = Buffer.from(hkdfSync('sha256', Buffer.from(KEY_A), Buffer.alloc(0), 'gatehouse totp seed v1', 32));
  const expected = createHash('sha256').update(derived).digest('hex').slice(0, 8);
  t.equal(deriveKey(KEY_A).kid, expected);
  t.equal(createSecretBox([KEY_A]).currentKid, expected);
  t.equal(createSecretBox([KEY_A]).seal(Buffer.from('x')).split('.')[1], expected);
  t.not(deriveKey(KEY_B).kid, expected, 'different key, different kid');
});

t.test('tampering with any part is refused', async (t) => {
  const box = createSecretBox([KEY_A]);
  const sealed = box.seal(Buffer.from('a secret seed value'));
  const parts = sealed.split('.');
  const flip = (s: string, i = 0) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const [i, name] of [[2, 'iv'], [3, 'ct'], [4, 'tag']] as const) {
    const bad = [...parts];
    bad[i] = flip(bad[i]);
    t.throws(() => box.open(bad.join('.')), /failed authentication/, `flipped ${name}`);
  }
  const truncated = [...parts];
  truncated[3] = truncated[3].slice(0, -2);
  t.throws(() => box.open(truncated.join('.')), /failed authentication|malformed/, 'truncated ciphertext');
  t.throws(() => box.open(['v2', ...parts.slice(1)].join('.')), /malformed/, 'unknown version');
  for (const junk of ['', 'v1', 'v1....', sealed + '.x', sealed.replace(/\./g, ':'), 'v1.zzzzzzzz.a.b.c']) {
    t.throws(() => box.open(junk), /malformed/, `malformed: ${JSON.stringify(junk)}`);
  }
});

t.test('unknown kid is refused, even when the ciphertext is otherwise intact', async (t) => {
  const a = createSecretBox([KEY_A]);
  const b = createSecretBox([KEY_B]);
  const sealed = a.seal(Buffer.from('seed'));
  t.throws(() => b.open(sealed), new RegExp(`unknown key ${a.currentKid}`));
  // Relabelling A's ciphertext with B's kid: the kid is authenticated data, so this fails too.
  const relabelled = sealed.replace(`.${a.currentKid}.`, `.${b.currentKid}.`);
  t.throws(() => createSecretBox([KEY_B, KEY_A]).open(relabelled), /failed authentication/);
});

t.test('rotation: first key seals, all keys open; dropping the old key ends old seals', async (t) => {
  const old = createSecretBox([KEY_A]);
  const sealedOld = old.seal(Buffer.from('old seed'));
  const rotated = createSecretBox([KEY_B, KEY_A]);
  t.equal(rotated.currentKid, deriveKey(KEY_B).kid);
  t.same(rotated.open(sealedOld), Buffer.from('old seed'), 'old key still opens');
  const resealed = rotated.seal(rotated.open(sealedOld));
  t.equal(rotated.kidOf(resealed), deriveKey(KEY_B).kid, 'new seals use the first key');
  t.equal(rotated.kidOf(sealedOld), deriveKey(KEY_A).kid);
  const newOnly = createSecretBox([KEY_B]);
  t.same(newOnly.open(resealed), Buffer.from('old seed'));
  t.throws(() => newOnly.open(sealedOld), /unknown key/);
  t.equal(newOnly.kidOf('garbage'), undefined);
});

t.test('bad keys are refused at creation', async (t) => {
  t.throws(() => createSecretBox([]), /at least one key/);
  t.throws(() => createSecretBox(['short']), /at least 32 characters/);
  t.throws(() => createSecretBox([KEY_A, 'short']), /at least 32 characters/);
  t.throws(() => createSecretBox([KEY_A]).seal('text' as unknown as Buffer), /Buffer/);
});

t.test('deriveSecret: stable per purpose, different across purposes and keys', async (t) => {
  t.equal(deriveSecret(KEY_A, 'recovery code v1'), deriveSecret(KEY_A, 'recovery code v1'));
  t.not(deriveSecret(KEY_A, 'recovery code v1'), deriveSecret(KEY_A, 'one-time code v1'));
  t.not(deriveSecret(KEY_A, 'recovery code v1'), deriveSecret(KEY_B, 'recovery code v1'));
  t.ok(deriveSecret(KEY_A, 'x').length >= 32);
});
