// The real DokuWiki from Debian (php-fpm + nginx from temp dirs, see
// test/helpers/legacy-apps.ts) behind the gateway in upstream_form mode:
// sign in on DokuWiki's own form → the gateway's second factor → the wiki.
// Edits by a user who has not passed the second factor never reach DokuWiki,
// and edits never count as failed sign-ins. Skips loudly when DokuWiki,
// php-fpm or nginx is missing, except under CI=true.

import t from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';
import { exampleConfig, legacyAppsMissing, startDokuWiki, wikiPage } from '../helpers/legacy-apps.ts';
import { enrollTotp, passTotp } from '../helpers/totp.ts';

const missing = legacyAppsMissing('dokuwiki');
if (missing && process.env.CI !== 'true') {
  t.comment(`SKIPPED (loudly): DokuWiki tests need the Debian packages: ${missing}`);
  t.test(`DokuWiki behind the gateway (${missing})`, { skip: missing }, async () => {});
} else {
  run();
}


function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name.replace(/[[\]]/g, '\\$&')}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${name} in the page`);
  return m[1];
}

/** Signs in on DokuWiki's own login form (fetched through the gateway). */
async function wikiLogin(c: Client, user: string, password: string): Promise<Response> {
  const page = await c.fetch('/doku.php?id=start&do=login');
  if (page.status !== 200) throw new Error(`login page answered ${page.status}`);
  const html = await page.text();
  return c.postForm('/doku.php?id=start', { sectok: hidden(html, 'sectok'), id: 'start', do: 'login', u: user, p: password });
}

/** Saves a wiki page through DokuWiki's own edit form. */
async function editPage(c: Client, f: GatewayFixture, id: string, text: string): Promise<Response> {
  const form = await c.fetch(`/doku.php?id=${id}&do=edit`);
  const html = await form.text();
  if (form.status !== 200 || !html.includes('wiki__text')) throw new Error(`no edit form (${form.status})`);
  return c.postForm(`/doku.php?id=${id}`, {
    sectok: hidden(html, 'sectok'), id, rev: '0', date: hidden(html, 'date'), prefix: '.', suffix: '', changecheck: hidden(html, 'changecheck'),
    target: 'section', wikitext: text, summary: 'gatehouse test', 'do[save]': '1',
  }, { referer: `${f.url}/doku.php?id=${id}&do=edit` });
}

function run(): void {
  t.test('DokuWiki: its own sign-in form → the gateway\'s second factor → the wiki', async (t) => {
    const wiki = await startDokuWiki({ users: { alice: { password: 'alice-wiki-pass', name: 'Alice' }, bob: { password: 'bob-wiki-pass', name: 'Bob' } } });
    t.teardown(() => wiki.close());
    const f = await startTestGateway({ upstream: false, config: exampleConfig('upstream-form-dokuwiki.yaml', wiki.origin) });
    t.teardown(() => f.close());
    t.comment(`DokuWiki on ${wiki.origin} (php-fpm and nginx PIDs ${wiki.pids.join(', ')})`);

    // policy.default mfa, no rule for the login page: no redirect loop.
    const anon = new Client(f.url);
    let r = await anon.fetch('/doku.php?id=start');
    t.equal(r.status, 302, 'an anonymous page view is sent to sign in');
    t.equal(r.headers.get('location'), '/doku.php?do=login', 'on DokuWiki\'s own login page');
    r = await anon.fetch('/doku.php?do=login');
    t.equal(r.status, 200, 'which is open');
    t.match(await r.text(), /id="dw__login"/, 'DokuWiki\'s own login form');

    // Anonymous edits: challenged, never reach DokuWiki, never count as failed sign-ins.
    for (let i = 0; i < 25; i++) {
      r = await anon.postForm('/doku.php?id=playground:anon', { id: 'playground:anon', wikitext: `spam ${i}`, 'do[save]': '1', sectok: '' });
      if (r.status !== 302) t.fail(`anonymous edit ${i} answered ${r.status}`);
    }
    t.pass('25 anonymous edits challenged');
    t.equal(wikiPage(wiki.data, 'playground:anon'), null, 'no page was written');
    t.equal(await f.gw.services.shared.get('fail:pwd:ip:127.0.0.1'), null, 'and none counted as a failed sign-in');

    // A wrong password: DokuWiki's own answer, counted for alice.
    const c = new Client(f.url);
    r = await wikiLogin(c, 'alice', 'wrong');
    t.equal(r.status, 403, 'DokuWiki\'s own answer (its failed-login page is a 403)');
    t.match(await r.text(), /Login failed|Sorry, username or password was wrong/i);
    t.equal(await f.gw.services.shared.get('fail:pwd:u:alice'), '1', 'counted toward alice');

    // The right password: the gateway holds DokuWiki's auth cookie until the second factor.
    r = await wikiLogin(c, 'alice', 'alice-wiki-pass');
    t.equal(r.status, 303, 'the gateway answers the sign-in');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2Fdoku\.php%3Fid%3Dstart/, 'to enrollment, then back to DokuWiki\'s own target');
    t.notOk([...c.cookies.keys()].some((k) => k.startsWith('DW') && c.cookies.get(k) !== 'deleted'), 'no DokuWiki auth cookie in the browser yet');
    r = await c.fetch('/doku.php?id=start');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/, 'the wiki stays out of reach before the second factor');

    // An edit before the second factor never reaches DokuWiki.
    r = await c.postForm('/doku.php?id=playground:early', { id: 'playground:early', wikitext: 'too early', 'do[save]': '1', sectok: '' }, { referer: `${f.url}/doku.php?id=playground:early` });
    t.equal(r.status, 302, 'challenged');
    t.equal(wikiPage(wiki.data, 'playground:early'), null, 'nothing written');

    const { r: done, device } = await enrollTotp(c, '/doku.php?id=start', f.clock);
    t.equal(done.status, 303, 'TOTP enrolled');
    t.ok(done.headers.getSetCookie().some((sc) => /^DW[0-9a-f]{32}=(?!deleted)/.test(sc)), 'DokuWiki\'s auth cookie is released with it');

    r = await c.fetch('/doku.php?id=start');
    t.equal(r.status, 200);
    const page = await r.text();
    t.match(page, /Logged in as: <bdi>Alice<\/bdi> \(<bdi>alice<\/bdi>\)/, 'DokuWiki shows alice signed in');
    t.match(page, /alice/);

    r = await editPage(c, f, 'playground:gatehouse', 'Written through the gateway.');
    t.equal(r.status, 302, 'DokuWiki accepted the edit');
    t.equal(wikiPage(wiki.data, 'playground:gatehouse'), 'Written through the gateway.', 'the page is saved');
    t.equal(await f.gw.services.shared.get('fail:pwd:ip:127.0.0.1'), '1', 'edits never added to the address\'s failures (one wrong password only)');

    // Alice cannot become bob by sending bob's wiki password outside the sign-in (DokuWiki reads u/p on any request).
    r = await c.fetch('/doku.php?id=start&u=bob&p=bob-wiki-pass');
    t.equal(r.status, 400, 'credentials in the query of doku.php are refused');
    r = await c.postForm('/doku.php?id=start', { do: 'show', u: 'bob', p: 'bob-wiki-pass' });
    t.equal(r.status, 400, 'and in a form that is not the sign-in');
    t.match(await (await c.fetch('/doku.php?id=start')).text(), /\(<bdi>alice<\/bdi>\)/, 'alice is still alice at DokuWiki');

    // Bob signs in on DokuWiki's form; before his second factor his edit does not reach the wiki.
    const b = new Client(f.url);
    r = await wikiLogin(b, 'bob', 'bob-wiki-pass');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/);
    r = await b.postForm('/doku.php?id=playground:gatehouse', { id: 'playground:gatehouse', wikitext: 'bob was here', 'do[save]': '1', sectok: 'x' }, { referer: `${f.url}/doku.php?id=playground:gatehouse` });
    t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll/, 'bob\'s edit is challenged');
    t.equal(wikiPage(wiki.data, 'playground:gatehouse'), 'Written through the gateway.', 'and never reached DokuWiki');

    // Alice's stolen DokuWiki cookies do not make bob alice.
    const stolen = [...c.cookies].filter(([k]) => k.startsWith('DW') || k === 'DokuWiki').map(([k, v]) => `${k}=${v}`).join('; ');
    const bobEnrolled = await enrollTotp(b, '/doku.php?id=start', f.clock);
    t.equal(bobEnrolled.r.status, 303);
    r = await b.fetch('/doku.php?id=start', { headers: { cookie: `${[...b.cookies].filter(([k]) => !k.startsWith('DW') && k !== 'DokuWiki').map(([k, v]) => `${k}=${v}`).join('; ')}; ${stolen}` } });
    t.notMatch(await r.text(), /<bdi>alice<\/bdi>|<bdi>Alice<\/bdi>/, 'DokuWiki does not see alice in bob\'s gateway session');

    // DokuWiki's logout ends the gateway session too.
    const logoutLink = /href="([^"]*do=logout[^"]*)"/.exec(page)?.[1]?.replace(/&amp;/g, '&');
    t.ok(logoutLink, 'DokuWiki offers its logout');
    r = await c.fetch(logoutLink!.replace(f.url, ''));
    t.notOk(c.cookies.has('gatehouse'), 'the gateway session ended with DokuWiki\'s');
    r = await c.fetch('/doku.php?id=start');
    t.equal(r.status, 302, 'signed out at the gateway');

    // Signing in again: the second factor, not enrollment.
    const again = new Client(f.url);
    r = await wikiLogin(again, 'alice', 'alice-wiki-pass');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge/, 'alice is asked for her TOTP');
    r = await passTotp(again, device, '/doku.php?id=start');
    t.equal(r.status, 303);
    t.match(await (await again.fetch('/doku.php?id=start')).text(), /alice/, 'and is in the wiki');
  });
}
