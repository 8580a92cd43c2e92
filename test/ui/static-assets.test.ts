import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createStaticAssets,
  contentTypeOf,
  defaultStaticSources,
  simpleWebAuthnBundlePath,
  STATIC_HEADERS,
} from '../../src/ui/static-assets.ts';

const VIEWS = path.resolve(import.meta.dirname, '..', '..', 'views');

t.test('serves the files of views/static and the WebAuthn bundle from memory', async (t) => {
  const assets = createStaticAssets(defaultStaticSources(VIEWS));
  for (const name of ['gatehouse.css', 'autosubmit.js', 'countdown.js', 'password-toggle.js', 'favicon.svg', 'simplewebauthn-browser.js']) {
    t.ok(assets.names.includes(name), `${name} is served`);
  }
  const css = assets('gatehouse.css');
  t.ok(css, 'css found');
  t.equal(css!.type, 'text/css; charset=utf-8');
  t.same(css!.body, readFileSync(path.join(VIEWS, 'static', 'gatehouse.css')), 'body is the file');
  t.match(css!.etag, /^"[A-Za-z0-9_-]{22}"$/, 'strong etag');

  const bundle = assets('simplewebauthn-browser.js');
  t.equal(bundle!.type, 'text/javascript; charset=utf-8');
  t.match(bundle!.body.subarray(0, 200).toString(), /@simplewebauthn\/browser@14/, 'the real UMD bundle');
  t.match(bundle!.body.toString(), /SimpleWebAuthnBrowser/, 'exposes the SimpleWebAuthnBrowser global');
  t.match(simpleWebAuthnBundlePath(), /node_modules\/@simplewebauthn\/browser\/dist\/bundle\/index\.umd\.min\.js$/);
});

t.test('only names present at start, never a path', async (t) => {
  const assets = createStaticAssets(defaultStaticSources(VIEWS));
  for (const name of ['../package.json', '..%2fpackage.json', '/etc/passwd', 'static/gatehouse.css', '', 'GATEHOUSE.CSS', 'constructor', '__proto__', 'toString']) {
    t.equal(assets(name), undefined, `${JSON.stringify(name)} is not served`);
  }
});

t.test('loaded once: later changes on disk are not served', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-static-'));
  writeFileSync(path.join(dir, 'a.css'), 'a{}');
  const assets = createStaticAssets({ static: dir });
  writeFileSync(path.join(dir, 'a.css'), 'changed{}');
  writeFileSync(path.join(dir, 'b.css'), 'b{}');
  t.equal(assets('a.css')!.body.toString(), 'a{}');
  t.equal(assets('b.css'), undefined);
});

t.test('version and etags follow content', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-static-'));
  writeFileSync(path.join(dir, 'a.css'), 'a{}');
  const one = createStaticAssets({ static: dir });
  const same = createStaticAssets({ static: dir });
  writeFileSync(path.join(dir, 'a.css'), 'a{color:red}');
  const two = createStaticAssets({ static: dir });
  t.equal(one.version, same.version, 'stable for the same files');
  t.not(one.version, two.version, 'changes with a file');
  t.not(one('a.css')!.etag, two('a.css')!.etag);
});

t.test('bad sources are refused with a clear error', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-static-'));
  writeFileSync(path.join(dir, 'a.js'), '1');
  writeFileSync(path.join(dir, '.hidden'), 'x');
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(dir, 'sub', 'deep.js'), '2');
  const assets = createStaticAssets({ static: dir });
  t.same(assets.names, ['a.js'], 'no dot-files, no subdirectories');
  t.throws(() => createStaticAssets({ static: path.join(dir, 'nope') }), /does not exist/);
  t.throws(() => createStaticAssets({ one: dir, 'a.js': path.join(dir, 'a.js') }), /provided twice/);
  t.throws(() => createStaticAssets({ '../x.js': path.join(dir, 'a.js') }), /not a plain file name/);
});

t.test('content types', async (t) => {
  const table: Array<[string, string]> = [
    ['x.css', 'text/css; charset=utf-8'],
    ['x.js', 'text/javascript; charset=utf-8'],
    ['x.svg', 'image/svg+xml'],
    ['x.PNG', 'image/png'],
    ['x.bin', 'application/octet-stream'],
    ['noext', 'application/octet-stream'],
  ];
  for (const [name, type] of table) t.equal(contentTypeOf(name), type, name);
  t.match(STATIC_HEADERS['Cache-Control'], /max-age=31536000/);
  t.equal(STATIC_HEADERS['X-Content-Type-Options'], 'nosniff');
  t.ok(Object.isFrozen(STATIC_HEADERS));
});
