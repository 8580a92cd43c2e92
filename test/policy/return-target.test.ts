import t from 'tap';
import { safeReturnTarget } from '../../src/policy/return-target.ts';

const ORIGIN = 'http://localhost:8080';

/** Test names with every non-printable-ASCII char escaped (a raw U+2028 would break the TAP stream). */
const show = (s: string | undefined | null): string =>
  (JSON.stringify(s) ?? 'undefined').replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')).slice(0, 70);

// Open-redirect payloads and other targets that must never be followed.
const refused: Array<[rd: string | undefined | null, why: string]> = [
  [undefined, 'absent'],
  [null, 'absent'],
  ['', 'empty'],
  ['//evil.com', 'protocol-relative'],
  ['///evil.com', 'triple slash'],
  ['////evil.com', 'quadruple slash'],
  ['/\\evil.com', 'backslash read as slash'],
  ['\\/evil.com', 'leading backslash'],
  ['\\\\evil.com', 'double backslash'],
  ['/a\\b', 'backslash anywhere'],
  ['/\t/evil.com', 'tab stripped by WHATWG'],
  ['/\n/evil.com', 'newline stripped by WHATWG'],
  ['/\r/evil.com', 'CR stripped by WHATWG'],
  ['\t//evil.com', 'leading tab'],
  [' //evil.com', 'leading space'],
  ['/ /evil.com', 'space after the slash'],
  ['/evil.com ', 'trailing space'],
  ['\u0000//evil.com', 'leading NUL'],
  ['/\u0000', 'NUL'],
  ['/\u0085/evil.com', 'C1 control'],
  ['/\u00a0/evil.com', 'NBSP'],
  ['/\u3000/evil.com', 'ideographic space'],
  ['\u2028//evil.com', 'line separator'],
  ['/\ufeff/evil.com', 'BOM'],
  ['https://evil.com', 'absolute URL'],
  ['http://evil.com/', 'absolute URL'],
  ['http:evil.com', 'scheme without slashes'],
  ['https:/evil.com', 'scheme with one slash'],
  ['http://localhost:8080/x', 'absolute URL even to our own origin'],
  ['javascript:alert(1)', 'javascript scheme'],
  ['JaVaScRiPt:alert(1)', 'javascript scheme, mixed case'],
  ['data:text/html,x', 'data scheme'],
  ['/%2f%2fevil.com', 'encoded //'],
  ['/%2F%2Fevil.com', 'encoded //, upper-case'],
  ['/%2fevil.com', 'encoded / after the first'],
  ['/%5cevil.com', 'encoded backslash'],
  ['/%5Cevil.com', 'encoded backslash, upper-case'],
  ['/%252f%252fevil.com', 'double-encoded //'],
  ['/%09/evil.com', 'encoded tab'],
  ['/%20/evil.com', 'encoded space then slash'],
  ['%2F%2Fevil.com', 'no leading slash'],
  ['http://localhost:8080@evil.com', 'userinfo trick'],
  ['//localhost:8080@evil.com', 'protocol-relative userinfo trick'],
  ['\uff0f\uff0fevil.com', 'fullwidth solidus'],
  ['/.//evil.com', 'dot segment collapses into //'],
  ['/a/..//evil.com', 'dot-dot collapses into //'],
  ['/%2e//evil.com', 'encoded dot collapses into //'],
  ['evil.com', 'relative without slash'],
  ['../x', 'relative dot-dot'],
  ['?x=1', 'query only'],
  ['#frag', 'fragment only'],
  ['/.gatehouse/logout', 'logout'],
  ['/.gatehouse/logout?x=1', 'logout with query'],
  ['/.gatehouse/logout/', 'logout with trailing slash'],
  ['/.GATEHOUSE/Logout', 'logout in another case'],
  ['/a/../.gatehouse/logout', 'logout via dot-dot'],
  ['/.gatehouse/logout;x=1', 'logout with path parameter'],
  ['/.gatehouse/%6cogout', 'logout with an encoded letter'],
  ['/.gatehouse/./logout', 'logout via dot'],
  ['/' + 'a'.repeat(2048), 'over 2048 characters'],
  ['/%00', 'encoded NUL'],
  ['/%c0%ae%c0%ae/x', 'overlong UTF-8'],
];

const kept: Array<[rd: string, expected: string]> = [
  ['/', '/'],
  ['/billing?x=1', '/billing?x=1'],
  ['/a/b#frag', '/a/b'],
  ['/a/./b', '/a/b'],
  ['/a/../b', '/b'],
  ['/caf\u00e9', '/caf%C3%A9'],
  ['/caf%C3%A9', '/caf%C3%A9'],
  ['/search?q=a%20b&next=//evil.com', '/search?q=a%20b&next=//evil.com'],
  ['/app/page.jsp;jsessionid=1', '/app/page.jsp;jsessionid=1'],
  ['/.gatehouse/account', '/.gatehouse/account'],
  ['/.gatehouse/logoutx', '/.gatehouse/logoutx'],
  ['/a?', '/a'],
  ['/..', '/'],
  ['/../../etc', '/etc'],
  ['/' + 'a'.repeat(2047), '/' + 'a'.repeat(2047)],
];

t.test('open-redirect payloads yield null', async (t) => {
  t.ok(refused.length >= 30, `${refused.length} payloads`);
  for (const [rd, why] of refused) {
    t.equal(safeReturnTarget(rd, ORIGIN), null, `${show(rd)} — ${why}`);
  }
});

t.test('legitimate same-origin targets are kept', async (t) => {
  for (const [rd, expected] of kept) {
    t.equal(safeReturnTarget(rd, ORIGIN), expected, show(rd));
  }
});

t.test('whatever is kept stays on our origin when a browser resolves it', async (t) => {
  for (const [rd] of [...kept, ...refused]) {
    const out = safeReturnTarget(rd, ORIGIN);
    if (out === null) continue;
    t.equal(new URL(out, 'https://other.example').host, 'other.example', `${show(out)} is relative to any base`);
    t.equal(new URL(out, ORIGIN).origin, ORIGIN);
  }
});

t.test('other public origins', async (t) => {
  t.equal(safeReturnTarget('/x?y', 'https://gw.example.com'), '/x?y', 'https with default port');
  t.equal(safeReturnTarget('/x', 'https://gw.example.com/some/base'), '/x', 'path in publicOrigin ignored');
  t.equal(safeReturnTarget('//gw.example.com/x', 'https://gw.example.com'), null, 'protocol-relative even to our own host');
  t.equal(safeReturnTarget('/x', 'not a url'), null, 'bad publicOrigin fails closed');
  t.equal(safeReturnTarget('/x', 'data:text/plain,x'), null, 'opaque publicOrigin fails closed');
});
