import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import {
  RECOVERY_ALPHABET, createRecoveryCodes, formatRecoveryCode, hashRecoveryCode, normalizeRecoveryInput,
} from '../../src/factors/recovery-codes.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

const HMAC_KEY = 'recovery-hmac-key-0123456789-abcdefghijk';
const T0 = Date.UTC(2026, 0, 1);

async function store(t: { teardown(fn: () => unknown): unknown }, path = ':memory:'): Promise<Store> {
  const s = openSqliteStore(path);
  await s.migrate();
  t.teardown(() => s.close());
  return s;
}

t.test('alphabet and code shape: no 0/o/1/l, >= 50 bits, grouped 4-4-4', async (t) => {
  t.equal(RECOVERY_ALPHABET.length, 32);
  t.equal(new Set(RECOVERY_ALPHABET).size, 32, 'no repeated letters');
  for (const ambiguous of '0o1l') t.notOk(RECOVERY_ALPHABET.includes(ambiguous), `no ${ambiguous}`);
  t.ok(12 * Math.log2(RECOVERY_ALPHABET.length) >= 50, '12 chars of a 32-letter alphabet = 60 bits');
  const rc = createRecoveryCodes({ store: await store(t), hmacKey: HMAC_KEY, count: 10 });
  const codes = await rc.generate('alice');
  t.equal(codes.length, 10);
  t.equal(new Set(codes).size, 10, 'all distinct');
  for (const c of codes) t.match(c, /^[2-9a-km-np-z]{4}-[2-9a-km-np-z]{4}-[2-9a-km-np-z]{4}$/);
  t.equal(formatRecoveryCode('k7mq2xhp9wdt'), 'k7mq-2xhp-9wdt');
});

t.test('normalizeRecoveryInput table', async (t) => {
  const table: Array<[unknown, string | undefined]> = [
    ['k7mq-2xhp-9wdt', 'k7mq2xhp9wdt'],
    ['K7MQ 2XHP 9WDT', 'k7mq2xhp9wdt'],
    ['  k7mq2xhp9wdt\n', 'k7mq2xhp9wdt'],
    ['k7mq--2xhp--9wdt', 'k7mq2xhp9wdt'],
    ['k7mq-2xhp-9wd', undefined],          // short
    ['k7mq-2xhp-9wdtt', undefined],        // long
    ['k0mq-2xhp-9wdt', undefined],         // 0 not in alphabet
    ['k7mq-2xhp-9wdl', undefined],         // l not in alphabet
    ['k7mq-2xhp-9wd\u0442', undefined],     // Cyrillic look-alike
    ['', undefined],
    ['x'.repeat(10_000), undefined],
    [null, undefined],
    [12, undefined],
  ];
  for (const [input, want] of table) t.equal(normalizeRecoveryInput(input), want, JSON.stringify(input)?.slice(0, 30));
});

t.test('stored values are HMACs, not the codes', async (t) => {
  const path = join(t.testdir(), 'rc.db');
  const s = await store(t, path);
  const codes = await createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 10 }).generate('alice');
  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT hash FROM recovery_codes WHERE username = ?').all('alice') as Array<{ hash: string }>;
  t.equal(rows.length, 10);
  const stored = new Set(rows.map((r) => r.hash));
  for (const c of codes) {
    const norm = normalizeRecoveryInput(c)!;
    t.notOk(stored.has(c) || stored.has(norm), `${c} not stored in clear`);
    t.ok(stored.has(hashRecoveryCode(HMAC_KEY, norm)), 'its HMAC is');
    t.notOk([...stored].some((h) => h.includes(norm)), 'no stored value contains it');
  }
});

t.test('verify: any spelling works once; remaining counts down; Verified is a recovery check', async (t) => {
  const s = await store(t);
  const rc = createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 10, now: () => T0 });
  const codes = await rc.generate({ id: 'alice' });
  t.equal(await rc.remaining('alice'), 10);
  const first = await rc.verify('alice', codes[0].toUpperCase().replace(/-/g, ' '));
  t.same(first, { ok: true, verified: { check: { kind: 'recovery', amr: 'otp', phishing_resistant: false, at: T0 } }, remaining: 9 });
  t.same(await rc.verify('alice', codes[0]), { ok: false }, 'used code refused');
  t.same(await rc.verify('bob', codes[1]), { ok: false }, "another user's code refused");
  t.same(await rc.verify('alice', 'zzzz-zzzz-zzzz'), { ok: false }, 'unknown code refused');
  t.same(await rc.verify('alice', 'not a code at all'), { ok: false });
  t.same(await rc.verify('alice', 'x'.repeat(10_240)), { ok: false });
  t.equal(await rc.remaining('alice'), 9, 'failed attempts consume nothing');
  for (const c of codes.slice(1)) t.ok((await rc.verify('alice', c)).ok);
  t.equal(await rc.remaining('alice'), 0);
});

t.test('20 concurrent verifies of one code: exactly one succeeds', async (t) => {
  const s = await store(t, join(t.testdir(), 'race.db'));
  const rc = createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 10 });
  const [code] = await rc.generate('alice');
  const results = await Promise.all(Array.from({ length: 20 }, () => rc.verify('alice', code)));
  t.equal(results.filter((r) => r.ok).length, 1);
  t.equal(await rc.remaining('alice'), 9);
});

t.test('regenerating kills the old set', async (t) => {
  const s = await store(t);
  const rc = createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 5 });
  const old = await rc.generate('alice');
  t.ok((await rc.verify('alice', old[0])).ok);
  const fresh = await rc.generate('alice');
  t.equal(fresh.length, 5);
  t.equal(await rc.remaining('alice'), 5, 'count reset to a full set');
  for (const c of old) t.same(await rc.verify('alice', c), { ok: false }, `old ${c} dead`);
  t.ok((await rc.verify('alice', fresh[4])).ok, 'new ones work');
});

t.test('key rotation: codes hashed under an old key still verify; a different key does not', async (t) => {
  const s = await store(t);
  const NEW = 'new-recovery-hmac-key-0123456789-abcdefg';
  const codes = await createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 3 }).generate('alice');
  t.same(await createRecoveryCodes({ store: s, hmacKey: NEW, count: 3 }).verify('alice', codes[0]), { ok: false });
  const rotated = createRecoveryCodes({ store: s, hmacKey: NEW, oldHmacKeys: [HMAC_KEY], count: 3 });
  t.ok((await rotated.verify('alice', codes[0])).ok);
  t.same(await rotated.verify('alice', codes[0]), { ok: false }, 'still single-use');
});

t.test('bad options are refused', async (t) => {
  const s = await store(t);
  t.throws(() => createRecoveryCodes({ store: s, hmacKey: 'short', count: 10 }), /at least 32/);
  t.throws(() => createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, oldHmacKeys: ['short'], count: 10 }), /at least 32/);
  t.throws(() => createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 0 }), /count/);
  t.throws(() => createRecoveryCodes({ store: s, hmacKey: HMAC_KEY, count: 2.5 }), /count/);
});
