// Rules on query and form parameters through the gateway (policy/decide.ts via
// http/gateway.ts): a lenient legacy upstream records the bytes it gets, so
// each case asserts what reached the app, not what the gateway says.

import t, { type Test } from 'tap';
import type { GatewayFixture } from '../helpers/gateway.ts';
import type { LenientUpstream } from '../helpers/lenient-upstream.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { rawGet, sendRaw } from '../helpers/raw-http.ts';

async function setup(t: Test): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const { f, up } = await startLenientGateway(t, {
    // method_override pass: the body is read for the params rules alone (no _method reading first).
    routes: [{ path: '/', params_style: 'php', strip_headers: ['X-DokuWiki-Do'], method_override: 'pass' }],
    config: {
      policy: {
        default: 'none',
        inspect_body_max: '1KiB',
        // deny makes the decision visible without a session: 403 where the step-up would be asked.
        rules: [
          { id: 'wiki-admin', match: { path: '/doku.php', query: { do: ['admin', 'export_*'] }, ignore_case: true }, require: 'deny' },
          { id: 'db-export', match: { path: '/index.php', params: { route: ['/export', '/server/privileges*'] } }, require: 'deny' },
        ],
      },
    },
  });
  return { f, up };
}

const FORM = 'application/x-www-form-urlencoded';
function post(f: GatewayFixture, target: string, type: string, body: string, extra: string[] = []) {
  const head = [`POST ${target} HTTP/1.1`, `Host: localhost:${f.port}`, 'Accept: application/json', `Content-Type: ${type}`, ...extra, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`, 'Connection: close'];
  return sendRaw(f.port, `${head.join('\r\n')}\r\n\r\n${body}`);
}
const B = 'XyZ123';
const multipart = (fields: Record<string, string>) =>
  Object.entries(fields).map(([k, v]) => `--${B}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${B}--\r\n`;

t.test('params: the action in the query or only in the body is judged; allowed bodies reach the app byte for byte', async (t) => {
  const { f, up } = await setup(t);
  const refused: Array<[string, string, string]> = [
    ['/index.php', FORM, 'route=%2Fexport&db=shop'],
    ['/index.php?route=/sql', FORM, 'route=/export'],
    ['/index.php', FORM, 'route=/server/privileges&user=x'],
    ['/index.php', `multipart/form-data; boundary=${B}`, multipart({ db: 'shop', route: '/export' })],
    ['/index.php', 'application/json', '{"route":"/sql"}'],
    ['/index.php', 'text/plain', 'route=/sql'],
    ['/index.php', `multipart/form-data; boundary=${B}`, multipart({ route: '/sql' }).slice(0, -8)],
    ['/index.php', FORM, `route=/sql&pad=${'x'.repeat(2000)}`],
  ];
  for (const [target, type, body] of refused) {
    const before = up.requests.length;
    const r = await post(f, target, type, body);
    t.equal(r.status, 403, `POST ${target} (${type.split(';')[0]}, ${body.length} bytes): refused`);
    t.equal(up.requests.length, before, 'nothing reached the app');
  }
  const allowed: Array<[string, string, string]> = [
    ['/index.php', FORM, 'route=%2Fsql&sql_query=SELECT+1%3B&db=shop'],
    ['/index.php', `multipart/form-data; boundary=${B}`, multipart({ route: '/sql', sql_query: 'SELECT 1;\r\nSELECT 2;' })],
    ['/index.php', FORM, 'route=/database/structure&name=%C3%A9t%C3%A9'],
    ['/other.php', 'application/json', `{"route":"/export","pad":"${'x'.repeat(5000)}"}`],
  ];
  for (const [target, type, body] of allowed) {
    const r = await post(f, target, type, body);
    t.equal(r.status, 200, `POST ${target} ${body.slice(0, 40)}: passed`);
    const got = up.requests.at(-1)!;
    t.equal(got.target, target);
    t.equal(got.body, body, 'the app got exactly the bytes the rules read');
  }
});

t.test('query rules: GET, PHP array names, case; a header the app reads as an action is stripped', async (t) => {
  const { f, up } = await setup(t);
  for (const target of ['/doku.php?do=admin', '/doku.php?do=ADMIN', '/doku.php?do[admin]=1', '/doku.php?do%5Badmin%5D=x', '/doku.php?do=show&do=admin', '/doku.php?do=export_raw&id=start', '/doku.php?do=adm%FFin', '/index.php?route=/export']) {
    const r = await rawGet(f.port, target, [`Host: localhost:${f.port}`, 'Accept: application/json', 'Connection: close']);
    t.equal(r.status, 403, `GET ${target}: refused`);
  }
  t.equal(up.requests.length, 0, 'none reached the app');
  for (const target of ['/doku.php?do=show&id=start', '/doku.php', '/doku.php?do[show]=1', '/index.php?route=/sql']) {
    const r = await rawGet(f.port, target, [`Host: localhost:${f.port}`, 'Connection: close']);
    t.equal(r.status, 200, `GET ${target}: passed`);
  }
  const r = await rawGet(f.port, '/doku.php?do=show', [`Host: localhost:${f.port}`, 'X-DokuWiki-Do: admin', 'X_DokuWiki_Do: admin', 'Connection: close']);
  t.equal(r.status, 200);
  t.notMatch(up.requests.at(-1)!.head, /dokuwiki-do|dokuwiki_do/i, 'X-DokuWiki-Do (either spelling) never reaches the app');
});

t.test('a chunked form growing past inspect_body_max is decided as unread: the most demanding rule applies, nothing is half forwarded', async (t) => {
  const { f, up } = await setup(t);
  const chunk = `route=/sql&pad=${'y'.repeat(1500)}`;
  const head = (target: string) => [`POST ${target} HTTP/1.1`, `Host: localhost:${f.port}`, 'Accept: application/json', `Content-Type: ${FORM}`, 'Transfer-Encoding: chunked', 'Connection: close'];
  const r = await sendRaw(f.port, `${head('/index.php').join('\r\n')}\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
  t.equal(r.status, 403, 'the params rule is in doubt: its deny stands');
  t.equal(up.requests.length, 0);
  // Where no params rule could decide, the same body streams on untouched (see test/http/oversize-params-body.test.ts for allowed ones).
  const elsewhere = await sendRaw(f.port, `${head('/other.php').join('\r\n')}\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
  t.equal(elsewhere.status, 200);
  t.equal(up.requests.at(-1)!.body, chunk);
});

t.test('a method override the app may run reads the body too; forward-auth never sees a body', async (t) => {
  const { f, up } = await startLenientGateway(t, {
    routes: [{ path: '/' }],
    config: {
      server: { trusted_proxies: ['127.0.0.1/32'] },
      policy: {
        default: 'none',
        rules: [{ id: 'delete-export', match: { path: '/api.php', methods: ['DELETE'], params: { route: '/export' } }, require: 'deny' }],
      },
    },
  });
  // A POST claiming DELETE with a body the gateway cannot read as a form: judged as the DELETE it may be, in doubt.
  let r = await post(f, '/api.php', 'text/plain', 'route=/export', ['X-HTTP-Method-Override: DELETE']);
  t.equal(r.status, 403, 'the claimed DELETE\'s params rule is in doubt: denied');
  r = await post(f, '/api.php', 'text/plain', 'route=/export');
  t.equal(r.status, 200, 'a plain POST: no rule reads its body');
  t.equal(up.requests.at(-1)!.body, 'route=/export');

  const authz = (method: string, uri: string) => rawGet(f.port, '/.gatehouse/authz', [`Host: localhost:${f.port}`, `X-Original-URI: ${uri}`, `X-Original-Method: ${method}`, 'Accept: application/json', 'Connection: close']);
  t.equal((await authz('DELETE', '/api.php?route=/sql')).status, 403, 'forward-auth: a DELETE\'s body is never seen: the params rule applies');
  t.equal((await authz('DELETE', '/other.php')).status, 200, 'elsewhere nothing reads bodies');
  t.equal((await authz('GET', '/api.php?route=/export')).status, 200, 'the rule is for DELETE only');
});
