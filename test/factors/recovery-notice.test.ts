// Recovery code use is notified by email (README "Rollout guide"). Signing in
// with a recovery code as the second factor sends the user one message saying a
// recovery code was used (and how many are left), and writes a recovery.used
// audit record. A TOTP sign-in, a wrong recovery code and a reused one send no
// such message.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, Client, readAudit, type GatewayFixture } from '../helpers/gateway.ts';
import { enrollTotp, passTotp } from '../helpers/totp.ts';
import { eventually } from '../helpers/eventually.ts';

interface OutboxLine { to: string; subject: string; text: string; kind: string }

const MFA = { policy: { default: 'mfa' }, rollout: { grace_until: '2099-12-31' } };
const SUBJECT = 'A recovery code was used for your gatehouse account'; // email.recovery_used.subject (en), product gatehouse

function outbox(f: GatewayFixture): OutboxLine[] {
  try {
    return readFileSync(join(f.dir, 'outbox.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutboxLine);
  } catch {
    return [];
  }
}

/**
 * Every message the gateway had sent before this call is in the outbox file
 * after it: the file notifier writes in send order, so once a marker sent now
 * is written, everything queued before it is too.
 */
let markers = 0;
async function settled(f: GatewayFixture): Promise<OutboxLine[]> {
  await f.gw.services.notifier.send({ to: 'marker@example.com', subject: 'marker', text: `marker ${++markers}`, kind: 'test_marker' });
  return outbox(f).filter((m) => m.kind !== 'test_marker');
}

const recoveryNotices = (lines: OutboxLine[]) => lines.filter((m) => m.kind === 'recovery_code_used');

async function challengeCsrf(c: Client, method: string): Promise<string> {
  return c.csrf(`/.gatehouse/challenge?rd=%2Fecho&method=${method}`);
}

t.test('a sign-in with a recovery code notifies the user by email, once, and is audited', async (t) => {
  const f = await startTestGateway({ config: MFA });
  t.teardown(() => f.close());

  // Enroll TOTP and take the recovery codes shown after it.
  const setup = new Client(f.url);
  await setup.signIn('alice', 'alice-test-pass', '/');
  const { r: enrolled, device } = await enrollTotp(setup, '/', f.clock);
  t.equal(enrolled.status, 303);
  const codesPage = await (await setup.fetch(enrolled.headers.get('location')!)).text();
  const codes = [...codesPage.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  t.equal(codes.length, 10, 'ten recovery codes');

  // Control: a TOTP sign-in sends no recovery notice.
  const viaTotp = new Client(f.url);
  await viaTotp.signIn('alice', 'alice-test-pass', '/echo');
  t.equal((await passTotp(viaTotp, device, '/echo')).status, 303, 'signed in with TOTP');
  t.same(recoveryNotices(await settled(f)), [], 'no recovery notice for a TOTP sign-in');

  // A wrong recovery code: refused, no notice.
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass', '/echo');
  const csrf = await challengeCsrf(c, 'recovery');
  const wrong = await c.postForm('/.gatehouse/challenge', { csrf, rd: '/echo', method: 'recovery', code: 'aaaaa-bbbbb' });
  t.equal(wrong.status, 401, 'a wrong recovery code is refused');
  t.same(recoveryNotices(await settled(f)), [], 'no notice for a wrong code');

  const used = await c.postForm('/.gatehouse/challenge', { csrf, rd: '/echo', method: 'recovery', code: codes[0] });
  t.equal(used.status, 303, 'the recovery code is accepted');
  t.match(used.headers.get('location'), /^\/\.gatehouse\/enroll\?.*why=recovery-used/, 'the user is offered a replacement factor');
  t.equal((await c.fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } })).status, 200, 'the recovery code signed the browser in');

  // The notice goes out in the background: wait for it, then make sure everything sent so far is written.
  t.ok(await eventually(() => recoveryNotices(outbox(f)).length > 0), 'a recovery notice reaches the outbox');
  const notices = recoveryNotices(await settled(f));
  t.equal(notices.length, 1, 'exactly one');
  t.equal(notices[0].to, 'alice@example.com', "to the user's email address");
  t.equal(notices[0].subject, SUBJECT, 'saying a recovery code was used');
  t.match(notices[0].text, 'A recovery code was just used to sign in to your gatehouse account.');
  t.match(notices[0].text, 'You have 9 recovery codes left.', 'with the count left');

  await f.gw.services.audit.flush();
  const audited = readAudit(f).filter((e) => e.event === 'recovery.used');
  t.equal(audited.length, 1, 'one recovery.used audit record');
  t.match(audited[0], { event: 'recovery.used', user: 'alice', remaining: 9 });

  // The same code again (another browser): refused, no second notice, no second record.
  const replay = new Client(f.url);
  await replay.signIn('alice', 'alice-test-pass', '/echo');
  const csrf2 = await challengeCsrf(replay, 'recovery');
  const reused = await replay.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/echo', method: 'recovery', code: codes[0] });
  t.equal(reused.status, 401, 'a used recovery code is refused');
  t.equal(recoveryNotices(await settled(f)).length, 1, 'still one notice');
  await f.gw.services.audit.flush();
  t.equal(readAudit(f).filter((e) => e.event === 'recovery.used').length, 1, 'still one audit record');

  // Each use is told: the next code sends a second notice with the new count.
  const next = await replay.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/echo', method: 'recovery', code: codes[1] });
  t.equal(next.status, 303, 'another recovery code is accepted');
  t.ok(await eventually(() => recoveryNotices(outbox(f)).length > 1), 'a second notice reaches the outbox');
  const both = recoveryNotices(await settled(f));
  t.equal(both.length, 2, 'one notice per use');
  t.match(both[1], { to: 'alice@example.com', subject: SUBJECT });
  t.match(both[1].text, 'You have 8 recovery codes left.');
});
