// The real DokuWiki and phpMyAdmin from Debian (php-fpm + nginx from temp
// dirs, see test/helpers/legacy-apps.ts; phpMyAdmin against the machine's
// MariaDB) behind the gateway in full-proxy mode, with the routes and policy
// of config/examples/dokuwiki.yaml and phpmyadmin.yaml as written: the admin
// and export actions (query or form parameters) need a fresh second factor;
// pages and the apps' own AJAX calls keep working on a stale one. Skips
// loudly when a package is missing, except under CI=true.

import t, { type Test } from 'tap';
import { Client, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { exampleRoutesAndPolicy, legacyAppsMissing, startDokuWiki, startPhpMyAdmin, type PhpSite } from '../helpers/legacy-apps.ts';
import { enrollTotp, passTotp, type TotpDevice } from '../helpers/totp.ts';

const MIN = 60_000;


/** alice signed in with a TOTP check 10 minutes old: enough for routine MFA, too old for the 5-minute rules. */
async function staleSession(f: GatewayFixture): Promise<{ c: Client; device: TotpDevice }> {
  const c = new Client(f.url);
  const r = await c.signIn('alice', 'alice-test-pass', '/');
  if (r.status !== 303 && r.status !== 302) throw new Error(`sign-in answered ${r.status}`);
  const { r: enrolled, device } = await enrollTotp(c, '/', f.clock);
  if (enrolled.status !== 303) throw new Error(`enrollment answered ${enrolled.status}`);
  f.clock.advance(10 * MIN);
  return { c, device };
}

function stepUp(t: Test, r: Response, what: string): void {
  t.equal(r.status, 302, `${what}: redirected`);
  t.match(r.headers.get('location') ?? '', /^\/\.gatehouse\/challenge\?/, `${what}: to the gateway's challenge`);
}

for (const app of ['dokuwiki', 'phpmyadmin'] as const) {
  const missing = legacyAppsMissing(app);
  if (missing && process.env.CI !== 'true') {
    t.comment(`SKIPPED (loudly): ${app} tests need the Debian packages: ${missing}`);
    t.test(`${app} behind the gateway (${missing})`, { skip: missing }, async () => {});
  }
}

if (!legacyAppsMissing('dokuwiki') || process.env.CI === 'true') {
  t.test('DokuWiki (config/examples/dokuwiki.yaml): admin and export step up, pages and AJAX do not', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass', groups: ['admin', 'user'] } } });
    t.teardown(() => wiki.close());
    const f = await startTestGateway({ upstream: false, config: exampleRoutesAndPolicy('dokuwiki.yaml', wiki.origin) });
    t.teardown(() => f.close());
    t.comment(`DokuWiki on ${wiki.origin} (php-fpm and nginx PIDs ${wiki.pids.join(', ')})`);
    const { c, device } = await staleSession(f);

    let r = await c.fetch('/doku.php?id=wiki:syntax');
    t.equal(r.status, 200, 'reading a page: a stale factor will do');
    t.match(await r.text(), /Formatting Syntax/);
    r = await c.fetch('/lib/exe/ajax.php', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-requested-with': 'XMLHttpRequest', accept: '*/*', 'sec-fetch-mode': 'cors' }, body: 'call=linkwiz&q=wiki%3A' });
    t.equal(r.status, 200, 'DokuWiki\'s own AJAX (the link wizard)');
    t.match(await r.text(), /wiki:syntax/);
    r = await c.fetch('/doku.php?id=wiki:syntax&do=edit');
    t.equal(r.status, 200, 'the editor (do=edit): no fresh factor');

    for (const target of ['/doku.php?do=admin', '/doku.php?id=start&do=ADMIN&page=config', '/doku.php?do[admin]=1', '/doku.php?do=ad-min', '/doku.php?id=wiki:syntax&do=export_raw', '/doku.php?do=show&do=admin']) {
      stepUp(t, await c.fetch(target), `GET ${target}`);
    }
    stepUp(t, await c.postForm('/doku.php?id=start', { do: 'admin', page: 'usermanager' }), 'POST with do=admin only in the body');

    r = await c.fetch('/doku.php?id=wiki:syntax', { headers: { 'x-dokuwiki-do': 'export_raw' } });
    t.equal(r.status, 200);
    t.match(await r.text(), /<html/, 'X-DokuWiki-Do: export_raw is stripped: DokuWiki renders the page, not the raw export');

    r = await passTotp(c, device, '/doku.php?id=wiki:syntax&do=export_raw');
    t.equal(r.status, 303, 'a fresh TOTP code');
    r = await c.fetch('/doku.php?id=wiki:syntax&do=export_raw');
    t.equal(r.status, 200, 'then the export goes through');
    t.match(r.headers.get('content-type') ?? '', /text\/plain/);
    t.match(await r.text(), /====== Formatting Syntax ======/, 'DokuWiki\'s raw export');
  });
}

if (!legacyAppsMissing('phpmyadmin') || process.env.CI === 'true') {
  t.test('phpMyAdmin (config/examples/phpmyadmin.yaml): export by GET and by a POST with route only in the body step up', async (t) => {
    let pma: PhpSite;
    try {
      pma = await startPhpMyAdmin();
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      t.comment(`SKIPPED (loudly): phpMyAdmin did not start: ${(err as Error).message}`);
      return;
    }
    t.teardown(() => pma.close());
    const f = await startTestGateway({ upstream: false, config: exampleRoutesAndPolicy('phpmyadmin.yaml', pma.origin) });
    t.teardown(() => f.close());
    const { c, device } = await staleSession(f);

    // phpMyAdmin's own sign-in (root, no password on the test MariaDB) through the gateway.
    let r = await c.fetch('/index.php');
    t.equal(r.status, 200, 'phpMyAdmin\'s login page');
    const html = await r.text();
    const token = /name="token" value="([^"]+)"/.exec(html)?.[1];
    const setSession = /name="set_session" value="([^"]+)"/.exec(html)?.[1];
    t.ok(token, 'a form token');
    r = await c.postForm('/index.php?route=/', { route: '/', token: token!, ...(setSession ? { set_session: setSession } : {}), pma_username: 'root', pma_password: '', server: '1' });
    t.equal(r.status, 302, 'signed in to phpMyAdmin');
    r = await c.fetch(r.headers.get('location')!.replace(/^https?:\/\/[^/]+/, ''));
    t.equal(r.status, 200, 'its main page');
    const main = await r.text();
    const session = /"token":"([0-9a-f]+)"|name="token" value="([^"]+)"/.exec(main);
    const tok = session?.[1] ?? session?.[2] ?? token!;

    r = await c.fetch(`/index.php?route=/server/databases&server=1&ajax_request=true&ajax_page_request=true&token=${tok}`, { headers: { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json', 'sec-fetch-mode': 'cors' } });
    t.equal(r.status, 200, 'browsing databases (phpMyAdmin\'s AJAX page load): a stale factor will do');
    t.match(await r.text(), /information_schema/);

    stepUp(t, await c.fetch('/index.php?route=/server/export&server=1'), 'GET the export page');
    stepUp(t, await c.fetch('/index.php?route=/server/privileges&server=1'), 'GET the user accounts');
    const before = f.logs.length;
    r = await c.postForm('/index.php', { route: '/export', token: tok, server: '1', export_type: 'server', what: 'sql', output_format: 'sendit', db_select: 'mysql' });
    stepUp(t, r, 'POST with route=/export only in the body');
    t.notOk(f.logs.slice(before).some((l) => l.decision === 'allow'), 'logged as a challenge, not forwarded');

    r = await passTotp(c, device, '/index.php?route=/server/export&server=1');
    t.equal(r.status, 303, 'a fresh TOTP code');
    r = await c.fetch('/index.php?route=/server/export&server=1');
    t.equal(r.status, 200, 'then the export page');
    t.match(await r.text(), /Export/);
  });
}

if (!legacyAppsMissing('dokuwiki') || process.env.CI === 'true') {
  t.test('DokuWiki under /wiki (strip_prefix): its sign-in redirect and cookie come back under the prefix', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass' } } });
    t.teardown(() => wiki.close());
    const f = await startTestGateway({
      upstream: false,
      config: {
        routes: [{ path: '/wiki', upstream: wiki.origin, strip_prefix: true, params_style: 'php' }],
        policy: { default: 'login', rules: [{ id: 'wiki-admin', match: { path: '/wiki/doku.php', params: { do: '*a*d*m*i*n*' }, ignore_case: true }, require: 'deny' }] },
      },
    });
    t.teardown(() => f.close());
    const c = new Client(f.url);
    await c.signIn('alice', 'alice-test-pass', '/wiki/');

    let r = await c.fetch('/wiki/doku.php?id=wiki:syntax');
    t.equal(r.status, 200, 'a page under the prefix');
    t.match(await r.text(), /Formatting Syntax/);
    r = await c.fetch('/wiki/doku.php?do=admin');
    t.equal(r.status, 403, 'rules are written on the public path');

    r = await c.fetch('/wiki/doku.php?id=start&do=login');
    t.equal(r.status, 200);
    const sectok = /name="sectok" value="([^"]*)"/.exec(await r.text())?.[1];
    t.ok(sectok !== undefined, 'DokuWiki\'s own login form');
    r = await c.postForm('/wiki/doku.php?id=start', { sectok: sectok!, id: 'start', do: 'login', u: 'alice', p: 'alice-wiki-pass' });
    t.equal(r.status, 302, 'DokuWiki signs alice in');
    const location = r.headers.get('location') ?? '';
    t.match(location, new RegExp(`^${f.url.replace('localhost', '(?:localhost|127\\.0\\.0\\.1)')}/wiki/doku\\.php`), `its redirect (to its internal origin) comes back under the public prefix: ${location}`);
    const cookies = r.headers.getSetCookie().filter((s) => /^DW/.test(s));
    t.ok(cookies.length > 0, 'DokuWiki\'s auth cookie');
    for (const sc of cookies) t.match(sc, /;\s*path=\/wiki\//i, `scoped to the prefix: ${sc}`);
    r = await c.fetch(location.replace(/^https?:\/\/[^/]+/, ''));
    t.equal(r.status, 200);
    t.match(await r.text(), /Log Out|Logged in as/i, 'signed in to DokuWiki through the prefix');
  });
}
