// The pure rules of push approval: the numbers offered, answering, status at
// a time, what counts toward a suspension, the backoff between pushes.

import t from 'tap';
import { answerPush, backoffAfter, countsAsRefusal, parsePushRequest, pickNumbers, statusAt, type PushRequest } from '../../src/factors/push-core.ts';
import { cleanPushId, pushRef } from '../../src/factors/push.ts';
import { parseSubscription } from '../../src/factors/web-push.ts';
import { DEFAULT_PUSH_SERVICES, onPushService } from '../../src/config/sections/push.ts';
import { amrFor, factorCheck, isPhishingResistant } from '../../src/factors/types.ts';

const base: PushRequest = {
  id: 'req-0123456789abcdef', user: 'alice', purpose: 'challenge', number: 42, choices: [17, 42, 88],
  created: 1_000, expires: 61_000, status: 'pending', context: { app: 'localhost/', action: 'GET /reports', ip: '127.0.0.1' },
};

t.test('pickNumbers: three different two-digit numbers, the shown one among them', async (t) => {
  // A scripted source: duplicates are skipped, the index picks the shown one.
  const script = [5, 5, 80, 89, 2];
  const r = pickNumbers(() => script.shift()!);
  t.same(r, { number: 99, choices: [15, 90, 99] });
  for (let i = 0; i < 200; i++) {
    const x = pickNumbers((n) => Math.floor(Math.random() * n));
    t.equal(new Set(x.choices).size, 3);
    t.ok(x.choices.every((n) => n >= 10 && n <= 99));
    t.ok(x.choices.includes(x.number));
  }
});

t.test('answerPush and statusAt', async (t) => {
  const table: Array<[string, Parameters<typeof answerPush>[1], number, string]> = [
    ['the shown number approves', { choice: 42 }, 30_000, 'approved'],
    ['another offered number is refused', { choice: 17 }, 30_000, 'wrong_number'],
    ['a number never offered is refused', { choice: 55 }, 30_000, 'wrong_number'],
    ['deny', { deny: 'denied' }, 30_000, 'denied'],
    ['not me', { deny: 'not_me' }, 30_000, 'not_me'],
    ['at the deadline nothing is approved', { choice: 42 }, 61_000, 'expired'],
  ];
  for (const [name, answer, now, want] of table) {
    const r = answerPush(base, answer, now);
    t.equal(r.ok ? r.req.status : r.status, want, name);
    if (r.ok) t.equal(r.req.answered_at, now, `${name}: answered_at`);
  }
  const approved = answerPush(base, { choice: 42 }, 2_000);
  t.ok(approved.ok);
  if (approved.ok) t.same(answerPush(approved.req, { deny: 'denied' }, 3_000), { ok: false, status: 'approved' }, 'answered once only');
  const via = answerPush(base, { choice: 42 }, 2_000, 'factor-1');
  t.equal(via.ok && via.req.answered_via, 'factor-1', 'the channel answered is kept');
  t.equal(statusAt(base, 60_999), 'pending');
  t.equal(statusAt(base, 61_000), 'expired');
  t.equal(statusAt({ ...base, status: 'approved' }, 99_000), 'approved', 'an answer stays after the deadline');
});

t.test('refusals, backoff', async (t) => {
  t.same(['pending', 'approved', 'denied', 'not_me', 'wrong_number', 'expired'].map((s) => countsAsRefusal(s as PushRequest['status'])), [false, false, true, true, true, true]);
  t.same([0, 1, 2, 3, 4].map((n) => backoffAfter(n, 5_000)), [0, 5_000, 10_000, 20_000, 40_000]);
  t.equal(backoffAfter(3, 0), 0, 'backoff 0 turns it off');
});

t.test('parsePushRequest, ids, amr', async (t) => {
  t.same(parsePushRequest(JSON.stringify(base)), base);
  for (const bad of [null, '', 'x', '{}', '[]', JSON.stringify({ ...base, number: 'x' })]) t.equal(parsePushRequest(bad), undefined, String(bad));
  t.equal(cleanPushId('abcdefghijklmnop'), 'abcdefghijklmnop');
  for (const bad of [undefined, '', 'short', 'a'.repeat(65), 'abcdefghijklmno/', 42]) t.equal(cleanPushId(bad), undefined, String(bad));
  t.equal(pushRef('x').length, 12);
  t.not(pushRef('a'), pushRef('b'));
  t.equal(amrFor('push'), 'mca');
  t.equal(isPhishingResistant('push'), false, 'push is not phishing-resistant');
  t.same(factorCheck('push', 5), { kind: 'push', amr: 'mca', phishing_resistant: false, at: 5 });
});

t.test('onPushService: only the allowed push services, scheme, host and port exact; *. for subdomains', async (t) => {
  const services = [...DEFAULT_PUSH_SERVICES, 'http://127.0.0.1:9999'];
  const table: Array<[string, boolean]> = [
    ['https://fcm.googleapis.com/fcm/send/abc', true],
    ['https://updates.push.services.mozilla.com/wpush/v2/x', true],
    ['https://web.push.apple.com/QG', true],
    ['https://wns2-par02p.notify.windows.com/w/?token=x', true],
    ['https://notify.windows.com/w', false],                  // *. needs a subdomain
    ['http://fcm.googleapis.com/fcm/send/abc', false],        // scheme
    ['https://fcm.googleapis.com:8443/x', false],             // port
    ['https://fcm.googleapis.com.evil.example/x', false],
    ['https://evilfcm.googleapis.com/x', false],
    ['https://user:pw@fcm.googleapis.com/x', false],
    ['http://127.0.0.1:9999/push/1', true],
    ['http://127.0.0.1:9998/push/1', false],
    ['http://127.0.0.1/push/1', false],
    ['not a url', false],
  ];
  for (const [endpoint, want] of table) t.equal(onPushService(endpoint, services), want, endpoint);
});

t.test('parseSubscription: what a browser sends, checked', async (t) => {
  const p256dh = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url');
  const auth = Buffer.alloc(16, 1).toString('base64url');
  const ok = { endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: { p256dh, auth } };
  const services = [...DEFAULT_PUSH_SERVICES];
  t.same(parseSubscription(JSON.stringify(ok), services), { ok: true, sub: ok });
  const bad: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{', /not JSON/],
    ['no endpoint', { keys: ok.keys }, /no endpoint/],
    ['endpoint elsewhere', { ...ok, endpoint: 'https://example.com/x' }, /not on an allowed push service/],
    ['short key', { ...ok, keys: { p256dh: 'AAAA', auth } }, /p256dh/],
    ['compressed point', { ...ok, keys: { p256dh: Buffer.concat([Buffer.from([2]), Buffer.alloc(64)]).toString('base64url'), auth } }, /p256dh/],
    ['short auth', { ...ok, keys: { p256dh, auth: 'AAAA' } }, /auth/],
    ['huge', 'x'.repeat(5000), /too long/],
  ];
  for (const [name, raw, why] of bad) {
    const r = parseSubscription(typeof raw === 'string' ? raw : JSON.stringify(raw), services);
    t.equal(r.ok, false, name);
    if (!r.ok) t.match(r.reason, why, name);
  }
});
