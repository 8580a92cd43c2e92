// Method overrides (routes[].method_override): rules see the method the app
// will run. The upstream here is a lenient legacy app that would honour
// X-HTTP-Method-Override or a `_method` field: what matters is which bytes
// reach it.

import t, { type Test } from 'tap';
import type { GatewayFixture } from '../helpers/gateway.ts';
import type { LenientUpstream } from '../helpers/lenient-upstream.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { sendRaw } from '../helpers/raw-http.ts';

async function setup(t: Test): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const { f, up } = await startLenientGateway(t, {
    routes: [
      { path: '/' },
      { path: '/strict', method_override: 'reject' },
      { path: '/plain', method_override: 'pass' },
    ],
    config: {
      policy: {
        default: 'none',
        stash_max_body: '4KiB',
        rules: [{ id: 'no-delete', match: { path: ['/items/*', '/strict/items/*', '/plain/items/*'], methods: ['DELETE'] }, require: 'deny' }],
      },
    },
  });
  return { f, up };
}

function post(f: GatewayFixture, target: string, lines: string[], body = '') {
  const head = [`POST ${target} HTTP/1.1`, `Host: localhost:${f.port}`, 'Accept: application/json', ...lines, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  return sendRaw(f.port, `${head.join('\r\n')}\r\n\r\n${body}`);
}

const FORM = 'Content-Type: application/x-www-form-urlencoded';
const multipart = (fields: Record<string, string>) => {
  const b = 'XyZ123';
  const body = Object.entries(fields).map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${b}--\r\n`;
  return { type: `Content-Type: multipart/form-data; boundary=${b}`, body };
};

t.test('evaluate (default): the overriding method must pass the rules too', async (t) => {
  const { f, up } = await setup(t);
  const refused: Array<[string, string[], string]> = [
    ['/items/1', ['X-HTTP-Method-Override: DELETE'], ''],
    ['/items/1', ['X-HTTP-Method: delete'], ''],
    ['/items/1', ['X-Method-Override: DELETE'], ''],
    ['/items/1?_method=DELETE', [], ''],
    ['/items/1', [FORM], 'a=1&_method=DELETE'],
    ['/items/1', [FORM], '_method=delete'],
  ];
  const mp = multipart({ a: '1', _method: 'DELETE' });
  refused.push(['/items/1', [mp.type], mp.body]);
  for (const [target, lines, body] of refused) {
    const r = await post(f, target, lines, body);
    t.equal(r.status, 403, `POST ${target} ${lines.join(' ')} ${body}: denied as DELETE`);
  }
  t.equal(up.bytes(), '', 'not one byte reached the upstream');

  const ok = await post(f, '/items/1', [FORM], 'a=1&b=%C3%A9');
  t.equal(ok.status, 200, 'a form without _method goes through');
  t.equal(up.requests.at(-1)?.body, 'a=1&b=%C3%A9', 'the form read for the check is forwarded intact');
  t.equal(up.requests.at(-1)?.header('content-length'), '12');
  const put = await post(f, '/items/1', [FORM], '_method=PUT');
  t.equal(put.status, 200, 'an override the rules allow goes through');
  t.equal(up.requests.at(-1)?.body, '_method=PUT');

  const chunked = await sendRaw(f.port, `POST /items/2 HTTP/1.1\r\nHost: localhost:${f.port}\r\nAccept: application/json\r\n${FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\na=1\r\nf\r\n&_method=DELETE\r\n0\r\n\r\n`);
  t.equal(chunked.status, 403, 'a chunked form is read and checked too');
  t.notOk(up.bytes().includes('/items/2'), 'and never forwarded');

  const big = await post(f, '/items/3', [FORM], `a=${'x'.repeat(5000)}`);
  t.equal(big.status, 413, 'a form larger than policy.stash_max_body cannot be checked: 413');
  t.notOk(up.bytes().includes('/items/3'), 'nothing forwarded');
});

t.test('reject: a request claiming an override is refused; pass: overrides are the app\'s business', async (t) => {
  const { f, up } = await setup(t);
  for (const [lines, body] of [[['X-HTTP-Method-Override: PUT'], ''], [[FORM], '_method=PUT']] as const) {
    const r = await post(f, '/strict/items/1', [...lines], body);
    t.equal(r.status, 400, `reject route: ${lines.join(' ')} ${body}`);
  }
  t.equal((await post(f, '/strict/items/1?_method=PUT', [])).status, 400, 'reject route: _method in the query');
  t.equal(up.bytes(), '', 'nothing forwarded');
  t.equal((await post(f, '/strict/items/1', [FORM], 'a=1')).status, 200, 'reject route: a plain form passes');

  const pass = await post(f, '/plain/items/1', ['X-HTTP-Method-Override: DELETE'], '');
  t.equal(pass.status, 200, 'pass route: the real method (POST) is judged');
  t.match(up.requests.at(-1), { method: 'POST', target: '/plain/items/1' }, 'forwarded as the POST it is');
  t.equal(up.requests.at(-1)?.header('x-http-method-override'), undefined, 'override headers never reach an upstream (owned headers)');
  const form = await post(f, '/plain/items/1', [FORM], '_method=DELETE');
  t.equal(form.status, 200, 'pass route: a _method field is the app\'s business');
  t.equal(up.requests.at(-1)?.body, '_method=DELETE');
  const big = await post(f, '/plain/items/2', [FORM], `a=${'x'.repeat(5000)}`);
  t.equal(big.status, 200, 'pass route: a large form streams through unread');
  t.equal(up.requests.at(-1)?.body.length, 5002);
});
