// The method overrides a request claims (policy/method-override.ts), as the
// apps that honour them read the field: every spelling an app decodes to
// `_method` (or ASP.NET MVC's X-HTTP-Method-Override field) is a claim, and a
// spelling whose reading apps disagree on is UNREADABLE_OVERRIDE (refused).

import t from 'tap';
import { formKind, formOverrides, headerOverrides, queryOverrides, UNREADABLE_OVERRIDE } from '../../src/policy/method-override.ts';

const U = UNREADABLE_OVERRIDE;

t.test('queryOverrides: the spellings Rack, PHP and ASP.NET read', async (t) => {
  const rows: Array<[string, readonly string[]]> = [
    ['', []],
    ['?', []],
    ['?a=1&b=2', []],
    ['?_method=delete', ['DELETE']],
    ['_method=put', ['PUT']],
    ['?%5Fmethod=DELETE', ['DELETE']],
    ['?%5f%6d%65%74%68%6f%64=DELETE', ['DELETE']],
    ['?+_method=DELETE', ['DELETE']],          // PHP drops leading spaces
    ['?.method=DELETE', ['DELETE']],           // PHP: '.' is '_'
    ['?[method=DELETE', ['DELETE']],           // PHP: an unclosed '[' is '_'
    ['?_method%00junk=DELETE', ['DELETE']],    // PHP cuts a name at NUL
    ['?a=1;_method=DELETE', ['DELETE']],       // Rack 2 splits at ';'
    ['?_method=%44ELETE', ['DELETE']],
    ['?_method=%u0044ELETE', ['DELETE']],      // IIS's %uXXXX
    ['?X-HTTP-Method-Override=PATCH', ['PATCH']],
    ['?x-http-method-override=patch', ['PATCH']],
    ['?_method[]=DELETE', [U]],                // PHP: an array
    ['?_method[x]=DELETE', [U]],
    ['?_method', ['']],                        // claimed, empty: the decision refuses it as a bad method
    ['?_method=GET&_method=DELETE', ['GET', 'DELETE']],
    ['?method=DELETE&x_method=DELETE&note=_method&_METHOD=DELETE', []],
  ];
  for (const [query, want] of rows) t.same(queryOverrides(query), want, JSON.stringify(query));
});

t.test('formKind: which POST bodies apps may read fields from', async (t) => {
  const rows: Array<[string | undefined, string]> = [
    [undefined, 'untyped'],
    ['', 'untyped'],
    ['application/x-www-form-urlencoded', 'form'],
    ['Application/X-WWW-Form-Urlencoded; charset=UTF-8', 'form'],
    [' multipart/form-data; boundary=x', 'form'],
    ['application/x-www-form-urlencoded, text/plain', 'ambiguous'],
    ['application/x-www-form-urlencoded text/plain', 'ambiguous'],
    ['multipart/form-data,x; boundary=b', 'ambiguous'],
    ['application/json', 'other'],
    ['text/plain; x=application/x-www-form-urlencoded', 'other'],
  ];
  for (const [type, want] of rows) t.equal(formKind(type), want, JSON.stringify(type));
});

t.test('formOverrides: urlencoded, untyped and multipart bodies', async (t) => {
  const mp = (disposition: string, value: string) => Buffer.from(`--b\r\nContent-Disposition: form-data; ${disposition}\r\n\r\n${value}\r\n--b--\r\n`, 'latin1');
  const MP = 'multipart/form-data; boundary=b';
  t.same(formOverrides('application/x-www-form-urlencoded', Buffer.from('a=1&%5Fmethod=put')), ['PUT']);
  t.same(formOverrides(undefined, Buffer.from('_method=DELETE')), ['DELETE'], 'no Content-Type: read as Rack does, as a form');
  t.same(formOverrides('application/json', Buffer.from('{"_method":"DELETE"}')), [], 'not a form');
  t.same(formOverrides(MP, mp('name="_method"', ' delete ')), ['DELETE']);
  t.same(formOverrides(MP, mp('name=_method', 'PUT')), ['PUT']);
  t.same(formOverrides(MP, mp('name=".method"', 'PUT')), ['PUT'], "PHP's mangling in a multipart name");
  t.same(formOverrides(MP, mp('name="X-HTTP-Method-Override"', 'PUT')), ['PUT']);
  t.same(formOverrides(MP, mp('name="_method"; filename="a.txt"', 'PUT')), [], 'a file part is no field');
  t.same(formOverrides(MP, mp("name='_method'", 'PUT')), [U], 'a part apps read differently: unreadable');
  t.same(formOverrides(MP, mp('name="_method"', 'PU\u0001T')), [U], 'a value with a control character');
  t.same(formOverrides('multipart/form-data; boundary=b; boundary=c', mp('name="a"', '1')), [U], 'a multipart body the gateway does not read');
  t.same(formOverrides(MP, mp('name="note"', '_method=DELETE')), [], 'a value that looks like a pair is a value');
});

t.test('headerOverrides: every spelling an app reads as an override header', async (t) => {
  const table: [Record<string, string | string[]>, string[]][] = [
    [{}, []],
    [{ accept: 'text/html' }, []],
    [{ 'x-http-method-override': 'delete' }, ['DELETE']],
    [{ 'x-http-method': 'PUT, PATCH' }, ['PUT', 'PATCH']],
    [{ 'x-method-override': ['DELETE', 'PUT'] }, ['DELETE', 'PUT']],
    // CGI and PHP read '_', '.' and other punctuation as '-' (proxy/owned-headers.ts).
    [{ 'x_http_method_override': 'DELETE' }, ['DELETE']],
    [{ 'x.http.method.override': 'DELETE' }, ['DELETE']],
    [{ 'x~http~method': 'DELETE' }, ['DELETE']],
    [{ "x'method'override": 'DELETE' }, ['DELETE']],
    // Not an override header.
    [{ 'x-http-method-overrides': 'DELETE' }, []],
    [{ 'x-method': 'DELETE' }, []],
    [{ 'method': 'DELETE' }, []],
  ];
  for (const [headers, want] of table) t.same(headerOverrides(headers), want, JSON.stringify(headers));
});
