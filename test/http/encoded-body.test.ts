// What the app reads of a body is not always what its bytes say. A form with a
// Content-Encoding (gzip, deflate, …) is decoded by the app or a filter in
// front of it (Apache's mod_deflate input filter) before its fields are read,
// so the gateway does not decide on its bytes as fields: a params rule decides
// it as unread (the most demanding applies; such bytes were in doubt before
// only by the control bytes compressed data happens to hold), and a route that
// judges `_method` refuses it (400: the method the app will run cannot be
// known). A request with two Content-Types is refused: the gateway would read
// the body by one, the app perhaps by the other. Asserted on the bytes the
// upstream got.

import t, { type Test } from 'tap';
import { deflateSync, gzipSync } from 'node:zlib';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import type { LenientUpstream } from '../helpers/lenient-upstream.ts';
import { Client, type GatewayFixture } from '../helpers/gateway.ts';
import { sendRaw } from '../helpers/raw-http.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';

const USERS = { alice: { password: 'alice-test-pass' } };
const FORM = 'application/x-www-form-urlencoded';

async function setup(t: Test): Promise<{ f: GatewayFixture; up: LenientUpstream; c: Client }> {
  const { f, up } = await startLenientGateway(t, {
    users: USERS,
    routes: [{ path: '/app/', strip_prefix: false }, { path: '/', method_override: 'pass' }],
    config: {
      policy: {
        default: 'login',
        rules: [
          { id: 'db-export', match: { path: '/index.php', params: { route: '/export' } }, require: 'mfa', max_age: '5m' },
          { id: 'no-delete', match: { path: '/app/items/*', methods: ['DELETE'] }, require: 'deny' },
        ],
      },
    },
  });
  await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  f.clock.advance(10 * 60_000);
  const c = new Client(f.url);
  if ((await c.signIn('alice', 'alice-test-pass')).status !== 303) throw new Error('sign-in failed');
  return { f, up, c };
}

function post(c: Client, target: string, body: Buffer | string, encoding?: string): Promise<Response> {
  return c.fetch(target, {
    method: 'POST',
    headers: { 'content-type': FORM, accept: 'application/json', 'sec-fetch-mode': 'cors', ...(encoding ? { 'content-encoding': encoding } : {}) },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

t.test('a compressed form is not read as if it were the form: the params rule applies, nothing reaches the app', async (t) => {
  const { up, c } = await setup(t);
  const form = 'route=%2Fexport&db=shop';
  for (const [encoding, bytes] of [['gzip', gzipSync(form)], ['deflate', deflateSync(form)], ['GZip', gzipSync(form)], ['gzip, identity', gzipSync(form)]] as const) {
    const r = await post(c, '/index.php', bytes, encoding);
    t.equal(r.status, 401, `Content-Encoding: ${encoding}: the step-up is asked`);
    t.match(await r.json(), { error: 'mfa_required', challenge: 'step_up', rule: 'db-export' });
  }
  t.equal(up.requests.length, 0, 'no compressed export reached the app on a stale factor');

  const plain = await post(c, '/index.php', 'route=%2Fsql&db=shop', 'identity');
  t.equal(plain.status, 200, 'Content-Encoding: identity is the form itself: read and passed');
  t.equal(up.requests.at(-1)?.body, 'route=%2Fsql&db=shop');
  t.equal((await post(c, '/index.php', 'route=%2Fexport&db=shop')).status, 401, 'the plain export is still asked for');
});

t.test('a compressed form on a route that judges _method is refused, not guessed', async (t) => {
  const { up, c } = await setup(t);
  const r = await post(c, '/app/items/1', gzipSync('_method=DELETE'), 'gzip');
  t.equal(r.status, 400, 'refused');
  t.match(await r.json(), { error: 'bad_request', message: /compressed form/ });
  t.equal(up.requests.length, 0, 'nothing reached the app');
  t.equal((await post(c, '/app/items/1', 'a=1')).status, 200, 'a plain form without _method passes');
  t.equal((await post(c, '/app/items/1', '_method=DELETE')).status, 403, 'a plain _method=DELETE is judged as DELETE');
});

t.test('two Content-Types: refused, since the gateway and the app may each read the body by another', async (t) => {
  const { f, up, c } = await setup(t);
  // As urlencoded: one field "--X" whose value cannot be read (harmless). As multipart with boundary "X=": route=/export.
  const body = '--X=\r\nContent-Disposition: form-data; name="route"\r\n\r\n/export\r\n--X=--\r\n';
  const head = [
    'POST /index.php HTTP/1.1', `Host: localhost:${f.port}`, `Cookie: ${c.cookieHeader()}`, 'Accept: application/json',
    `Content-Type: ${FORM}`, 'Content-Type: multipart/form-data; boundary="X="', `Content-Length: ${body.length}`, 'Connection: close',
  ];
  const r = await sendRaw(f.port, `${head.join('\r\n')}\r\n\r\n${body}`);
  t.equal(r.status, 400, 'refused');
  t.equal(up.requests.length, 0, 'nothing reached the app');
  const one = await sendRaw(f.port, `${head.filter((l) => !l.startsWith('Content-Type: multipart')).join('\r\n')}\r\n\r\n${body}`);
  t.equal(one.status, 200, 'the same body with one Content-Type (urlencoded) is read as the app will: passed');
});
