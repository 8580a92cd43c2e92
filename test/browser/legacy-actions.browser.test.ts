// Debian's DokuWiki and phpMyAdmin behind the gateway in full-proxy mode
// (the routes and policy of config/examples/dokuwiki.yaml and phpmyadmin.yaml
// as written) in Chromium: reading pages works on a second factor passed ten
// minutes ago; the admin and export actions ask for a fresh one, then reach the
// app. Skips loudly when Chromium or the packages are missing, except under CI=true.

import t from 'tap';
import { newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { exampleConfig, legacyAppsMissing, startDokuWiki, startPhpMyAdmin } from '../helpers/legacy-apps.ts';
import { enrollTotpOverHttp, enterCode, signIn, startBrowserGateway } from './harness.ts';

const CODE_LABEL = 'Enter the 6-digit code from your authenticator app';

function example(name: string, origin: string): Record<string, unknown> {
  const { identity: _ignored, ...rest } = exampleConfig(name, origin);
  return rest;
}

const missing = legacyAppsMissing('dokuwiki') ?? legacyAppsMissing('phpmyadmin');
if (missing && process.env.CI !== 'true') {
  t.comment(`SKIPPED (loudly): legacy app browser tests need the Debian packages: ${missing}`);
  t.test(`legacy apps in Chromium (${missing})`, { skip: missing }, async () => {});
} else if (requireChromium(t)) {
  t.test('DokuWiki: pages on a stale factor, ?do=admin and ?do=export_raw after a fresh one', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass', groups: ['admin', 'user'] } } });
    t.teardown(() => wiki.close());
    const { f, browser } = await startBrowserGateway(t, { config: example('dokuwiki.yaml', wiki.origin) });
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
    const { f, browser } = await startBrowserGateway(t, { config: example('phpmyadmin.yaml', pma.origin) });
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
}
