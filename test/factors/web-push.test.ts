// Web Push delivery against a local push-service stand-in: a real HTTP server
// that takes the gateway's messages as a push service would (RFC 8030), checks
// the VAPID header (RFC 8292: an ES256 JWT verified with jose against the key
// in `k=`, the same key the enrollment page gave the browser) and decrypts the
// body with the fake subscription's private key and auth secret (RFC 8291,
// aes128gcm, node:crypto only). The decrypted approval link then approves the
// enrollment and a sign-in, with the number the page shows.

import t, { type Test } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';

interface Received { headers: IncomingMessage['headers']; body: Buffer; path: string }

/** The push service stand-in: keeps what it gets, answers `status` (201 Created, or 410 Gone to play a dropped subscription). */
async function pushService(t: Test) {
  const got: Received[] = [];
  const state = { status: 201 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks), path: req.url ?? '' });
      res.writeHead(state.status, { location: `/m/${got.length}` }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, state };
}

/** A browser's subscription, faked: a P-256 key pair and an auth secret (RFC 8291 §3). */
function fakeSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, json: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } };
}

/** RFC 8291 §3.4 and RFC 8188: one aes128gcm record, decrypted with the user agent's keys. */
function decrypt(body: Buffer, ecdh: ReturnType<typeof createECDH>, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65 || record.length > rs) throw new Error(`unexpected header: idlen ${idlen}, rs ${rs}, record ${record.length}`);
  const secret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** RFC 8292 §3: `vapid t=JWT, k=KEY`; the JWT verified against k. Returns its claims and k. */
async function checkVapid(t: Test, header: string | undefined, audience: string) {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? '');
  t.ok(m, `Authorization is "vapid t=…, k=…" (${header})`);
  const point = Buffer.from(m![2], 'base64url');
  t.equal(point.length, 65, 'k is an uncompressed P-256 point');
  const key = await importJWK({ kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, 'ES256');
  const { payload, protectedHeader } = await jwtVerify(m![1], key, { algorithms: ['ES256'], audience });
  t.equal(protectedHeader.alg, 'ES256');
  return { claims: payload, k: m![2] };
}

const html = async (r: Response) => r.text();
const attr = (page: string, re: RegExp) => re.exec(page)?.[1] ?? '';

t.test('Web Push: enroll this browser, then approve a sign-in from the notification', async (t) => {
  const ps = await pushService(t);
  const f = await startTestGateway({
    config: {
      policy: { default: 'mfa' },
      rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' },
      factors: { push: { backoff: 0, web_push: { subject: 'mailto:ops@example.com', push_services: [ps.origin] } } },
    },
  });
  t.teardown(() => f.close());

  const browser = new Client(f.url);
  await browser.signIn('alice', 'alice-test-pass', '/reports');
  const enroll = await html(await browser.fetch('/.gatehouse/enroll?rd=%2Freports&method=push'));
  const vapidKey = attr(enroll, /data-vapid-key="([\w-]+)"/);
  t.equal(Buffer.from(vapidKey, 'base64url').length, 65, 'the page gives the browser the VAPID public key');
  const csrf = attr(enroll, /name="csrf" value="([^"]+)"/);

  // A subscription on a push service not allowed is refused, and nothing is sent anywhere.
  const elsewhere = fakeSubscription('https://push.evil.example/abc');
  const refused = await browser.postForm('/.gatehouse/enroll', { csrf, rd: '/reports', action: 'push-subscribe', subscription: JSON.stringify(elsewhere.json) });
  t.equal(refused.status, 400);
  t.match(await refused.text(), /push service cannot be used here/);
  t.equal(ps.got.length, 0);

  const phone = fakeSubscription(`${ps.origin}/push/sub-1`);
  const waiting = await html(await browser.postForm('/.gatehouse/enroll', { csrf, rd: '/reports', action: 'push-subscribe', subscription: JSON.stringify(phone.json) }));
  const number = Number(attr(waiting, /data-push-number[^>]*>(\d+)</));
  const pushId = attr(waiting, /name="push_id" value="([\w-]+)"/);
  t.ok(number >= 10 && number <= 99, 'the page shows the number');
  t.equal(ps.got.length, 1, 'the push service got one message');

  const [msg] = ps.got;
  t.equal(msg.path, '/push/sub-1', 'posted to the subscription endpoint');
  t.equal(msg.headers['content-encoding'], 'aes128gcm');
  t.equal(msg.headers['content-type'], 'application/octet-stream');
  t.equal(msg.headers.urgency, 'high');
  t.ok(Number(msg.headers.ttl) > 0 && Number(msg.headers.ttl) <= 60, `TTL within the push timeout (${msg.headers.ttl})`);
  const vapid = await checkVapid(t, msg.headers.authorization, ps.origin);
  t.equal(vapid.k, vapidKey, 'signed with the key the browser subscribed with');
  t.equal(vapid.claims.sub, 'mailto:ops@example.com', 'the operator contact');
  t.ok(Number(vapid.claims.exp) * 1000 > Date.now() && Number(vapid.claims.exp) * 1000 <= Date.now() + 24 * 3_600_000, 'exp within 24 h');

  const payload = JSON.parse(decrypt(msg.body, phone.ecdh, phone.auth)) as Record<string, string>;
  t.same(Object.keys(payload).sort(), ['body', 'tag', 'title', 'url'], 'title, body, link; never the number');
  t.match(payload.url, new RegExp(`^${f.url}/\\.gatehouse/push\\?t=[\\w-]+$`), 'the approval link');
  t.match(payload.title, /Confirm/);

  // The phone opens the link and taps the number.
  const phoneBrowser = new Client(f.url);
  const approve = await html(await phoneBrowser.fetch(payload.url.slice(f.url.length)));
  const token = attr(approve, /name="t" value="([\w-]+)"/);
  const answered = await phoneBrowser.postForm('/.gatehouse/push', { t: token, answer: String(number) });
  t.match(await answered.text(), /data-push-outcome="approved"/);
  const confirmed = await browser.postForm('/.gatehouse/enroll', { csrf, rd: '/reports', action: 'push-confirm', push_id: pushId });
  t.equal(confirmed.status, 303);
  t.match(confirmed.headers.get('location'), /step=recovery/, 'enrolled: on to the recovery codes');
  const [factor] = await f.gw.services.store.listFactors('alice');
  t.equal(factor.kind, 'push');
  t.equal(factor.data.channel, 'web_push');
  t.equal(factor.data.service, ps.origin, 'the push service is shown');
  t.match(factor.name, /^Notifications: /, 'named after the browser that subscribed');
  t.notMatch(JSON.stringify(factor.data), /sub-1|p256dh/, 'the subscription is sealed at rest');
  const vapidRecord = await f.gw.services.store.getServiceKey('vapid');
  t.equal(vapidRecord?.public, vapidKey, 'the VAPID key pair is in the store');
  t.match(vapidRecord?.sealed_private, /^v1\./, 'its private half sealed');

  // A sign-in: the notification's link approves it.
  const later = new Client(f.url);
  await later.signIn('alice', 'alice-test-pass', '/reports');
  const page = await html(await later.fetch('/.gatehouse/challenge?rd=%2Freports&method=push'));
  const csrf2 = attr(page, /name="csrf" value="([^"]+)"/);
  const sent = await html(await later.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/reports', method: 'push', send: '1' }));
  const number2 = Number(attr(sent, /data-push-number[^>]*>(\d+)</));
  t.equal(ps.got.length, 2, 'the sign-in push went to the phone');
  const signinPayload = JSON.parse(decrypt(ps.got[1].body, phone.ecdh, phone.auth)) as Record<string, string>;
  t.match(signinPayload.body, /GET \/reports from 127\.0\.0\.1/, 'the notification says what is approved');
  await checkVapid(t, ps.got[1].headers.authorization, ps.origin);
  const approve2 = await html(await phoneBrowser.fetch(signinPayload.url.slice(f.url.length)));
  await phoneBrowser.postForm('/.gatehouse/push', { t: attr(approve2, /name="t" value="([\w-]+)"/), answer: String(number2) });
  const done = await later.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/reports', method: 'push', push_id: attr(sent, /name="push_id" value="([\w-]+)"/) });
  t.equal(done.status, 303);
  t.equal(done.headers.get('location'), '/reports', 'signed in');

  // The push service drops the subscription (410 Gone): the page says the phone was not reached, and the channel goes.
  ps.state.status = 410;
  const again = new Client(f.url);
  await again.signIn('alice', 'alice-test-pass', '/reports');
  const page3 = await html(await again.fetch('/.gatehouse/challenge?rd=%2Freports&method=push'));
  const failed = await again.postForm('/.gatehouse/challenge', { csrf: attr(page3, /name="csrf" value="([^"]+)"/), rd: '/reports', method: 'push', send: '1' });
  t.equal(failed.status, 502);
  t.match(await failed.text(), /could not reach your phone/);
  t.ok(f.logs.some((l) => l.msg === 'push delivered on no channel' && JSON.stringify(l.failed).includes('410')), 'the operator log says why');
  t.same(await f.gw.services.store.listFactors('alice'), [], 'the gone subscription is removed');
  t.ok(readAudit(f).some((e) => e.event === 'factor.removed' && e.user === 'alice' && e.factor === 'push' && e.factor_id === factor.id), 'its removal is audited');
  // The notice goes out after the answer: wait for the line (bounded), no fixed sleep.
  const told = () => readFileSync(join(f.dir, 'outbox.log'), 'utf8').includes('"kind":"factor_removed"');
  for (const deadline = Date.now() + 5_000; !told() && Date.now() < deadline;) await new Promise((r) => setImmediate(r));
  t.ok(told(), 'and the user is told');
});
