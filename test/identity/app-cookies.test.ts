// The pure core of identity/app-cookies.ts: which values were released, what
// the app may see, and how the browser's app cookies are expired.

import t from 'tap';
import { appCookieNamesIn, cookieDigest, expiryCookies, filterCookieHeader, isAppCookie, releasedDigests, releasedKey } from '../../src/identity/app-cookies.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

t.test('isAppCookie: exact names and prefixes', async (t) => {
  t.ok(isAppCookie('SID', ['SID']));
  t.notOk(isAppCookie('sid', ['SID']), 'cookie names are case-sensitive');
  t.ok(isAppCookie('DW68b3b5d6f6a6', ['DW*']));
  t.notOk(isAppCookie('DokuWiki', ['DW*']));
  t.notOk(isAppCookie('SID2', ['SID']));
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

t.test('expiryCookies: the names sent (or all configured), on / and the login directory', async (t) => {
  t.same(appCookieNamesIn('a=1; DWx=2; SID=3', ['SID', 'DW*']), ['DWx', 'SID']);
  const all = expiryCookies(['SID', 'DW*'], 'DWx=2', '/doku.php');
  t.same(all.map((c) => c.split(';')[0]), ['SID=', 'DWx=']);
  t.ok(all.every((c) => /Path=\/; Max-Age=0/.test(c)));
  const sentOnly = expiryCookies(['SID', 'DW*'], 'DWx=2', '/doku.php', true);
  t.same(sentOnly.map((c) => c.split(';')[0]), ['DWx=']);
  const sub = expiryCookies(['phpMyAdmin'], undefined, '/phpmyadmin/index.php');
  t.same(sub.map((c) => /Path=([^;]+)/.exec(c)![1]), ['/', '/phpmyadmin/'], 'apps scope cookies to their directory');
  t.equal(releasedKey({ user: 'alice', created: 5 }), 'uf:rel:5:alice');
});
