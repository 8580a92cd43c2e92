// The pure rules of push approval: the numbers offered, answering, status at
// a time, what counts toward a suspension, the backoff between pushes.

import t from 'tap';
import { answerPush, backoffAfter, countsAsRefusal, parsePushRequest, pickNumbers, statusAt, type PushRequest } from '../../src/factors/push-core.ts';
import { cleanPushId, pushRef } from '../../src/factors/push.ts';
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
