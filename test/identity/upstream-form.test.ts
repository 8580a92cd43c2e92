// The pure core of identity.source upstream_form: the success judge (status,
// redirect target, named Set-Cookie, and their combinations), reading a
// Set-Cookie list, the app's redirect target, username normalization and
// stripping cookies for anonymous requests.

import t from 'tap';
import {
  appTarget, heldKey, judgeLogin, loginPageUrl, samePath, withoutCookies, type LoginAnswer,
} from '../../src/identity/upstream-form.ts';
import { liveCookieValue } from '../../src/identity/app-cookies.ts';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const SESSION = 'JSESSIONID=abc123; Path=/; HttpOnly';

t.test('judgeLogin: every rule key given must hold', async (t) => {
  const cases: Array<[string, Parameters<typeof judgeLogin>[0], Partial<LoginAnswer>, string | undefined, boolean]> = [
    // [name, rule, answer, cookie header sent, expected]
    ['status only: match', { status: 302 }, { status: 302 }, undefined, true],
    ['status only: other status', { status: 302 }, { status: 200 }, undefined, false],
    ['status only: 303 is not 302', { status: 302 }, { status: 303 }, undefined, false],
    ['location exact: match', { location: '/home' }, { status: 302, target: '/home' }, undefined, true],
    ['location exact: query ignored', { location: '/home' }, { status: 302, target: '/home?welcome=1' }, undefined, true],
    ['location exact: other path', { location: '/home' }, { status: 302, target: '/login?error=1' }, undefined, false],
    ['location: absent Location', { location: '/home' }, { status: 302, target: null }, undefined, false],
    ['location pattern /app/**', { location: '/app/**' }, { status: 302, target: '/app/dashboard' }, undefined, true],
    ['location pattern /app/** vs /login', { location: '/app/**' }, { status: 302, target: '/login' }, undefined, false],
    ['location: invalid pattern never succeeds', { location: '/a/b*' }, { status: 302, target: '/a/bc' }, undefined, false],
    ['set_cookie: set', { set_cookie: 'JSESSIONID' }, { status: 200, setCookies: [SESSION] }, undefined, true],
    ['set_cookie: not set', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: ['other=1; Path=/'] }, undefined, false],
    ['set_cookie: deleted (Max-Age=0)', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: ['JSESSIONID=; Path=/; Max-Age=0'] }, undefined, false],
    ['set_cookie: deleted (expired)', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: ['JSESSIONID=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT'] }, undefined, false],
    ['set_cookie: same value the browser sent (a replayed session)', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: [SESSION] }, 'JSESSIONID=abc123', false],
    ['set_cookie: a new value replacing the pre-login one', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: [SESSION] }, 'JSESSIONID=pre-login', true],
    ['set_cookie: name is exact (case)', { set_cookie: 'JSESSIONID' }, { status: 302, setCookies: ['jsessionid=abc; Path=/'] }, undefined, false],
    ['status + set_cookie: both hold', { status: 302, set_cookie: 'JSESSIONID' }, { status: 302, setCookies: [SESSION] }, undefined, true],
    ['status + set_cookie: wrong status', { status: 302, set_cookie: 'JSESSIONID' }, { status: 200, setCookies: [SESSION] }, undefined, false],
    ['status + set_cookie: no cookie (the demo\'s wrong password)', { status: 302, set_cookie: 'JSESSIONID' }, { status: 200 }, undefined, false],
    ['all three: hold', { status: 302, location: '/', set_cookie: 'JSESSIONID' }, { status: 302, target: '/', setCookies: [SESSION] }, undefined, true],
    ['all three: location differs', { status: 302, location: '/', set_cookie: 'JSESSIONID' }, { status: 302, target: '/login', setCookies: [SESSION] }, undefined, false],
    ['empty rule never succeeds', {}, { status: 302, target: '/', setCookies: [SESSION] }, undefined, false],
    ['set_cookie prefix: a new DW<hash>', { set_cookie: 'DW*' }, { status: 302, setCookies: ['DokuWiki=s', 'DWabc=auth; path=/'] }, undefined, true],
    ['set_cookie prefix: only a deletion (the login page)', { set_cookie: 'DW*' }, { status: 302, setCookies: ['DWabc=deleted; Max-Age=0'] }, undefined, false],
    ['set_cookie prefix: the value sent back', { set_cookie: 'DW*' }, { status: 302, setCookies: ['DWabc=auth'] }, 'DWabc=auth', false],
    ['set_cookie prefix: another name', { set_cookie: 'DW*' }, { status: 302, setCookies: ['DokuWiki=s'] }, undefined, false],
  ];
  for (const [name, rule, partial, sent, expected] of cases) {
    const answer: LoginAnswer = { status: 200, target: null, setCookies: [], ...partial };
    t.equal(judgeLogin(rule, answer, sent, NOW), expected, name);
  }
});

t.test('liveCookieValue: the last Set-Cookie for a name decides', async (t) => {
  const cases: Array<[string, string[], string | undefined]> = [
    ['one cookie', ['JSESSIONID=a; Path=/'], 'a'],
    ['among others', ['x=1', 'JSESSIONID=b; HttpOnly', 'y=2'], 'b'],
    ['set then deleted', ['JSESSIONID=a', 'JSESSIONID=; Max-Age=0'], undefined],
    ['deleted then set', ['JSESSIONID=; Max-Age=0', 'JSESSIONID=c'], 'c'],
    ['negative Max-Age deletes', ['JSESSIONID=a; Max-Age=-1'], undefined],
    ['future Expires keeps', ['JSESSIONID=a; Expires=Wed, 01 Jan 2098 00:00:00 GMT'], 'a'],
    ['empty value', ['JSESSIONID='], undefined],
    ['no such cookie', ['JSESSIONIDX=a', 'XJSESSIONID=b'], undefined],
    ['no = at all', ['JSESSIONID'], undefined],
  ];
  for (const [name, list, expected] of cases) t.equal(liveCookieValue(list, 'JSESSIONID', NOW), expected, name);
});

t.test('appTarget: where the app sends the browser, as a safe same-origin target', async (t) => {
  const up = 'http://127.0.0.1:8081';
  const pub = 'https://portal.example.com';
  const cases: Array<[string, string | undefined, string | null]> = [
    ['relative path', '/', '/'],
    ['path with query', '/home?x=1', '/home?x=1'],
    ['relative to the login URL', 'welcome', '/app/welcome'],
    ['absolute upstream URL (rewritten)', 'http://127.0.0.1:8081/dashboard', '/dashboard'],
    ['absolute public URL', 'https://portal.example.com/a', '/a'],
    ['another site', 'https://evil.example/', null],
    ['scheme-relative other site', '//evil.example/x', null],
    ['absent', undefined, null],
    ['into the gateway logout', '/.gatehouse/logout', null],
  ];
  for (const [name, loc, expected] of cases) t.equal(appTarget(loc, up, pub, '/app/login'), expected, name);
});

t.test('loginPageUrl: the login path with login_match\'s literal values', async (t) => {
  t.equal(loginPageUrl('/login', undefined), '/login');
  t.equal(loginPageUrl('/doku.php', { params: { do: 'login' }, fields: ['u'] }), '/doku.php?do=login');
  t.equal(loginPageUrl('/index.php', { fields: ['pma_username'] }), '/index.php');
  t.equal(loginPageUrl('/app', { query: { a: 'b', c: 'x*' } }), '/app?a=b', 'a wildcard names no single value');
});

t.test('withoutCookies drops every Cookie header, any case, and nothing else', async (t) => {
  const headers = ['host', 'app', 'Cookie', 'JSESSIONID=stolen', 'accept', 'text/html', 'cookie', 'lang=de', 'x-forwarded-for', '1.2.3.4'];
  t.same(withoutCookies(headers), ['host', 'app', 'accept', 'text/html', 'x-forwarded-for', '1.2.3.4']);
  t.same(withoutCookies([]), []);
});

t.test('samePath and heldKey', async (t) => {
  t.ok(samePath('/login', '/login', false));
  t.notOk(samePath('/Login', '/login', false), 'case matters on a case-sensitive route');
  t.ok(samePath('/LOGIN', '/login', true), 'and not on a case-insensitive one');
  t.notOk(samePath('/login/', '/login', false));
  t.equal(heldKey('alice', 1700000000000), 'uf:held:1700000000000:alice');
  t.not(heldKey('alice', 1), heldKey('alice', 2), 'bound to the session\'s creation time');
});
