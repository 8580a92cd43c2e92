// The real phpMyAdmin from Debian (php-fpm + nginx from temp dirs, MariaDB at
// 127.0.0.1:3306 as root without a password) behind the gateway in
// upstream_form mode: sign in on phpMyAdmin's own form → the gateway's second
// factor → phpMyAdmin. SQL sent before the second factor never reaches it; its
// cookies, rotated on every answer, keep working; its logout ends the gateway
// session. Skips loudly when a part is missing, except under CI=true.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startTestGateway, Client } from '../helpers/gateway.ts';
import { exampleConfig, legacyAppsMissing, startPhpMyAdmin } from '../helpers/legacy-apps.ts';
import { enrollTotp } from '../helpers/totp.ts';

function mariadbMissing(): string | null {
  try {
    execFileSync('mariadb', ['-h127.0.0.1', '-P3306', '-uroot', '-e', 'SELECT 1'], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `MariaDB at 127.0.0.1:3306 (root, no password) unreachable: ${(err as Error).message.split('\n')[0]}`;
  }
}

const missing = legacyAppsMissing('phpmyadmin') ?? mariadbMissing();
if (missing && process.env.CI !== 'true') {
  t.comment(`SKIPPED (loudly): phpMyAdmin tests need: ${missing}`);
  t.test(`phpMyAdmin behind the gateway (${missing})`, { skip: missing }, async () => {});
} else {
  run();
}


function databaseExists(name: string): boolean {
  return execFileSync('mariadb', ['-h127.0.0.1', '-P3306', '-uroot', '-N', '-e', `SHOW DATABASES LIKE '${name}'`]).toString().trim() === name;
}

function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${name} in the page`);
  return m[1];
}

async function pmaLogin(c: Client, user: string, password: string): Promise<Response> {
  const html = await (await c.fetch('/index.php')).text();
  return c.postForm('/index.php?route=/', { route: '/', lang: 'en', token: hidden(html, 'token'), set_session: hidden(html, 'set_session'), pma_username: user, pma_password: password, server: '1' });
}

function run(): void {
  t.test('phpMyAdmin: its own sign-in form → the gateway\'s second factor → phpMyAdmin', async (t) => {
    const pma = await startPhpMyAdmin();
    t.teardown(() => pma.close());
    const f = await startTestGateway({ upstream: false, config: exampleConfig('upstream-form-phpmyadmin.yaml', pma.origin) });
    t.teardown(() => f.close());
    const early = `gh_early_${randomBytes(4).toString('hex')}`;
    const made = `gh_made_${randomBytes(4).toString('hex')}`;
    t.teardown(() => {
      execFileSync('mariadb', ['-h127.0.0.1', '-P3306', '-uroot', '-e', `DROP DATABASE IF EXISTS ${early}; DROP DATABASE IF EXISTS ${made}`]);
    });
    t.comment(`phpMyAdmin on ${pma.origin} (php-fpm and nginx PIDs ${pma.pids.join(', ')})`);

    const c = new Client(f.url);
    let r = await c.fetch('/index.php');
    t.equal(r.status, 200, 'phpMyAdmin\'s login page is open under policy.default mfa');
    t.match(await r.text(), /id="login_form"/);

    r = await pmaLogin(c, 'root', 'wrong-password');
    t.not(r.status, 303, 'a wrong password is phpMyAdmin\'s own answer');
    await r.arrayBuffer();
    t.equal(await f.gw.services.shared.get('fail:pwd:u:root'), '1', 'counted toward root');

    r = await pmaLogin(c, 'root', '');
    t.equal(r.status, 303, 'the gateway answers the sign-in');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2Findex\.php/, 'to enrollment, then back to phpMyAdmin');
    t.notOk(c.cookies.has('pmaAuth-1'), 'phpMyAdmin\'s auth cookie is held');

    // SQL before the second factor: challenged, never run.
    r = await c.postForm('/index.php?route=/import', { route: '/import', sql_query: `CREATE DATABASE ${early}`, ajax_request: 'true', token: 'x', server: '1' }, { referer: `${f.url}/index.php` });
    t.equal(r.status, 302, 'challenged');
    t.notOk(databaseExists(early), 'the statement never reached phpMyAdmin');

    const { r: done } = await enrollTotp(c, '/index.php?route=/', f.clock);
    t.equal(done.status, 303);
    t.ok(c.cookies.has('pmaAuth-1'), 'released with the second factor');

    r = await c.fetch('/index.php?route=/');
    t.equal(r.status, 200);
    let html = await r.text();
    t.notMatch(html, /id="login_form"/, 'phpMyAdmin is signed in');
    const token = /name="token" value="([0-9a-f]+)"/.exec(html)?.[1] ?? /"token":"([0-9a-f]+)"/.exec(html)?.[1];
    t.ok(token, 'a phpMyAdmin token for this session');

    // phpMyAdmin rotates pmaAuth-1 on every answer: each new value is this session's.
    const before = c.cookies.get('pmaAuth-1');
    r = await c.fetch('/index.php?route=/server/databases');
    html = await r.text();
    t.not(c.cookies.get('pmaAuth-1'), before, 'phpMyAdmin set a new auth cookie');
    t.notMatch(html, /id="login_form"/, 'and still knows the session after the rotation');

    r = await c.postForm('/index.php?route=/import', { route: '/import', sql_query: `CREATE DATABASE ${made}`, ajax_request: 'true', token: token!, server: '1', db: '' }, { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' });
    await r.arrayBuffer();
    t.ok(databaseExists(made), 'SQL after the second factor runs');

    // Another gateway user replaying these phpMyAdmin cookies gets the login form.
    const other = new Client(f.url);
    r = await pmaLogin(other, 'root', '');
    t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge/, 'root is asked for the second factor on the next sign-in');
    const stolen = ['phpMyAdmin', 'pmaAuth-1', 'pmaUser-1'].map((k) => `${k}=${c.cookies.get(k)}`).join('; ');
    r = await other.fetch('/index.php?route=/server/databases', { headers: { cookie: `${other.cookieHeader()}; ${stolen}` } });
    t.match(await r.text(), /id="login_form"/, 'stolen phpMyAdmin cookies are stripped: the login form again');

    // phpMyAdmin's logout (a POST to ?route=/logout) ends the gateway session too.
    r = await c.postForm('/index.php?route=/logout', { token: token! });
    t.notOk(c.cookies.has('gatehouse'), 'the gateway session ended with phpMyAdmin\'s');
    r = await c.fetch('/index.php?route=/server/databases');
    t.match(await r.text(), /id="login_form"/, 'phpMyAdmin asks for a sign-in again');
  });
}
