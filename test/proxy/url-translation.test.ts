// routes[].strip_prefix and rewrite_location (proxy/upstream-headers.ts,
// policy/route-table.ts upstreamTarget): the app's own URLs in Location,
// Refresh and Set-Cookie Path become public ones; the request loses the prefix.

import t from 'tap';
import { buildClientHeaders, type UrlTranslation } from '../../src/proxy/upstream-headers.ts';
import { compileRoutes, upstreamTarget, urlTranslation } from '../../src/policy/route-table.ts';
import type { RouteConfig } from '../../src/config/types.ts';

const UP = 'http://127.0.0.1:8081';
const PUB = 'https://portal.example.com';
const WIKI: UrlTranslation = { prefix: '/wiki', base: '', origins: ['http://127.0.0.1', 'http://intranet-host:8080'] };
const BASED: UrlTranslation = { prefix: '/wiki', base: '/dokuwiki', origins: [] };
const ONLY_ORIGINS: UrlTranslation = { prefix: '', base: '', origins: ['http://intranet-host:8080'] };

const answer = (headers: Record<string, string | string[]>, translate?: UrlTranslation) =>
  buildClientHeaders({ headers, upstreamOrigin: UP, publicOrigin: PUB, sessionCookieName: 'gatehouse', translate });

t.test('Location', async (t) => {
  const rows: Array<[string, UrlTranslation | undefined, string]> = [
    ['/doku.php?id=start', WIKI, '/wiki/doku.php?id=start'],
    ['/', WIKI, '/wiki/'],
    [`${UP}/doku.php?do=login#x`, WIKI, `${PUB}/wiki/doku.php?do=login#x`],
    ['http://127.0.0.1/doku.php', WIKI, `${PUB}/wiki/doku.php`],
    ['http://INTRANET-HOST:8080/x', WIKI, `${PUB}/wiki/x`],
    ['http://intranet-host:8081/x', WIKI, 'http://intranet-host:8081/x'],
    ['https://elsewhere.example/x', WIKI, 'https://elsewhere.example/x'],
    ['/wiki/doku.php', WIKI, '/wiki/doku.php'],
    ['/wikipedia', WIKI, '/wiki/wikipedia'],
    ['doku.php?id=x', WIKI, 'doku.php?id=x'],
    ['/dokuwiki/doku.php', BASED, '/wiki/doku.php'],
    [`${UP}/dokuwiki`, BASED, `${PUB}/wiki/`],
    ['/other', BASED, '/wiki/other'],
    ['http://intranet-host:8080/a?b', ONLY_ORIGINS, `${PUB}/a?b`],
    ['/a', ONLY_ORIGINS, '/a'],
    [`${UP}/a`, undefined, `${PUB}/a`],
    ['http://127.0.0.1/a', undefined, 'http://127.0.0.1/a'],
    ['http://user:pw@127.0.0.1/a', WIKI, 'http://user:pw@127.0.0.1/a'],
  ];
  for (const [location, tr, want] of rows) t.equal(answer({ location }, tr).location, want, `${location} ${tr ? JSON.stringify(tr) : '(none)'}`);
});

t.test('Refresh and Set-Cookie Path', async (t) => {
  t.equal(answer({ refresh: '0; url=/doku.php?id=start' }, WIKI).refresh, '0; url=/wiki/doku.php?id=start');
  t.equal(answer({ refresh: "5;URL='http://127.0.0.1/x'" }, WIKI).refresh, `5;URL='${PUB}/wiki/x'`);
  t.equal(answer({ refresh: '30' }, WIKI).refresh, '30', 'a plain reload');
  t.same(answer({ 'set-cookie': ['DW1=a; path=/; HttpOnly', 'b=2; Path=/lib/; Secure', 'c=3', 'd=4; path=/wiki/', 'gatehouse=x; path=/'] }, WIKI)['set-cookie'],
    ['DW1=a; path=/wiki/; HttpOnly', 'b=2; Path=/wiki/lib/; Secure', 'c=3', 'd=4; path=/wiki/'], 'paths under the prefix; the gateway\'s own cookie still dropped');
  t.same(answer({ 'set-cookie': 'a=1; path=/' })['set-cookie'], ['a=1; path=/'], 'untouched without strip_prefix');
});

t.test('the request-target upstream', async (t) => {
  const route = (over: Partial<RouteConfig>) => compileRoutes([{
    path: '/wiki', upstream: UP, websocket: false, timeout: 1, case_insensitive: false, path_params: 'reject', preserve_host: false,
    method_override: 'evaluate', params_style: 'plain', strip_headers: [], strip_prefix: true, rewrite_location: [], assertion: true, ...over,
  }])[0];
  t.equal(upstreamTarget(route({}), '/wiki/doku.php?id=x'), '/doku.php?id=x');
  t.equal(upstreamTarget(route({}), '/wiki'), '/');
  t.equal(upstreamTarget(route({}), '/wiki?x=1'), '/?x=1');
  t.equal(upstreamTarget(route({ upstream: `${UP}/dokuwiki/` }), '/wiki/doku.php'), '/dokuwiki/doku.php');
  t.equal(upstreamTarget(route({ strip_prefix: false }), '/wiki/doku.php'), '/wiki/doku.php');
  t.same(urlTranslation(route({})), { prefix: '/wiki', base: '', origins: [] });
  t.equal(urlTranslation(route({ strip_prefix: false })), undefined);
});
