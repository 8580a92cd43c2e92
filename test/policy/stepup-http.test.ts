// Step-up over plain HTTP (real gateway, real demo portal): API clients get
// 401 JSON; a multipart upload survives the challenge and is replayed once; a
// body over policy.stash_max_body gets the "submit again" page; a stash is
// completed only by the sign-in that made it; factor guessing is throttled;
// deferrals are counted; SMS codes travel through the webhook notifier.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { startTestGateway, Client, type GatewayFixture, type TestClock } from '../helpers/gateway.ts';
import { TOTP_PERIOD_MS, totpCode } from '../helpers/totp.ts';
import { eventually } from '../helpers/eventually.ts';

/** The code `offsetSteps` TOTP steps from the gateway's now. */
function totpAt(f: GatewayFixture, secret: string, offsetSteps: number): string {
  return totpCode(secret.replace(/\s+/g, ''), f.clock.now() + offsetSteps * TOTP_PERIOD_MS);
}

/** The factor check just made goes stale (the rules' max_age is 1s). */
function pastMaxAge(clock: TestClock): void {
  clock.advance(1100);
}

/** Enrolls TOTP for a signed-in client; returns the secret and the recovery codes. */
async function enrollTotp(f: GatewayFixture, c: Client): Promise<{ secret: string; codes: string[] }> {
  const html = await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)![1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
  const r = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/', action: 'totp', code: totpAt(f, secret, 0) });
  if (r.status !== 303) throw new Error(`enrollment failed: ${r.status}`);
  const rec = await (await c.fetch(r.headers.get('location')!)).text();
  return { secret, codes: [...rec.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]) };
}

const RULES = {
  policy: {
    default: 'login',
    stash_max_body: '64KiB',
    rules: [{ id: 'uploads', match: { path: '/echo/upload/**', methods: ['POST'] }, require: 'mfa', max_age: '1s', factors: ['totp', 'recovery'] }],
  },
  rollout: { grace_until: '2099-12-31', max_deferrals: 2 },
};

async function signedInWithTotp(f: GatewayFixture, user = 'alice'): Promise<{ c: Client; secret: string; codes: string[] }> {
  const c = new Client(f.url);
  await c.signIn(user, `${user}-test-pass`, '/');
  const { secret, codes } = await enrollTotp(f, c);
  pastMaxAge(f.clock); // the enrollment's factor check
  return { c, secret, codes };
}

function multipart(size: number): { body: Buffer; type: string; sha: string } {
  const boundary = '----gatehouse-test-boundary';
  const file = Buffer.alloc(size, 7);
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nquarterly\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}`, sha: createHash('sha256').update(body).digest('hex') };
}

t.test('step-up over HTTP', async (t) => {
  const f = await startTestGateway({ config: RULES });
  t.teardown(() => f.close());
  const { c, secret, codes } = await signedInWithTotp(f);
  // The enrollment's check is stale now; from here only pastMaxAge moves the
  // gateway's clock, so a replay right after a passed check is within max_age
  // however long a loaded machine takes.
  f.clock.hold();
  t.teardown(() => f.clock.release());

  await t.test('API clients get 401 JSON with the challenge URL', async (t) => {
    const variants: Array<Record<string, string>> = [{ accept: 'application/json', 'sec-fetch-mode': 'cors' }, { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }];
    for (const headers of variants) {
      const r = await c.fetch('/echo/upload/x', { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' });
      t.equal(r.status, 401);
      const body = await r.json() as Record<string, unknown>;
      t.equal(body.error, 'mfa_required', 'every second-factor challenge is mfa_required');
      t.equal(body.challenge, 'step_up', 'the kind says it is a step-up');
      t.equal(body.rule, 'uploads');
      t.match(String(body.challenge_url), new RegExp(`^${f.url}/\\.gatehouse/challenge\\?rd=`));
    }
    t.equal(f.portal!.received.filter((r) => r.url.startsWith('/echo/upload')).length, 0, 'nothing reached the app');
  });

  await t.test('a multipart upload survives the challenge and is replayed exactly once', async (t) => {
    const { body, type, sha } = multipart(40_000);
    const r = await c.fetch('/echo/upload/report', { method: 'POST', headers: { 'content-type': type, referer: `${f.url}/upload-form`, origin: f.url }, body: body as unknown as string });
    t.equal(r.status, 302, 'a navigation is sent to the challenge');
    const challenge = r.headers.get('location')!;
    t.match(challenge, /stash=/);
    const page = await (await c.fetch(challenge)).text();
    t.match(page, /After you confirm, your POST to \/echo\/upload\/report is sent\./, 'the challenge page says what passing completes');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
    const q = new URL(challenge, f.url).searchParams;
    const passed = await c.postForm('/.gatehouse/challenge', { csrf, rd: q.get('rd')!, rule: q.get('rule')!, stash: q.get('stash')!, method: 'totp', code: totpAt(f, secret, 1) });
    t.equal(passed.status, 303);
    const resume = passed.headers.get('location')!;
    t.match(resume, /^\/echo\/upload\/report\?__gatehouse_resume=/);
    const answer = await c.fetch(resume, { headers: { accept: 'application/json' } });
    t.equal(answer.status, 200, 'the app answers the replayed request');
    const seen = f.portal!.received.filter((x) => x.url === '/echo/upload/report');
    t.equal(seen.length, 1, 'the app received it once');
    t.equal(seen[0].method, 'POST');
    t.equal(seen[0].bodySha256, sha, 'with the original multipart body, byte for byte');
    t.match(String(seen[0].headers['content-type']), /^multipart\/form-data; boundary=/);
    const again = await c.fetch(resume);
    t.equal(again.status, 302, 'replaying the resume URL again replays nothing');
    t.equal(again.headers.get('location'), '/upload-form', 'it lands on the form page');
    t.equal(f.portal!.received.filter((x) => x.url === '/echo/upload/report').length, 1);
  });

  await t.test('a body over stash_max_body asks to submit again after the check', async (t) => {
    pastMaxAge(f.clock);
    const r = await c.fetch('/echo/upload/big', { method: 'POST', headers: { 'content-type': 'application/octet-stream', referer: `${f.url}/big-form`, 'sec-fetch-site': 'same-origin' }, body: Buffer.alloc(100_000, 1) as unknown as string });
    t.equal(r.status, 302);
    const loc = r.headers.get('location')!;
    t.match(loc, /resubmit=1/);
    t.notMatch(loc, /stash=/, 'nothing is kept');
    t.match(decodeURIComponent(loc), /rd=\/big-form/, 'the user comes back to the form');
    t.match(await (await c.fetch(loc)).text(), /submit it again/);
    t.equal(f.portal!.received.filter((x) => x.url === '/echo/upload/big').length, 0);
  });

  await t.test('a stash can only be completed by the sign-in that made it', async (t) => {
    pastMaxAge(f.clock);
    const r = await c.fetch('/echo/upload/mine', { method: 'POST', headers: { 'content-type': 'text/plain', origin: f.url }, body: 'only mine' });
    const challenge = r.headers.get('location')!;
    const q = new URL(challenge, f.url).searchParams;
    const stash = q.get('stash')!;
    // Another sign-in of the same user names the stash: nothing is replayed, and the stash survives.
    const other = new Client(f.url);
    await other.signIn('alice', 'alice-test-pass', '/');
    const stolen = await other.fetch(`/echo/upload/mine?__gatehouse_resume=${stash}`);
    t.equal(stolen.status, 302, 'no replay for another session');
    t.equal(f.portal!.received.filter((x) => x.url === '/echo/upload/mine').length, 0, 'the app never saw it');
    // The owner passes the check (with a recovery code) and gets the request through, once.
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await c.fetch(challenge)).text())![1];
    const passed = await c.postForm('/.gatehouse/challenge', { csrf, rd: q.get('rd')!, rule: q.get('rule')!, stash, method: 'recovery', code: codes[0] });
    t.equal(passed.status, 303);
    t.equal((await c.fetch(passed.headers.get('location')!, { headers: { accept: 'application/json' } })).status, 200);
    t.equal(f.portal!.received.filter((x) => x.url === '/echo/upload/mine').length, 1, 'the owner replays it once');
  });
});

t.test('guessing second-factor codes is throttled', async (t) => {
  const f = await startTestGateway({ config: RULES });
  t.teardown(() => f.close());
  const { secret } = await signedInWithTotp(f, 'bob');
  const g = new Client(f.url);
  await g.signIn('bob', 'bob-test-pass', '/');
  const page = await (await g.fetch('/.gatehouse/challenge?rd=%2F&method=totp')).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  f.clock.hold(); // the waits run on the gateway's clock, not on how long a loaded machine takes
  t.teardown(() => f.clock.release());
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    statuses.push((await g.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: String(100000 + i) })).status);
  }
  t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401], 'the first wrong codes are refused');
  t.ok(statuses.slice(5).includes(429), 'then the user must wait');
  const right = await g.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: totpAt(f, secret, 1) });
  t.equal(right.status, 429, 'even the right code waits out the lockout');
  t.match(await right.text(), /Too many attempts/);
});

t.test('deferrals are counted and end at max_deferrals', async (t) => {
  const f = await startTestGateway({ config: { ...RULES, policy: { default: 'mfa' } } });
  t.teardown(() => f.close());
  for (const left of [2, 1]) {
    const c = new Client(f.url);
    await c.signIn('bob', 'bob-test-pass', '/echo');
    const pick = await (await c.fetch('/.gatehouse/enroll?rd=%2Fecho')).text();
    t.match(pick, new RegExp(`Set up later \\(${left} left\\)`));
    const csrf = /name="csrf" value="([^"]+)"/.exec(pick)![1];
    const r = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'defer' });
    t.equal(r.status, 303);
    t.equal((await c.fetch('/echo', { headers: { accept: 'application/json' } })).status, 200, 'deferred: the app is reachable');
  }
  const c = new Client(f.url);
  await c.signIn('bob', 'bob-test-pass', '/echo');
  const pick = await (await c.fetch('/.gatehouse/enroll?rd=%2Fecho')).text();
  t.notMatch(pick, /Set up later/, 'no deferral left');
  const csrf = await c.csrf('/.gatehouse/logout');
  t.equal((await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'defer' })).status, 403, 'and a forged one is refused');
  t.equal((await c.fetch('/echo')).status, 302, 'enrollment is required');
});

t.test('SMS codes through the webhook notifier', async (t) => {
  const texts: Array<{ to: string; text: string }> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { texts.push(JSON.parse(body)); res.writeHead(202).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => receiver.close());
  const port = (receiver.address() as { port: number }).port;
  const f = await startTestGateway({
    config: {
      policy: { default: 'mfa' },
      factors: { sms_otp: { ttl: '5m', length: 6 } },
      notifier: { kind: 'webhook', url: `http://127.0.0.1:${port}/sms`, headers: { authorization: 'Bearer test' }, body_template: '{"to": "{{to}}", "text": "{{text}}"}' },
    },
  });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass', '/echo');
  const pick = await (await c.fetch('/.gatehouse/enroll?rd=%2Fecho')).text();
  t.match(pick, /Text message code/, 'SMS is offered once configured');
  const form = await (await c.fetch('/.gatehouse/enroll?rd=%2Fecho&method=sms')).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(form)![1];
  t.equal((await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'sms-send', phone: 'not a number' })).status, 400, 'a bad number is refused');
  const sent = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'sms-send', phone: '+44 7700 900123' });
  t.equal(sent.status, 200);
  await eventually(() => texts.length > 0, 10_000);
  t.equal(texts.length, 1, 'the webhook received one message');
  t.equal(texts[0].to, '+447700900123', 'to the normalized number');
  const code = /\b(\d{6})\b/.exec(texts[0].text)![1];
  const done = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'sms-confirm', code });
  t.equal(done.status, 303, 'the texted code confirms the phone');
  t.match(done.headers.get('location'), /step=recovery/);
  const echo = await c.fetch('/echo', { headers: { accept: 'application/json' } });
  t.match((await echo.json() as { headers: Record<string, string> }).headers['x-gatehouse-auth-methods'], /pwd sms/);
});
