// The passkey sign-in challenge that carries its own state
// (src/factors/passkey-challenge.ts), as a table: what it opens to for the
// browser it was made for, and why anything else is refused.

import t from 'tap';
import { CHALLENGE_BYTES, openChallenge, sealChallenge } from '../../src/factors/passkey-challenge.ts';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const NONCE = Buffer.alloc(16, 1);
const EXPIRES = 1_800_000_300_000;
const made = sealChallenge(KEY, 'sid-a', NONCE, EXPIRES);
const good = made.toString('base64url');

/** `good` with byte `i` flipped. */
function flipped(i: number): string {
  const b = Buffer.from(made);
  b[i] ^= 1;
  return b.toString('base64url');
}

t.equal(made.length, CHALLENGE_BYTES, `${CHALLENGE_BYTES} bytes`);
t.equal(good.length, 51, 'base64url: 51 characters in the client data');

const cases: Array<[string, { key?: Buffer; bind?: string; challenge?: string; now?: number }, ReturnType<typeof openChallenge>]> = [
  ['its browser, before it lapses', {}, { ok: true, nonce: NONCE.toString('base64url'), expiresAt: EXPIRES }],
  ['its browser, the last millisecond', { now: EXPIRES - 1 }, { ok: true, nonce: NONCE.toString('base64url'), expiresAt: EXPIRES }],
  ['its browser, when it lapses', { now: EXPIRES }, { ok: false, why: 'expired' }],
  ['its browser, a clock that reads NaN (fails closed)', { now: NaN }, { ok: false, why: 'expired' }],
  ['another browser', { bind: 'sid-b' }, { ok: false, why: 'foreign' }],
  ['another browser, after it lapsed: told as another browser', { bind: 'sid-b', now: EXPIRES + 1 }, { ok: false, why: 'foreign' }],
  ['a session id that extends its own', { bind: 'sid-ab' }, { ok: false, why: 'foreign' }],
  ['an empty session id', { bind: '' }, { ok: false, why: 'foreign' }],
  ['another key (an instance with another factors.encryption_key)', { key: OTHER_KEY }, { ok: false, why: 'foreign' }],
  ['the nonce changed', { challenge: flipped(0) }, { ok: false, why: 'foreign' }],
  ['the expiry changed', { challenge: flipped(21) }, { ok: false, why: 'foreign' }],
  ['the MAC changed', { challenge: flipped(CHALLENGE_BYTES - 1) }, { ok: false, why: 'foreign' }],
  ['a random challenge (the library\'s own, 32 bytes)', { challenge: Buffer.alloc(32, 3).toString('base64url') }, { ok: false, why: 'malformed' }],
  ['one byte short', { challenge: made.subarray(1).toString('base64url') }, { ok: false, why: 'malformed' }],
  ['one byte more', { challenge: Buffer.concat([made, Buffer.alloc(1)]).toString('base64url') }, { ok: false, why: 'malformed' }],
  ['padded base64', { challenge: made.toString('base64') }, { ok: false, why: 'malformed' }],
  ['empty', { challenge: '' }, { ok: false, why: 'malformed' }],
  ['not base64url', { challenge: '!'.repeat(51) }, { ok: false, why: 'malformed' }],
];
for (const [name, o, want] of cases) {
  t.same(openChallenge(o.key ?? KEY, o.bind ?? 'sid-a', o.challenge ?? good, o.now ?? EXPIRES - 300_000), want, name);
}

t.test('a second spelling of the same bytes is refused: what was signed is what was given out', async (t) => {
  // The last base64url character of 38 bytes carries 4 bits: its 2 spare bits set spell the same bytes.
  const last = good.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const twin = good.slice(0, -1) + alphabet[alphabet.indexOf(last) | 3];
  t.not(twin, good, 'test premise: another spelling');
  t.same(Buffer.from(twin, 'base64url'), made, 'test premise: the same bytes');
  t.same(openChallenge(KEY, 'sid-a', twin, 0), { ok: false, why: 'malformed' });
});

t.test('sealing refuses what it cannot carry', async (t) => {
  const refused: Array<[string, () => unknown]> = [
    ['a short nonce', () => sealChallenge(KEY, 'sid', Buffer.alloc(15), EXPIRES)],
    ['a negative expiry', () => sealChallenge(KEY, 'sid', NONCE, -1)],
    ['a fractional expiry', () => sealChallenge(KEY, 'sid', NONCE, 1.5)],
    ['an expiry beyond 48 bits', () => sealChallenge(KEY, 'sid', NONCE, 2 ** 48)],
  ];
  for (const [name, fn] of refused) t.throws(fn, RangeError, name);
  t.not(sealChallenge(KEY, 'sid', Buffer.alloc(16, 2), EXPIRES).toString('hex'), made.toString('hex'), 'another nonce, another challenge');
});
