// Debian's DokuWiki and phpMyAdmin behind the gateway in full-proxy mode
// (the routes and policy of config/examples/dokuwiki.yaml and phpmyadmin.yaml
// as written) in Chromium: reading pages works on a second factor passed ten
// minutes ago; the admin and export actions ask for a fresh one, then reach the
// app. Skips loudly when Chromium or the packages are missing, except under CI=true.

import t from 'tap';
import { newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { exampleRoutesAndPolicy, legacyAppsMissing, startDokuWiki, startPhpMyAdmin } from '../helpers/legacy-apps.ts';
import { enrollTotpOverHttp, enterCode, signIn, startBrowserGateway } from './harness.ts';

const CODE_LABEL = 'Enter the 6-digit code from your authenticator app';


const missing = legacyAppsMissing('dokuwiki') ?? legacyAppsMissing('phpmyadmin');
if (missing && process.env.CI !== 'true') {
  t.comment(`SKIPPED (loudly): legacy app browser tests need the Debian packages: ${missing}`);
  t.test(`legacy apps in Chromium (${missing})`, { skip: missing }, async () => {});
} else if (requireChromium(t)) {
  t.test('DokuWiki: pages on a stale factor, ?do=admin and ?do=export_raw after a fresh one', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass', groups: ['admin', 'user'] } } });
    t.teardown(() => wiki.close());
    const { f, browser } = await startBrowserGateway(t, { config: exampleRoutesAndPolicy('dokuwiki.yaml', wiki.origin) });
    const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
    const page = await newPage(browser);

    await signIn(page, f.url, 'alice', 'alice-test-pass', '/doku.php?id=wiki:syntax');
    t.equal(new URL(page.url()).pathname, '/.gatehouse/challenge', 'policy.default mfa: the routine second factor');
    await enterCode(page, await device.next(), CODE_LABEL);
    t.equal(page.url(), `${f.url}/doku.php?id=wiki:syntax`, 'then the wiki page');
    t.match(await page.content(), /Formatting Syntax/);

    f.clock.advance(10 * 60_000);
    await page.goto(`${f.url}/doku.php?id=wiki:welcome`);
    t.equal(page.url(), `${f.url}/doku.php?id=wiki:welcome`, 'ten minutes later, reading needs nothing new');
    await page.goto(`${f.url}/doku.php?id=wiki:syntax&do=edit`);
    t.equal(new URL(page.url()).pathname, '/doku.php', 'nor does the editor');

    await page.goto(`${f.url}/doku.php?id=start&do=admin`);
    const challenge = new URL(page.url());
    t.equal(challenge.pathname, '/.gatehouse/challenge', 'the admin action asks for a fresh factor');
    t.equal(challenge.searchParams.get('rule'), 'wiki-admin');
    await screenshot(page, 'e2e-dokuwiki-admin-stepup');
    await enterCode(page, await device.next(), CODE_LABEL);
    t.equal(page.url(), `${f.url}/doku.php?id=start&do=admin`, 'then DokuWiki\'s admin action');
    t.match(await page.content(), /dokuwiki/i, 'DokuWiki\'s own page');

    f.clock.advance(10 * 60_000);
    await page.goto(`${f.url}/doku.php?id=wiki:syntax&do=export_xhtml`);
    t.equal(new URL(page.url()).searchParams.get('rule'), 'wiki-export', 'the XHTML export asks again, ten minutes on');
    await enterCode(page, await device.next(), CODE_LABEL);
    t.equal(page.url(), `${f.url}/doku.php?id=wiki:syntax&do=export_xhtml`, 'then the export');
    t.match(await page.content(), /Formatting Syntax/, 'DokuWiki\'s exported page');
  });

  t.test('phpMyAdmin: browsing on a stale factor; the export page and a POST with route only in the body step up', async (t) => {
    const pma = await startPhpMyAdmin();
    t.teardown(() => pma.close());
    const { f, browser } = await startBrowserGateway(t, { config: exampleRoutesAndPolicy('phpmyadmin.yaml', pma.origin) });
    const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
    const page = await newPage(browser);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/index.php');
    await enterCode(page, await device.next(), CODE_LABEL);
    t.equal(new URL(page.url()).pathname, '/index.php', 'phpMyAdmin\'s login page');
    await page.locator('#input_username').fill('root');
    await Promise.all([page.waitForNavigation(), page.locator('#input_go').click()]);
    await page.locator('#pma_navigation').waitFor();
    t.pass('signed in to phpMyAdmin (its navigation tree loaded over its own AJAX)');

    f.clock.advance(10 * 60_000);
    await page.goto(`${f.url}/index.php?route=/server/databases`);
    await page.getByText('information_schema').first().waitFor();
    t.equal(new URL(page.url()).searchParams.get('route'), '/server/databases', 'browsing: no fresh factor');

    // The export form posts route=/export in its body (the query has none).
    const status = await page.evaluate(async () => {
      const r = await fetch('/index.php', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'route=%2Fexport&server=1&export_type=server&what=sql', redirect: 'manual' });
      return r.type === 'opaqueredirect' ? 'redirect' : String(r.status);
    });
    t.match(status, /^(redirect|401)$/, `a POST with route=/export only in the body is challenged (${status})`);

    await page.goto(`${f.url}/index.php?route=/server/export`);
    t.equal(new URL(page.url()).searchParams.get('rule'), 'db-export', 'the export page asks for a fresh factor');
    await enterCode(page, await device.next(), CODE_LABEL);
    t.equal(new URL(page.url()).searchParams.get('route'), '/server/export', 'then phpMyAdmin\'s export page');
    await page.getByText(/Export/).first().waitFor();
  });

  t.test('DokuWiki under /wiki (strip_prefix, basedir /wiki/): its own sign-in, redirect and cookie in a browser', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass', name: 'Alice Wiki' } }, basedir: '/wiki/' });
    t.teardown(() => wiki.close());
    const { f, browser } = await startBrowserGateway(t, {
      config: { routes: [{ path: '/wiki', upstream: wiki.origin, strip_prefix: true, params_style: 'php' }], policy: { default: 'login', rules: [] } },
    });
    const page = await newPage(browser);
    await signIn(page, f.url, 'alice', 'alice-test-pass', '/wiki/doku.php?id=start&do=login');
    t.equal(page.url(), `${f.url}/wiki/doku.php?id=start&do=login`, 'DokuWiki\'s login page, under the prefix');
    await page.locator('input[name="u"]').fill('alice');
    await page.locator('input[name="p"]').fill('alice-wiki-pass');
    await Promise.all([page.waitForNavigation(), page.locator('#dw__login button[type="submit"], #dw__login input[type="submit"]').first().click()]);
    t.match(page.url(), new RegExp(`^${f.url}/wiki/doku\\.php`), `DokuWiki's redirect after its sign-in stays under /wiki: ${page.url()}`);
    t.match(await page.content(), /Alice Wiki/, 'signed in to DokuWiki');
    const dw = (await page.context().cookies()).filter((c) => c.name.startsWith('DW'));
    t.ok(dw.length > 0, 'DokuWiki\'s cookies');
    for (const c of dw) t.equal(c.path, '/wiki/', `${c.name} scoped to /wiki/`);
    await page.goto(`${f.url}/wiki/doku.php?id=wiki:syntax`);
    t.match(await page.content(), /Alice Wiki/, 'still signed in on the next page');
    await screenshot(page, 'e2e-dokuwiki-under-prefix');
  });
}
