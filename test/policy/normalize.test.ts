import t from 'tap';
import { normalizeTarget, foldPathCase, type NormalizeOptions } from '../../src/policy/normalize.ts';

const R: NormalizeOptions = { pathParams: 'reject', caseInsensitive: false };
const A: NormalizeOptions = { pathParams: 'allow', caseInsensitive: false };
const CI: NormalizeOptions = { pathParams: 'reject', caseInsensitive: true };
const ACI: NormalizeOptions = { pathParams: 'allow', caseInsensitive: true };

interface Accepted { f: string; m: string; q?: string; a?: string }
type Case = [target: string, opts: NormalizeOptions, expected: Accepted | string, why?: string];

const accepted: Case[] = [
  ['/', R, { f: '/', m: '/' }],
  ['/a/b?x=1', R, { f: '/a/b', m: '/a/b', q: '?x=1' }],
  ['/a/', R, { f: '/a/', m: '/a/' }, 'trailing slash kept'],
  ['/a/b/', R, { f: '/a/b/', m: '/a/b/' }],
  ['/a/../b', R, { f: '/b', m: '/b' }],
  ['/a/%2e%2e/b', R, { f: '/b', m: '/b' }],
  ['/a/%2E./b', R, { f: '/b', m: '/b' }],
  ['/a/.%2e/b', R, { f: '/b', m: '/b' }],
  ['/a/%2E%2e/b', R, { f: '/b', m: '/b' }],
  ['/a/./b', R, { f: '/a/b', m: '/a/b' }],
  ['/a/%2e/b', R, { f: '/a/b', m: '/a/b' }],
  ['/a/b/../../c', R, { f: '/c', m: '/c' }],
  ['/a//b', R, { f: '/a/b', m: '/a/b' }, 'empty segments collapse'],
  ['//a', R, { f: '/a', m: '/a' }, 'leading // is a path, not an authority'],
  ['/a/..', R, { f: '/', m: '/' }],
  ['/a/b/..', R, { f: '/a/', m: '/a/' }],
  ['/a/.', R, { f: '/a/', m: '/a/' }],
  ['/a//', R, { f: '/a/', m: '/a/' }],
  ['/...', R, { f: '/...', m: '/...' }, 'three dots is a name'],
  ['/%2e%2e%2e', R, { f: '/...', m: '/...' }],
  ['/.a/..b', R, { f: '/.a/..b', m: '/.a/..b' }],
  ['/%C3%A9', R, { f: '/%C3%A9', m: '/é' }],
  ['/%c3%a9', R, { f: '/%C3%A9', m: '/é' }, 'hex re-encoded upper-case'],
  ['/%e2%82%ac', R, { f: '/%E2%82%AC', m: '/€' }],
  ['/%F0%9F%98%80', R, { f: '/%F0%9F%98%80', m: '/😀' }],
  ['/%41%42', R, { f: '/AB', m: '/AB' }, 'unreserved decoded'],
  ['/%7E', R, { f: '/~', m: '/~' }],
  ['/a%20b', R, { f: '/a%20b', m: '/a b' }, 'space allowed, re-encoded'],
  ['/[x]', R, { f: '/%5Bx%5D', m: '/[x]' }, 'gen-delims re-encoded'],
  ["/!$&'()*+,=:@", R, { f: "/!$&'()*+,=:@", m: "/!$&'()*+,=:@" }, 'pchar sub-delims kept'],
  ['/%24%26%2B%3D%3A%40', R, { f: '/$&+=:@', m: '/$&+=:@' }],
  ['/a"b<c>', R, { f: '/a%22b%3Cc%3E', m: '/a"b<c>' }],
  ['/100%25', R, { f: '/100%25', m: '/100%' }],
  ['/a?', R, { f: '/a', m: '/a', q: '?' }],
  ['/a?x=%2F..%00', R, { f: '/a', m: '/a', q: '?x=%2F..%00' }, 'query passed raw'],
  ['/a?b?c', R, { f: '/a', m: '/a', q: '?b?c' }],
  ['/a?x=\\;y', R, { f: '/a', m: '/a', q: '?x=\\;y' }, 'backslash and ; fine in query'],
  ['http://Host:8080/a?b', R, { f: '/a', m: '/a', q: '?b', a: 'host:8080' }],
  ['https://EXAMPLE.com', R, { f: '/', m: '/', a: 'example.com' }],
  ['HTTP://h?x', R, { f: '/', m: '/', q: '?x', a: 'h' }],
  ['http://[::1]:8080/x/../y', R, { f: '/y', m: '/y', a: '[::1]:8080' }],
  ['/a;jsessionid=x', A, { f: '/a;jsessionid=x', m: '/a' }],
  ['/a;jsessionid=x/b', A, { f: '/a;jsessionid=x/b', m: '/a/b' }],
  ['/a;x=1;y=2/', A, { f: '/a;x=1;y=2/', m: '/a/' }],
  ['/;jsessionid=x', A, { f: '/;jsessionid=x', m: '/' }],
  ['/a/;jsessionid=x', A, { f: '/a/;jsessionid=x', m: '/a/' }],
  ['/a;x=%41', A, { f: '/a;x=A', m: '/a' }, 'params re-encoded canonically'],
  ['/a;x=1/../b', A, { f: '/b', m: '/b' }],
  ['/a;', A, { f: '/a;', m: '/a' }],
  ['/a/b', A, { f: '/a/b', m: '/a/b' }],
  ['/ADMIN/Panel', CI, { f: '/ADMIN/Panel', m: '/admin/panel' }],
  ['/Adm%C4%B1n', CI, { f: '/Adm%C4%B1n', m: '/admin' }, 'dotless ı folds to i'],
  ['/%E2%84%AAey', R, { f: '/%E2%84%AAey', m: '/\u212Aey' }, 'Kelvin sign is a name where case matters'],
  ['/%EF%BD%81dmin', R, { f: '/%EF%BD%81dmin', m: '/\uFF41dmin' }, 'fullwidth a is a name where case matters'],
  ['/STRA%C3%9FE', CI, { f: '/STRA%C3%9FE', m: '/straße' }, 'ß does not expand'],
  ['/%C3%89T%C3%89', CI, { f: '/%C3%89T%C3%89', m: '/été' }],
  ['/admin.', R, { f: '/admin.', m: '/admin.' }, 'trailing dot fine when case-sensitive'],
  ['/a.b/c.d', CI, { f: '/a.b/c.d', m: '/a.b/c.d' }],
  ['/ADMIN;x', ACI, { f: '/ADMIN;x', m: '/admin' }],
  ['/A/../B/', CI, { f: '/B/', m: '/b/' }],
];

const rejected: Case[] = [
  ['', R, 'empty target'],
  ['*', R, 'asterisk-form'],
  ['example.com:443', R, 'unsupported target form', 'authority-form'],
  ['ftp://x/', R, 'unsupported target form'],
  ['a/b', R, 'unsupported target form'],
  ['javascript:alert(1)', R, 'unsupported target form'],
  ['http://user@evil.com/', R, 'invalid authority'],
  ['http:///a', R, 'invalid authority'],
  ['http://h:99999/', R, 'invalid authority'],
  ['http://h%41/', R, 'invalid authority'],
  ['http://h:/', R, 'invalid authority'],
  ['/..', R, 'traversal above root'],
  ['/../', R, 'traversal above root'],
  ['/%2e%2e/', R, 'traversal above root'],
  ['/%2E%2E/etc/passwd', R, 'traversal above root'],
  ['/a/../..', R, 'traversal above root'],
  ['/a/%2E%2E/%2e%2e/b', R, 'traversal above root'],
  ['http://h/a/../../', R, 'traversal above root'],
  ['/..%2f', R, 'encoded slash'],
  ['/..%2F..%2Fetc', R, 'encoded slash'],
  ['/a%2fb', R, 'encoded slash'],
  ['/..%5c', R, 'encoded backslash'],
  ['/a%5Cb', R, 'encoded backslash'],
  ['/a\\b', R, 'backslash'],
  ['/..\\', R, 'backslash'],
  ['/%252e%252e/', R, 'double encoding'],
  ['/%252F', R, 'double encoding'],
  ['/a%2541', R, 'double encoding'],
  ['/%25c0%25ae', R, 'double encoding'],
  ['/%c0%ae%c0%ae/', R, 'invalid utf-8', 'overlong dot'],
  ['/%e0%80%ae', R, 'invalid utf-8', 'overlong dot, 3 bytes'],
  ['/%c0%af', R, 'invalid utf-8', 'overlong slash'],
  ['/%e0%80%af', R, 'invalid utf-8'],
  ['/%c1%9c', R, 'invalid utf-8', 'overlong backslash'],
  ['/%80', R, 'invalid utf-8', 'lone continuation'],
  ['/%C3', R, 'invalid utf-8', 'truncated 2-byte'],
  ['/%E2%82', R, 'invalid utf-8', 'truncated 3-byte'],
  ['/%ED%A0%80', R, 'invalid utf-8', 'surrogate'],
  ['/%F4%90%80%80', R, 'invalid utf-8', 'above U+10FFFF'],
  ['/%FF', R, 'invalid utf-8'],
  ['/%00', R, 'control character'],
  ['/a\u0000', R, 'control character'],
  ['/a\r\nX: y', R, 'control character'],
  ['/%0d%0a', R, 'control character'],
  ['/%09', R, 'control character'],
  ['/a\tb', R, 'control character'],
  ['/%7F', R, 'control character'],
  ['/a\u007f', R, 'control character'],
  ['/%C2%85', R, 'control character', 'NEL'],
  ['/%C2%9F', R, 'control character'],
  ['/\u0085', R, 'control character', 'raw C1 byte as Node delivers it'],
  ['/a?x=\u0000', R, 'control character'],
  ['/a?x=\n', R, 'control character'],
  ['/caf\u00c3\u00a9', R, 'non-ascii', 'raw UTF-8 é as latin1 chars'],
  ['/\u00ff', R, 'non-ascii'],
  ['/a?q=\u00e9', R, 'non-ascii'],
  ['/a b', R, 'whitespace'],
  ['/%C2%A0', R, 'whitespace', 'NBSP'],
  ['/%E3%80%80', R, 'whitespace', 'ideographic space'],
  ['/%E2%80%A8', R, 'whitespace', 'line separator'],
  ['/%EF%BB%BFadmin', R, 'whitespace', 'BOM is kept by the decoder, then refused'],
  ['/a#b', R, 'fragment'],
  ['/a%23b', R, 'fragment'],
  ['/a?x#y', R, 'fragment'],
  ['/%', R, 'invalid percent-encoding'],
  ['/%4', R, 'invalid percent-encoding'],
  ['/%zz', R, 'invalid percent-encoding'],
  ['/%%41', R, 'invalid percent-encoding'],
  ['/a;jsessionid=x', R, 'path parameters'],
  ['/..;/admin', R, 'path parameters'],
  ['/..;/admin', A, 'dot segment with parameters'],
  ['/.;/admin', A, 'dot segment with parameters'],
  ['/a/..;x=1/admin', A, 'dot segment with parameters'],
  ['/%2e%2e;x/admin', A, 'dot segment with parameters'],
  ['/a/;x/../admin', A, 'empty segment with parameters', 'Tomcat merges // before ..'],
  ['/a;x=%2F', A, 'encoded slash', 'params checked too'],
  ['/a;x=%00', A, 'control character'],
  ['/a%3Bx', R, 'encoded semicolon'],
  ['/a%3Bx', A, 'encoded semicolon'],
  ['/admin.', CI, 'trailing dot or space', 'IIS serves /admin'],
  ['/admin%20/', CI, 'trailing dot or space'],
  ['/admin../x', CI, 'trailing dot or space'],
  ['/admin.;x', ACI, 'trailing dot or space'],
  ['/admin%3F/secret', R, 'encoded question mark', 'read as /admin by servers that decode before splitting the query'],
  ['/admin%3f', R, 'encoded question mark'],
  ['/a%3Fb', A, 'encoded question mark'],
  ['/a;x=%3F', A, 'encoded question mark', 'params checked too'],
  ['/admin%23/secret', R, 'fragment', 'an encoded # likewise'],
  ['/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E', CI, 'compatibility character', 'fullwidth ａｄｍｉｎ: IIS best-fit reads admin'],
  ['/admin%EF%BC%8Ex', CI, 'compatibility character', 'fullwidth full stop'],
  ['/a%EF%BC%8Fadmin', CI, 'compatibility character', 'fullwidth solidus'],
  ['/%EF%AC%81le', CI, 'compatibility character', 'ligature fi'],
  ['/%E2%84%AAey', CI, 'compatibility character', 'Kelvin sign (NFKC: K)'],
  ['/%C5%BFecret', CI, 'compatibility character', 'long s (NFKC: s)'],
  ['/x%C2%BD', ACI, 'compatibility character', 'one half (NFKC: 1/2)'],
];

t.test('accepted targets', async (t) => {
  for (const [target, opts, exp, why] of accepted) {
    const e = exp as Accepted;
    const want: Record<string, unknown> = { ok: true, forwardPath: e.f, matchPath: e.m, query: e.q ?? '' };
    if (e.a !== undefined) want.authority = e.a;
    t.same(normalizeTarget(target, opts), want, `${JSON.stringify(target)} ${JSON.stringify(opts)}${why ? ' — ' + why : ''}`);
  }
});

t.test('rejected targets', async (t) => {
  for (const [target, opts, reason, why] of rejected) {
    t.same(normalizeTarget(target, opts), { ok: false, reason }, `${JSON.stringify(target)} ${JSON.stringify(opts)}${why ? ' — ' + why : ''}`);
  }
});

t.test('table has the promised breadth', async (t) => {
  t.ok(accepted.length + rejected.length >= 80, `${accepted.length + rejected.length} cases`);
});

t.test('every rejection that does not depend on options is rejected under all options', async (t) => {
  const optionDependent = new Set(['path parameters', 'dot segment with parameters', 'empty segment with parameters', 'trailing dot or space', 'compatibility character']);
  for (const [target, , reason] of rejected) {
    if (optionDependent.has(reason as string)) continue;
    for (const opts of [R, A, CI, ACI]) {
      t.equal(normalizeTarget(target, opts).ok, false, `${JSON.stringify(target)} ${JSON.stringify(opts)}`);
    }
  }
});

t.test('foldPathCase', async (t) => {
  t.equal(foldPathCase('/ADMIN'), '/admin');
  t.equal(foldPathCase('/adm\u0131n'), '/admin');
  t.equal(foldPathCase('/\u212Aey'), '/key');
  t.equal(foldPathCase('/\u017Fecret'), '/secret');
  t.equal(foldPathCase('/STRAẞE'), '/straße');
  t.equal(foldPathCase('/ß'), '/ß', 'no expansion to ss');
  t.equal(foldPathCase('/\u0130'), '/\u0130', 'İ would expand to i + combining dot: kept');
  t.equal(foldPathCase('/😀A'), '/😀a', 'astral code points pass through');
});

// Seeded so a failure reproduces.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '%', ';', ';x=1', '?', 'a', 'B', 'é', '%C3%A9', '%c3', '%a9',
  '%C4%B1', '%E2%84%AA', '%EF%BD%81', '%EF%BC%8E', '%3F', '%3f', '%20', '%00', '%80', '%ED%A0%80', '#', '\\', '~', '!', '=', '@', ':', '[', '%3B', '%41', 'Z'];

function randomTarget(rnd: () => number): string {
  let s = '/';
  const n = 1 + Math.floor(rnd() * 12);
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.2) s += String.fromCharCode(Math.floor(rnd() * 256)); // any byte, latin1 as Node delivers it
    else s += PIECES[Math.floor(rnd() * PIECES.length)];
  }
  return s;
}

t.test('property: normalization is idempotent and what is matched is what is forwarded', async (t) => {
  const rnd = prng(0x6a7e);
  let acceptedCount = 0;
  let rejectedCount = 0;
  const failures: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const target = randomTarget(rnd);
    for (const opts of [R, A, CI, ACI]) {
      const first = normalizeTarget(target, opts);
      if (!first.ok) {
        rejectedCount++;
        if (!/^[a-z][a-z0-9 .\-]{2,40}$/.test(first.reason)) failures.push(`bad reason ${first.reason}`);
        continue;
      }
      acceptedCount++;
      const label = `${JSON.stringify(target)} ${JSON.stringify(opts)} → ${first.forwardPath}`;
      const again = normalizeTarget(first.forwardPath, opts);
      if (!again.ok || again.forwardPath !== first.forwardPath || again.matchPath !== first.matchPath) {
        failures.push(`not idempotent: ${label} → ${JSON.stringify(again)}`);
      }
      if (!/^\/[\x21-\x7e]*$/.test(first.forwardPath)) failures.push(`forwardPath not printable ASCII: ${label}`);
      // A WHATWG-conformant upstream sees exactly this path (no further dot resolution or escaping).
      if (new URL(first.forwardPath, 'http://upstream').pathname !== first.forwardPath) failures.push(`WHATWG changes forwardPath: ${label}`);
      if (opts === R) {
        // With no params and no case folding, matchPath is the decoded forwardPath.
        if (decodeURIComponent(first.forwardPath) !== first.matchPath) failures.push(`decode(forwardPath) != matchPath: ${label}`);
      }
      if (/\/\.\.?(?:\/|;|$)/.test(first.matchPath) || first.matchPath.includes('//')) failures.push(`unresolved matchPath: ${label}`);
    }
  }
  t.same(failures.slice(0, 20), [], 'no property violations');
  t.ok(acceptedCount > 500, `exercised ${acceptedCount} accepted normalizations`);
  t.ok(rejectedCount > 500, `exercised ${rejectedCount} rejections`);
});

t.test('fast path and slow path agree on plain paths', async (t) => {
  // '/x/./' forces the slow path; stripping it must give the fast-path answer.
  for (const p of ['/a', '/a/b/', "/A-._~!$&'()*+,=:@z", '/api/v1/users/42', '/a.b/c..d']) {
    for (const opts of [R, A, CI, ACI]) {
      const fast = normalizeTarget(p, opts);
      const slow = normalizeTarget('/x/..' + p, opts);
      t.same(slow, fast, `${p} ${JSON.stringify(opts)}`);
    }
  }
});
