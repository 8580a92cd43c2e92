import t from 'tap';
import { matchPath, parsePathPattern, pathSegments, PathPatternError } from '../../src/policy/path-pattern.ts';

const rows: [pattern: string, path: string, matches: boolean][] = [
  // exact
  ['/a/b', '/a/b', true],
  ['/a/b', '/a/b/', true], // one trailing slash is not significant
  ['/a/b/', '/a/b', true],
  ['/a/b', '/a', false],
  ['/a/b', '/a/b/c', false],
  ['/a/b', '/a/bc', false],
  ['/a/b', '/A/B', false],
  ['/', '/', true],
  ['/', '/a', false],
  // one segment
  ['/a/*', '/a/x', true],
  ['/a/*', '/a/x/', true],
  ['/a/*', '/a', false],
  ['/a/*', '/a/', false],
  ['/a/*', '/a/x/y', false],
  ['/*', '/x', true],
  ['/*', '/', false],
  // prefix
  ['/a/**', '/a', true],
  ['/a/**', '/a/', true],
  ['/a/**', '/a/x', true],
  ['/a/**', '/a/x/y/z', true],
  ['/a/**', '/ab', false],
  ['/a/**', '/b/a', false],
  ['/**', '/', true],
  ['/**', '/anything/at/all', true],
  // wildcard in the middle
  ['/a/*/c', '/a/b/c', true],
  ['/a/*/c', '/a/zzz/c/', true],
  ['/a/*/c', '/a/c', false],
  ['/a/*/c', '/a/b/c/d', false],
  ['/a/*/c', '/a/b/d', false],
  ['/*/*', '/x/y', true],
  ['/*/*', '/x', false],
  ['/a/*/**', '/a/b', true],
  ['/a/*/**', '/a/b/c/d', true],
  ['/a/*/**', '/a', false],
  // segments may hold any decoded characters
  ['/files/a b.txt', '/files/a b.txt', true],
  ['/ü/**', '/ü/x', true],
];

for (const [pattern, path, expected] of rows) {
  t.equal(matchPath(pattern, path), expected, `${pattern} ${expected ? 'matches' : 'does not match'} ${path}`);
}

t.test('case-insensitive parsing lower-cases literals only', async (t) => {
  const p = parsePathPattern('/Admin/*/Edit', { caseInsensitive: true });
  t.same(p.literal, ['admin']);
  t.equal(p.shape, 'complex');
  t.ok(matchPath('/Admin/**', '/admin/x', { caseInsensitive: true }));
  t.notOk(matchPath('/Admin/**', '/admin/x'));
});

t.test('shapes and literal prefixes', async (t) => {
  t.same(
    ['/a/b', '/a/*', '/a/**', '/a/*/c', '/', '/**'].map((p) => {
      const x = parsePathPattern(p);
      return [x.shape, x.literal];
    }),
    [['exact', ['a', 'b']], ['one', ['a']], ['prefix', ['a']], ['complex', ['a']], ['exact', []], ['prefix', []]],
  );
});

t.test('pathSegments', async (t) => {
  t.same(pathSegments('/'), []);
  t.same(pathSegments('/a'), ['a']);
  t.same(pathSegments('/a/'), ['a']);
  t.same(pathSegments('/a/b'), ['a', 'b']);
});

t.test('bad patterns are clear errors', async (t) => {
  const bad: [string, RegExp][] = [
    ['a/b', /must start with '\/'/],
    ['', /must start with/],
    ['/a/b*', /whole segments/],
    ['/a/**b', /whole segments/],
    ['/**/a', /only allowed as the last segment/],
    ['/a/**/**', /only allowed as the last segment/],
    ['/a//b', /empty segment/],
    ['/a/../b', /dot segments/],
    ['/a?x=1', /no \? or #/],
    ['/a#frag', /no \? or #/],
    ['/a\nb', /control characters/],
  ];
  for (const [pattern, message] of bad) {
    t.throws(() => parsePathPattern(pattern), { name: 'PathPatternError', message }, JSON.stringify(pattern));
  }
  try {
    parsePathPattern('/x*');
  } catch (err) {
    t.ok(err instanceof PathPatternError);
    t.equal((err as PathPatternError).pattern, '/x*');
  }
});
