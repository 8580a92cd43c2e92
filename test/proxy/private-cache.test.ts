import t from 'tap';
import { privateCacheControl } from '../../src/proxy/private-cache.ts';

// [upstream Cache-Control, what the client gets (undefined = the upstream's value unchanged), why]
const TABLE: [string | string[] | undefined, string | undefined, string][] = [
  [undefined, 'private', 'no header: private'],
  ['', 'private', 'empty header: private'],
  ['public, max-age=60', 'private, max-age=60', 'public is replaced'],
  ['PUBLIC,max-age=60', 'private, max-age=60', 'any case, no space'],
  ['max-age=600, s-maxage=3600', 'private, max-age=600', 's-maxage is for shared caches only'],
  ['public, s-maxage=3600, proxy-revalidate', 'private', 'nothing but shared-cache directives'],
  ['no-cache', 'private, no-cache', 'no-cache still lets a shared cache store'],
  ['max-age=0, must-revalidate', 'private, max-age=0, must-revalidate', 'other directives kept in order'],
  ['private', undefined, 'already private'],
  ['Private, max-age=30', undefined, 'already private, any case'],
  ['no-store', undefined, 'nothing is stored'],
  ['public, no-store', undefined, 'no-store wins'],
  [['public', 'max-age=60'], 'private, max-age=60', 'several header lines merged'],
  ['private="Set-Cookie", max-age=60', 'private, max-age=60', 'private for some fields only: the body could still be shared'],
  ['no-cache="Set-Cookie, X-A", public', 'private, no-cache="Set-Cookie, X-A"', 'a quoted comma is not a separator'],
  ['public, ext="a\\"b, c"', 'private, ext="a\\"b, c"', 'escaped quote inside a quoted string'],
  [' , public ,, max-age=5 ', 'private, max-age=5', 'empty list members dropped'],
];

t.test('privateCacheControl', async (t) => {
  for (const [input, want, why] of TABLE) {
    t.equal(privateCacheControl(input), want, `${JSON.stringify(input)}: ${why}`);
  }
});

t.test('idempotent: a value it produced needs no change', async (t) => {
  for (const [input] of TABLE) {
    const once = privateCacheControl(input);
    if (once !== undefined) t.equal(privateCacheControl(once), undefined, `${JSON.stringify(input)} → ${once}`);
  }
});
