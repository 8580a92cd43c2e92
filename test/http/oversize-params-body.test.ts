// A body the gateway cannot read within policy.inspect_body_max on a path with
// `params` rules (http/gateway.ts readInspectedBody, web/form-body.ts
// readBodyPrefix, proxy/forward.ts bodyPrefix): decided as unread, so the most
// demanding of those rules applies; allowed, the app gets the exact bytes (the
// part read to decide, then the rest of the stream); challenged, nothing
// reaches the app and the usual stash applies. Asserted on the bytes a lenient
// upstream received.

import t, { type Test } from 'tap';
import { Client, type GatewayFixture } from '../helpers/gateway.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import type { LenientUpstream } from '../helpers/lenient-upstream.ts';
import { sendRaw, type RawResponse } from '../helpers/raw-http.ts';
import { enrollTotpOverHttp, passStashedChallenge, passTotp, type TotpDevice } from '../helpers/totp.ts';

const USERS = { alice: { password: 'alice-test-pass' } };
const FORM = 'application/x-www-form-urlencoded';

async function setup(t: Test): Promise<{ f: GatewayFixture; up: LenientUpstream; c: Client; device: TotpDevice }> {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    // method_override pass: the body is read for the params rule alone (no _method reading first).
    routes: [{ path: '/', method_override: 'pass' }],
    config: {
      policy: {
        default: 'login',
        inspect_body_max: '1KiB',
        stash_max_body: '64KiB',
        rules: [{ id: 'db-export', match: { path: '/index.php', params: { route: '/export' } }, require: 'mfa', max_age: '5m' }],
      },
    },
  });
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  f.clock.advance(10 * 60_000);
  const c = new Client(f.url);
  if ((await c.signIn('alice', 'alice-test-pass')).status !== 303) throw new Error('sign-in failed');
  return { f, up, c, device };
}

/** A body of `size` bytes that no params rule could read as the export: ASCII of every kind, form-shaped. */
function bigForm(size: number): string {
  const pad = Array.from({ length: size }, (_, i) => String.fromCharCode(0x30 + (i * 7) % 75)).join('').replace(/[&=+%]/g, 'x');
  return `route=%2Fsql&db=shop&pad=${pad}`.slice(0, size);
}

interface Send { type?: string; chunked?: boolean; navigate?: boolean }
function post(f: GatewayFixture, c: Client, target: string, body: string, o: Send = {}): Promise<RawResponse> {
  const lines = [
    `POST ${target} HTTP/1.1`, `Host: localhost:${f.port}`, `Cookie: ${c.cookieHeader()}`, `Content-Type: ${o.type ?? FORM}`,
    ...(o.navigate ? ['Accept: text/html', 'Sec-Fetch-Mode: navigate', 'Sec-Fetch-Site: same-origin', `Referer: ${f.url}/index.php`] : ['Accept: application/json']),
    o.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
    'Connection: close',
  ];
  let wire = body;
  if (o.chunked) {
    wire = '';
    for (let i = 0; i < body.length; i += 7000) wire += `${Math.min(7000, body.length - i).toString(16)}\r\n${body.slice(i, i + 7000)}\r\n`;
    wire += '0\r\n\r\n';
  }
  return sendRaw(f.port, `${lines.join('\r\n')}\r\n\r\n${wire}`);
}

const CASES: Array<[string, Send, number]> = [
  ['Content-Length form', {}, 200_000],
  ['chunked form', { chunked: true }, 200_000],
  ['chunked form just over the limit', { chunked: true }, 1025],
  ['Content-Length, another content type', { type: 'application/octet-stream' }, 50_000],
  ['chunked, another content type', { type: 'text/plain', chunked: true }, 3000],
];

t.test('with a fresh second factor, a body too large to inspect reaches the app byte for byte', async (t) => {
  const { f, up, c, device } = await setup(t);
  t.equal((await passTotp(c, device, '/')).status, 303, 'stepped up');
  for (const [what, o, size] of CASES) {
    const body = bigForm(size);
    const before = up.requests.length;
    const r = await post(f, c, '/index.php?db=shop', body, o);
    t.equal(r.status, 200, `${what} (${size} bytes): passed`);
    t.equal(up.requests.length, before + 1, `${what}: one request reached the app`);
    const got = up.requests.at(-1)!;
    t.equal(got.target, '/index.php?db=shop');
    t.ok(got.body === body, `${what}: the app got exactly the client's bytes (${got.body.length} of ${body.length})`);
    t.equal(got.header('content-type'), o.type ?? FORM);
  }
});

t.test('with a stale second factor, such a body is challenged and nothing reaches the app', async (t) => {
  const { f, up, c } = await setup(t);
  for (const [what, o, size] of CASES) {
    const r = await post(f, c, '/index.php', bigForm(size), o);
    t.equal(r.status, 401, `${what}: step-up asked`);
    t.match(JSON.parse(r.body), { error: 'mfa_required', challenge: 'step_up', rule: 'db-export' });
  }
  const small = await post(f, c, '/index.php', 'route=%2Fsql&db=shop');
  t.equal(small.status, 200, 'a small form that is not the export passes on the stale factor');
  t.equal(up.requests.length, 1, 'only that one reached the app');
  t.notOk(up.bytes().includes('pad='), 'no byte of the large bodies did');
  // Elsewhere no rule reads bodies: any body streams on.
  const other = await post(f, c, '/other.php', bigForm(5000), { chunked: true });
  t.equal(other.status, 200, 'a path without params rules streams any body');
  t.ok(up.requests.at(-1)!.body === bigForm(5000));

  // Answered after reading only part of the body: the rest is drained, and the connection carries the next request.
  const chunked = `${bigForm(3_000_000)}&end=ONLY-IN-THIS-POST`;
  const first = [`POST /index.php HTTP/1.1`, `Host: localhost:${f.port}`, `Cookie: ${c.cookieHeader()}`, `Content-Type: ${FORM}`, 'Accept: application/json', 'Transfer-Encoding: chunked'];
  const second = [`GET /next.php HTTP/1.1`, `Host: localhost:${f.port}`, `Cookie: ${c.cookieHeader()}`, 'Connection: close'];
  const both = await sendRaw(f.port, `${first.join('\r\n')}\r\n\r\n${chunked.length.toString(16)}\r\n${chunked}\r\n0\r\n\r\n${second.join('\r\n')}\r\n\r\n`);
  t.equal(both.status, 401, 'the POST: step-up asked');
  t.match(both.body, /HTTP\/1\.1 200 OK[\s\S]*seen GET \/next\.php/, 'the next request on the connection was served');
  t.notOk(up.bytes().includes('ONLY-IN-THIS-POST'), 'and none of the POST\'s body reached the app');
});

t.test('a browser\'s oversize POST on the stale factor is kept (read to its end) and replayed byte for byte after the step-up', async (t) => {
  const { f, up, c, device } = await setup(t);
  const body = bigForm(20_000);
  const r = await post(f, c, '/index.php', body, { chunked: true, navigate: true });
  t.equal(r.status, 302, 'challenged');
  const challenge = new URL(/\r\nlocation: ([^\r]+)/i.exec(r.head)![1], f.url);
  const stash = challenge.searchParams.get('stash')!;
  t.ok(stash, 'kept: the part read to decide plus the rest of the stream');
  t.equal(up.requests.length, 0, 'nothing reached the app');
  const passed = await passStashedChallenge(c, challenge, device);
  t.equal(passed.status, 303);
  const replay = await c.fetch(passed.headers.get('location')!);
  t.equal(replay.status, 200, 'the replay is allowed');
  t.equal(up.requests.length, 1);
  t.ok(up.requests[0].body === body, 'the app got the whole body, once');

  const tooBig = await post(f, c, '/index.php', bigForm(100_000), { chunked: true, navigate: true });
  f.clock.advance(10 * 60_000);
  const again = await post(f, c, '/index.php', bigForm(100_000), { chunked: true, navigate: true });
  t.equal(tooBig.status, 200, 'still fresh: passed');
  t.equal(again.status, 302, 'stale again: challenged');
  const loc = new URL(/\r\nlocation: ([^\r]+)/i.exec(again.head)![1], f.url);
  t.equal(loc.searchParams.get('stash'), null, 'over policy.stash_max_body: not kept');
  t.equal(loc.searchParams.get('resubmit'), '1', 'the user is asked to submit again after the check');
  t.equal(up.requests.length, 2, 'the stale one never reached the app');
});
