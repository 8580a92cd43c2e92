// Table tests of the pure header hygiene: what goes upstream from the client's
// raw headers, and what comes back to the client from the upstream's answer.

import t from 'tap';
import {
  buildUpstreamHeaders, buildClientHeaders, rewriteLocation, withoutCookie, type UpstreamHeaderInput,
} from '../../src/proxy/upstream-headers.ts';
import { ownedHeaderMatcher, ownedCanonicalMatcher } from '../../src/proxy/owned-headers.ts';
import { canonicalHeaderName } from '../../src/policy/app-field-names.ts';
import type { HeadersConfig } from '../../src/config/types.ts';

const DEFAULT_HEADERS: HeadersConfig = {
  prefix: 'X-Gatehouse-',
  jwt: true,
  names: {
    user: 'X-Gatehouse-User', email: 'X-Gatehouse-Email', groups: 'X-Gatehouse-Groups',
    auth_methods: 'X-Gatehouse-Auth-Methods', auth_time: 'X-Gatehouse-Auth-Time', assertion: 'X-Gatehouse-Assertion',
  },
};
// An app built for Authelia: custom names outside the prefix.
const AUTHELIA_HEADERS: HeadersConfig = {
  prefix: 'X-Gatehouse-',
  jwt: true,
  names: {
    user: 'Remote-User', email: 'Remote-Email', groups: 'Remote-Groups',
    auth_methods: 'X-Gatehouse-Auth-Methods', auth_time: 'X-Gatehouse-Auth-Time', assertion: 'X-Gatehouse-Assertion',
  },
};

function input(rawHeaders: string[], over: Partial<UpstreamHeaderInput> = {}): UpstreamHeaderInput {
  return {
    rawHeaders,
    isOwned: ownedCanonicalMatcher(DEFAULT_HEADERS),
    sessionCookieName: '__gatehouse',
    upstreamHost: '127.0.0.1:8081',
    preserveHost: false,
    forwardedFor: '203.0.113.7',
    forwardedProto: 'https',
    forwardedHost: 'portal.example.com',
    requestId: 'req-1',
    identity: [],
    ...over,
  };
}

/** Flat pairs → lower-case name → values (duplicates kept in order). */
function byName(flat: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i].toLowerCase();
    m.set(k, [...(m.get(k) ?? []), flat[i + 1]]);
  }
  return m;
}

t.test('canonicalHeaderName folds case and every character but a letter or digit to -', async (t) => {
  const table: [string, string][] = [
    ['X-Gatehouse-User', 'x-gatehouse-user'],
    ['X_GATEHOUSE_USER', 'x-gatehouse-user'],
    ['x-gatehouse_user', 'x-gatehouse-user'],
    ['Remote_User', 'remote-user'],
    ['accept', 'accept'],
    // Token characters lighttpd's CGI turns into '_' and PHP's built-in server reads '.' as '_'.
    ['X.Gatehouse.User', 'x-gatehouse-user'],
    ['X~Gatehouse~User', 'x-gatehouse-user'],
    ["X'Gatehouse'Groups", 'x-gatehouse-groups'],
    ['X!Original#URL', 'x-original-url'],
    ['X.HTTP.Method.Override', 'x-http-method-override'],
    ['x|forwarded^for', 'x-forwarded-for'],
    ['X-Forwarded-For2', 'x-forwarded-for2'],
  ];
  for (const [name, want] of table) t.equal(canonicalHeaderName(name), want, name);
});

t.test('ownedHeaderMatcher: every spelling of an owned name, nothing else', async (t) => {
  const def = ownedHeaderMatcher(DEFAULT_HEADERS);
  const custom = ownedHeaderMatcher(AUTHELIA_HEADERS);
  const owned = [
    'X-Gatehouse-User', 'x-gatehouse-user', 'X_GATEHOUSE_USER', 'x-gatehouse_user', 'x_Gatehouse-User',
    'X-GATEHOUSE-ASSERTION', 'X-Gatehouse-Email', 'X-Gatehouse-Groups', 'X-Gatehouse-Auth-Methods',
    'X-Gatehouse-Auth-Time', 'X-Gatehouse-Anything', 'x-gatehouse-', 'X_Gatehouse_Whatever_Else',
  ];
  for (const name of owned) {
    t.ok(def(name), `default config owns ${name}`);
    t.ok(custom(name), `custom config still owns the prefix: ${name}`);
  }
  for (const name of ['Remote-User', 'remote-user', 'REMOTE_USER', 'remote_user', 'Remote-Email', 'REMOTE-GROUPS']) {
    t.ok(custom(name), `custom config owns ${name}`);
    t.notOk(def(name), `default config does not own ${name}`);
  }
  for (const name of ['X-Original-URL', 'x-original-url', 'X_ORIGINAL_URL', 'X-Rewrite-URL', 'x_rewrite_url', 'X-REWRITE-Url']) {
    t.ok(def(name), `always owned: ${name}`);
    t.ok(custom(name), `always owned, whatever the config: ${name}`);
  }
  for (const name of ['Accept', 'X-Gatehouse', 'X-Gatehousex-User', 'X-Original-URI', 'X-Original-URLs', 'Gatehouse-User', 'X-Forwarded-User', 'Remote-Userx', 'Cookie']) {
    t.notOk(def(name), `default does not own ${name}`);
    t.notOk(custom(name), `custom does not own ${name}`);
  }
});

t.test('buildUpstreamHeaders: hop-by-hop headers never go upstream', async (t) => {
  const hop: [string, string][] = [
    ['Connection', 'keep-alive'], ['Keep-Alive', 'timeout=5'], ['Proxy-Connection', 'keep-alive'],
    ['Proxy-Authorization', 'Basic Zm9vOmJhcg=='], ['Proxy-Authenticate', 'Basic'], ['TE', 'trailers'],
    ['Trailer', 'X-Checksum'], ['Transfer-Encoding', 'chunked'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQAAP__'],
  ];
  for (const [name, value] of hop) {
    const out = byName(buildUpstreamHeaders(input([name, value, 'Accept', 'text/html'])));
    t.notOk(out.has(name.toLowerCase()), `${name} removed`);
    t.same(out.get('accept'), ['text/html'], `Accept kept next to ${name}`);
  }
});

t.test('buildUpstreamHeaders: Expect is answered by the gateway, not forwarded', async (t) => {
  for (const name of ['Expect', 'expect', 'EXPECT']) {
    const out = byName(buildUpstreamHeaders(input([name, '100-continue', 'Content-Length', '5'])));
    t.notOk(out.has('expect'), `${name} removed`);
    t.same(out.get('content-length'), ['5']);
  }
});

t.test('buildUpstreamHeaders: names listed in Connection are hop-by-hop', async (t) => {
  const table: { conn: string; sent: [string, string][]; gone: string[]; kept: string[] }[] = [
    { conn: 'close, X-Custom-Thing', sent: [['X-Custom-Thing', '1'], ['X-Other', '2']], gone: ['x-custom-thing'], kept: ['x-other'] },
    { conn: 'X-A,X-B', sent: [['x-a', '1'], ['X-B', '2'], ['X-C', '3']], gone: ['x-a', 'x-b'], kept: ['x-c'] },
    // The token and the header can use different spellings of the same name.
    { conn: 'x_custom', sent: [['X-Custom', '1']], gone: ['x-custom'], kept: [] },
    { conn: ' Cache-Control ', sent: [['Cache-Control', 'no-cache'], ['Accept', '*/*']], gone: ['cache-control'], kept: ['accept'] },
  ];
  for (const row of table) {
    const raw = ['Connection', row.conn];
    for (const [n, v] of row.sent) raw.push(n, v);
    const out = byName(buildUpstreamHeaders(input(raw)));
    for (const g of row.gone) t.notOk(out.has(g), `Connection: ${row.conn} removes ${g}`);
    for (const k of row.kept) t.ok(out.has(k), `Connection: ${row.conn} keeps ${k}`);
    t.notOk(out.has('connection'));
  }
  // Two Connection headers: both lists count.
  const two = byName(buildUpstreamHeaders(input(['Connection', 'x-one', 'Connection', 'x-two', 'X-One', '1', 'X-Two', '2', 'X-Three', '3'])));
  t.notOk(two.has('x-one'));
  t.notOk(two.has('x-two'));
  t.ok(two.has('x-three'));
});

t.test('buildUpstreamHeaders: owned headers are stripped in every spelling, then injected', async (t) => {
  const spoofed = [
    'X-Gatehouse-User', 'x-gatehouse-user', 'X_GATEHOUSE_USER', 'x-gatehouse_user', 'X-GATEHOUSE-ASSERTION',
    'X-Gatehouse-Anything', 'x_gatehouse_groups', 'X-Gatehouse-Auth-Time',
  ];
  const identity = ['X-Gatehouse-User', 'alice', 'X-Gatehouse-Assertion', 'jwt.jwt.jwt'];
  for (const name of spoofed) {
    for (const withIdentity of [false, true]) {
      const flat = buildUpstreamHeaders(input([name, 'mallory', 'Accept', '*/*'], { identity: withIdentity ? identity : [] }));
      const values = flat.filter((_, i) => i % 2 === 1);
      t.notOk(values.includes('mallory'), `${name} (identity=${withIdentity}) never forwarded`);
      const owned = ownedHeaderMatcher(DEFAULT_HEADERS);
      const ownedOut = flat.filter((n, i) => i % 2 === 0 && owned(n));
      t.same(ownedOut, withIdentity ? ['X-Gatehouse-User', 'X-Gatehouse-Assertion'] : [], `only injected owned headers (${name})`);
    }
  }
  // Custom names (Remote-User) are owned when configured.
  const custom = ownedCanonicalMatcher(AUTHELIA_HEADERS);
  for (const name of ['Remote-User', 'REMOTE_USER', 'remote-user', 'Remote_Groups', 'X-Gatehouse-Whatever']) {
    const flat = buildUpstreamHeaders(input([name, 'mallory'], { isOwned: custom, identity: ['Remote-User', 'alice'] }));
    const m = byName(flat);
    t.notOk(flat.includes('mallory'), `${name} stripped with custom names`);
    t.same(m.get('remote-user'), ['alice'], `Remote-User is the injected one (${name})`);
  }
  // Connection naming an owned header does not make the injected one go away.
  const trick = byName(buildUpstreamHeaders(input(['Connection', 'X-Gatehouse-User', 'X-Gatehouse-User', 'mallory'], { identity: ['X-Gatehouse-User', 'alice'] })));
  t.same(trick.get('x-gatehouse-user'), ['alice']);
});

t.test('buildUpstreamHeaders: forwarding headers are replaced, never appended', async (t) => {
  const spoof = [
    'X-Forwarded-For', '6.6.6.6', 'x-forwarded-for', '7.7.7.7', 'X-Forwarded-Proto', 'gopher',
    'X-Forwarded-Host', 'evil.example', 'X-Forwarded-Port', '1', 'Forwarded', 'for=6.6.6.6;host=evil.example',
    'X-Real-IP', '6.6.6.6', 'X-Request-Id', 'forged', 'X_Forwarded_For', '8.8.8.8', 'Host', 'evil.example',
  ];
  const out = byName(buildUpstreamHeaders(input(spoof)));
  t.same(out.get('x-forwarded-for'), ['203.0.113.7']);
  t.same(out.get('x-forwarded-proto'), ['https']);
  t.same(out.get('x-forwarded-host'), ['portal.example.com']);
  t.same(out.get('x-request-id'), ['req-1']);
  t.same(out.get('host'), ['127.0.0.1:8081']);
  t.notOk(out.has('forwarded'));
  t.notOk(out.has('x-real-ip'));
  t.notOk(out.has('x-forwarded-port'));
  t.notOk(out.has('x_forwarded_for'), 'the underscore spelling is dropped too (CGI reads it as X-Forwarded-For)');
  const preserved = byName(buildUpstreamHeaders(input(['Host', 'evil.example'], { preserveHost: true })));
  t.same(preserved.get('host'), ['portal.example.com'], 'preserve_host sends the host the client addressed (resolved)');
});

t.test('buildUpstreamHeaders: a Host the transport sends by itself is left to it, any other is sent', async (t) => {
  const cases: Array<[string, Partial<UpstreamHeaderInput>, string[] | undefined]> = [
    ['the upstream authority, which the transport sends', { transportHost: '127.0.0.1:8081' }, undefined],
    ['no transport default', {}, ['127.0.0.1:8081']],
    ['preserve_host: the client-facing host differs from the transport\'s', { transportHost: '127.0.0.1:8081', preserveHost: true }, ['portal.example.com']],
    ['another transport default', { transportHost: 'other:1' }, ['127.0.0.1:8081']],
  ];
  for (const [name, over, host] of cases) {
    const out = byName(buildUpstreamHeaders(input(['Host', 'evil.example'], over)));
    t.same(out.get('host'), host, name);
  }
});

t.test('buildUpstreamHeaders: the gateway cookie is removed from Cookie', async (t) => {
  const table: [string, string | undefined][] = [
    ['__gatehouse=sealed', undefined],
    ['a=1; __gatehouse=sealed; b=2', 'a=1; b=2'],
    ['__gatehouse=sealed;JSESSIONID=abc', 'JSESSIONID=abc'],
    ['__gatehouse.0=x; __gatehouse.1=y; keep=1', 'keep=1'],
    ['__gatehouse_device=d; keep=1', 'keep=1'],
    ['x__gatehouse=1; __gatehousex=2', 'x__gatehouse=1; __gatehousex=2'],
    ['JSESSIONID=abc', 'JSESSIONID=abc'],
    // Empty pairs, spaces and tabs, a name alone, the name as a value.
    ['a=1;;b=2; __gatehouse=x', 'a=1; b=2'],
    [' __gatehouse =x; flag; a=__gatehouse', 'flag; a=__gatehouse'],
    ['__gatehouse=x;', undefined],
    ['; ;__gatehouse=1 ; ', undefined],
    ['__gatehouse', undefined],
    [' __gatehouse.2 =y;b = 2 ', 'b = 2'],
    ['\t__gatehouse=1;\tz=9', 'z=9'],
  ];
  for (const [cookie, want] of table) {
    t.equal(withoutCookie(cookie, '__gatehouse'), want, `withoutCookie(${cookie})`);
    const out = byName(buildUpstreamHeaders(input(['Cookie', cookie])));
    t.same(out.get('cookie'), want === undefined ? undefined : [want], `Cookie: ${cookie}`);
  }
  // Two Cookie headers (HTTP/2 style): each is cleaned.
  const two = byName(buildUpstreamHeaders(input(['Cookie', '__gatehouse=s', 'Cookie', 'a=1; __gatehouse=t'])));
  t.same(two.get('cookie'), ['a=1']);
});

t.test('buildUpstreamHeaders: WebSocket handshakes keep Upgrade and Connection: upgrade only', async (t) => {
  const raw = ['Connection', 'Upgrade, X-Gatehouse-User', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k', 'Sec-WebSocket-Version', '13', 'X-Gatehouse-User', 'mallory'];
  const out = byName(buildUpstreamHeaders(input(raw, { upgrade: true })));
  t.same(out.get('upgrade'), ['websocket']);
  t.same(out.get('connection'), ['upgrade']);
  t.same(out.get('sec-websocket-key'), ['k']);
  t.notOk(out.has('x-gatehouse-user'));
  const plain = byName(buildUpstreamHeaders(input(raw)));
  t.notOk(plain.has('upgrade'), 'not an upgrade: Upgrade dropped');
});

t.test('rewriteLocation: the upstream origin becomes the public origin', async (t) => {
  const up = 'http://127.0.0.1:8081';
  const pub = 'https://portal.example.com';
  const table: [string, string][] = [
    ['http://127.0.0.1:8081/', 'https://portal.example.com/'],
    ['http://127.0.0.1:8081', 'https://portal.example.com/'],
    ['http://127.0.0.1:8081/billing?x=1', 'https://portal.example.com/billing?x=1'],
    ['http://127.0.0.1:8081?x=1', 'https://portal.example.com/?x=1'],
    ['HTTP://127.0.0.1:8081/a', 'https://portal.example.com/a'],
    ['//127.0.0.1:8081/x', 'https://portal.example.com/x'],
    ['//evil.example/x', '//evil.example/x'],
    ['http://127.0.0.1:8081/a%20b#frag', 'https://portal.example.com/a%20b#frag'],
    ['/relative', '/relative'],
    ['relative', 'relative'],
    ['https://idp.example.com/authorize', 'https://idp.example.com/authorize'],
    // A longer port or host that merely starts with the origin is somewhere else.
    ['http://127.0.0.1:80810/x', 'http://127.0.0.1:80810/x'],
    ['http://127.0.0.1:8081.evil.example/x', 'http://127.0.0.1:8081.evil.example/x'],
    ['http://127.0.0.1:8081@evil.example/x', 'http://127.0.0.1:8081@evil.example/x'],
  ];
  for (const [loc, want] of table) t.equal(rewriteLocation(loc, up, pub), want, loc);
  t.equal(rewriteLocation('http://app.internal/x', 'http://app.internal', pub), 'https://portal.example.com/x');
  t.equal(rewriteLocation('http://app.internal:80/x', 'http://app.internal', pub), 'https://portal.example.com/x', 'explicit default port');
});

t.test('buildClientHeaders: names listed in Connection are hop-by-hop, in any case and spelling', async (t) => {
  const base = { upstreamOrigin: 'http://127.0.0.1:8081', publicOrigin: 'https://portal.example.com', sessionCookieName: '__gatehouse' };
  const table: [string, string | string[], string[], string[]][] = [
    // Connection value, names that go, names that stay (besides it)
    ['keep-alive alone', 'keep-alive', ['keep-alive'], ['x-a', 'x-b', 'content-type']],
    ['close alone', 'close', [], ['x-a', 'x-b', 'content-type']],
    ['keep-alive and a name', 'keep-alive, X-A', ['keep-alive', 'x-a'], ['x-b', 'content-type']],
    ['close and a name', 'close,x-b', ['x-b'], ['x-a', 'content-type']],
    ['capitalized', 'Keep-Alive', ['keep-alive'], ['x-a', 'x-b']],
    ['two Connection headers', ['keep-alive', 'x-a'], ['keep-alive', 'x-a'], ['x-b']],
    ['empty tokens', ' , ,x-a,', ['x-a'], ['x-b', 'content-type']],
  ];
  for (const [label, connection, gone, kept] of table) {
    const out = buildClientHeaders({ ...base, headers: { connection, 'keep-alive': 'timeout=5', 'x-a': '1', 'x-b': '2', 'content-type': 'text/html' } });
    t.notOk('connection' in out, `${label}: Connection itself goes`);
    for (const g of gone) t.notOk(g in out, `${label}: ${g} goes`);
    for (const k of kept) t.ok(k in out, `${label}: ${k} stays`);
  }
});

t.test('buildClientHeaders: hop-by-hop out, Location rewritten, gateway cookies refused, internal Domain dropped', async (t) => {
  const base = { upstreamOrigin: 'http://127.0.0.1:8081', publicOrigin: 'https://portal.example.com', sessionCookieName: '__gatehouse' };
  const out = buildClientHeaders({
    ...base,
    headers: {
      connection: 'keep-alive, x-internal',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'x-internal': 'secret',
      'content-type': 'text/html',
      location: 'http://127.0.0.1:8081/home',
      'set-cookie': [
        'JSESSIONID=abc; Path=/; HttpOnly',
        '__gatehouse=forged; Path=/',
        '__gatehouse.1=forged; Path=/',
        '__gatehouse_device=forged; Path=/',
        'scoped=1; Domain=127.0.0.1; Path=/',
        'dotted=1; Path=/; domain=.127.0.0.1',
        'other=1; Domain=example.com; Path=/',
      ],
    },
  });
  t.notOk('connection' in out);
  t.notOk('keep-alive' in out);
  t.notOk('transfer-encoding' in out);
  t.notOk('x-internal' in out, 'a header named in Connection is hop-by-hop');
  t.equal(out['content-type'], 'text/html');
  t.equal(out.location, 'https://portal.example.com/home');
  const cookies = out['set-cookie'] as string[];
  t.equal(cookies.length, 4);
  t.equal(cookies[0], 'JSESSIONID=abc; Path=/; HttpOnly');
  t.notOk(cookies.some((c) => c.startsWith('__gatehouse')), 'the upstream cannot set the gateway cookie');
  t.notMatch(cookies[1], /domain/i);
  t.match(cookies[1], /^scoped=1;/);
  t.notMatch(cookies[2], /domain/i);
  t.match(cookies[3], /Domain=example\.com/, 'a Domain other than the internal host is kept');

  const only = buildClientHeaders({ ...base, headers: { 'set-cookie': '__gatehouse=forged' } });
  t.notOk('set-cookie' in only, 'nothing left: no Set-Cookie at all');
  const single = buildClientHeaders({ ...base, headers: { 'set-cookie': 'a=1' } });
  t.same(single['set-cookie'], ['a=1']);
});
