// The pure core of identity/app-cookies.ts: which values were released, what
// the app may see, and how the browser's app cookies are expired.

import t from 'tap';
import { appCookieNamesIn, cookieDigest, cookieNameReading, expiryCookies, filterCookieHeader, isAppCookie, releasedDigests, releasedKey } from '../../src/identity/app-cookies.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

t.test('isAppCookie: exact names and prefixes', async (t) => {
  t.ok(isAppCookie('SID', ['SID']));
  t.notOk(isAppCookie('sid', ['SID']), 'cookie names are case-sensitive');
  t.ok(isAppCookie('DW68b3b5d6f6a6', ['DW*']));
  t.notOk(isAppCookie('DokuWiki', ['DW*']));
  t.notOk(isAppCookie('SID2', ['SID']));
});

t.test('cookieNameReading: the name PHP registers, and any case of it where names are read case-blind', async (t) => {
  const cases: Array<[name: string, foldCase: boolean, read: string]> = [
    ['app_session', false, 'app_session'],
    ['app.session', false, 'app_session'],
    ['app session', false, 'app_session'],
    ['  app_session', false, 'app_session'],
    ['app_session[x]', false, 'app_session'],
    ['app_session[]', false, 'app_session'],
    ['app[session', false, 'app_session'],
    ['ASP.NET_SessionId', false, 'ASP_NET_SessionId'],
    ['APP_SESSION', false, 'APP_SESSION'],
    ['APP_SESSION', true, 'app_session'],
    ['App.Session', true, 'app_session'],
  ];
  for (const [name, foldCase, read] of cases) t.equal(cookieNameReading(name, foldCase), read, `${JSON.stringify(name)}${foldCase ? ' (case-blind)' : ''}`);
});

t.test('isAppCookie: every name the app reads as a configured one', async (t) => {
  const cases: Array<[name: string, patterns: string[], foldCase: boolean, app: boolean]> = [
    ['app.session', ['app_session'], false, true],
    ['app session', ['app_session'], false, true],
    ['app_session[x]', ['app_session'], false, true],
    ['app[session', ['app_session'], false, true],
    ['app_session', ['app.session'], false, true],
    ['ASP_NET_SessionId', ['ASP.NET_SessionId'], false, true],
    ['APP_SESSION', ['app_session'], false, false],
    ['APP_SESSION', ['app_session'], true, true],
    ['App.Session', ['app_session'], true, true],
    ['DW.abc', ['DW*'], false, true],
    ['dwabc', ['DW*'], true, true],
    ['dwabc', ['DW*'], false, false],
    ['app_sessions', ['app_session'], true, false],
    ['app-session', ['app_session'], true, false],
    ['lang', ['app_session', 'DW*'], true, false],
  ];
  for (const [name, patterns, foldCase, app] of cases) t.equal(isAppCookie(name, patterns, foldCase), app, `${JSON.stringify(name)} ${JSON.stringify(patterns)}${foldCase ? ' (case-blind)' : ''}`);
});

t.test('releasedDigests: live values of app cookies only, never the values themselves', async (t) => {
  const d = releasedDigests(['SID=abc; Path=/', 'lang=de', 'DWx=v; Path=/', 'SID2=zzz', 'DWy=; Max-Age=0'], ['SID', 'DW*'], NOW);
  t.same(d, [cookieDigest('SID', 'abc'), cookieDigest('DWx', 'v')]);
  t.notOk(d.some((x) => x.includes('abc')));
  t.not(cookieDigest('SID', 'abc'), cookieDigest('SIDa', 'bc'), 'name and value are kept apart');
  t.same(releasedDigests(['SID=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT'], ['SID'], NOW), [], 'a deletion releases nothing');
});

t.test('filterCookieHeader: unreleased app-cookie values are stripped, other cookies kept', async (t) => {
  const released = new Set([cookieDigest('SID', 'mine')]);
  t.equal(filterCookieHeader('SID=mine; lang=de', ['SID'], released), 'SID=mine; lang=de');
  t.equal(filterCookieHeader('SID=stolen; lang=de', ['SID'], released), 'lang=de');
  t.equal(filterCookieHeader('SID=stolen; SID=mine', ['SID'], released), 'SID=mine', 'a second copy under the same name');
  t.equal(filterCookieHeader('SID=mine; lang=de', ['SID'], null), 'lang=de', 'nothing released yet');
  t.equal(filterCookieHeader('DWabc=1;DokuWiki=2', ['DW*'], null), 'DokuWiki=2');
});

t.test('filterCookieHeader: an app cookie under another spelling stays only as released', async (t) => {
  const released = new Set([cookieDigest('app_session', 'mine')]);
  const cases: Array<[header: string, foldCase: boolean, kept: string]> = [
    ['app.session=stolen; lang=de', false, 'lang=de'],
    ['app.session=stolen; app_session=mine', false, 'app_session=mine'],
    ['app_session[x]=stolen; app_session=mine', false, 'app_session=mine'],
    ['app.session=mine', false, ''],
    ['APP_SESSION=stolen; lang=de', true, 'lang=de'],
    ['APP_SESSION=mine', true, ''],
    ['APP_SESSION=other; lang=de', false, 'APP_SESSION=other; lang=de'],
    ['app_session=mine; App.Session=stolen', true, 'app_session=mine'],
  ];
  for (const [header, foldCase, kept] of cases) t.equal(filterCookieHeader(header, ['app_session'], released, foldCase), kept, `${header}${foldCase ? ' (case-blind)' : ''}`);
  t.equal(filterCookieHeader('app.session=x; lang=de', ['app_session'], null), 'lang=de', 'nothing released yet');
});

t.test('expiryCookies: the names sent (or all configured), on / and the login directory', async (t) => {
  t.same(appCookieNamesIn('a=1; DWx=2; SID=3', ['SID', 'DW*']), ['DWx', 'SID']);
  t.same(appCookieNamesIn('S.ID=1; s_id=2; sid=3', ['S_ID'], true), ['S.ID', 's_id'], 'as sent, under every spelling the app reads');
  const all = expiryCookies(['SID', 'DW*'], 'DWx=2', '/doku.php');
  t.same(all.map((c) => c.split(';')[0]), ['SID=', 'DWx=']);
  t.ok(all.every((c) => /Path=\/; Max-Age=0/.test(c)));
  const sentOnly = expiryCookies(['SID', 'DW*'], 'DWx=2', '/doku.php', true);
  t.same(sentOnly.map((c) => c.split(';')[0]), ['DWx=']);
  const sub = expiryCookies(['phpMyAdmin'], undefined, '/phpmyadmin/index.php');
  t.same(sub.map((c) => /Path=([^;]+)/.exec(c)![1]), ['/', '/phpmyadmin/'], 'apps scope cookies to their directory');
  t.equal(releasedKey({ user: 'alice', created: 5 }), 'uf:rel:5:alice');
});
