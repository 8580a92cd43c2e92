// The security page's list of signed-in browsers over HTTP against a real
// gateway (README "Signed-in browsers"): a sign-in registers the browser, a
// sign-out takes it off, "Sign out" on another browser ends that one only (and
// not this one, nor anyone else's), sign-out on every device empties the list.
// The browser view of it: test/browser/sessions.browser.test.ts.

import t from 'tap';
import { Client, readAudit, startTestGateway } from '../helpers/gateway.ts';

const f = await startTestGateway({ upstream: false, config: { policy: { default: 'login' } } });
t.teardown(() => f.close());

const UA = { firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0', safari: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1' };

/** A client that sends its User-Agent on every request, signed in as `user`. */
async function browserAs(user: string, password: string, ua: string): Promise<Client> {
  const c = new Client(f.url);
  const plain = c.fetch.bind(c);
  c.fetch = (path, init = {}) => plain(path, { ...init, headers: { 'user-agent': ua, ...(init.headers ?? {}) } });
  const r = await c.signIn(user, password, '/');
  if (r.status !== 303) throw new Error(`sign-in of ${user} answered ${r.status}`);
  return c;
}

/** Whether the client is still signed in (its security page opens rather than sending it to sign in). */
async function signedIn(c: Client): Promise<boolean> {
  return (await c.fetch('/.gatehouse/account')).status === 200;
}

async function listed(c: Client, query = ''): Promise<{ html: string; csrf: string; labels: string[]; ids: string[] }> {
  const html = await (await c.fetch(`/.gatehouse/account${query}`)).text();
  const section = /<section class="section" aria-labelledby="sessions-h">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
  return {
    html,
    csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '',
    labels: [...section.matchAll(/<span class="item__title">([^<]+)/g)].map((m) => m[1].trim()),
    ids: [...section.matchAll(/name="action" value="revoke-session">\s*<input type="hidden" name="id" value="([^"]+)"/g)].map((m) => m[1]),
  };
}

t.test('sign-in registers, sign-out removes, another browser is signed out at once, the others stay', async (t) => {
  const laptop = await browserAs('bob', 'bob-test-pass', UA.firefox);
  const phone = await browserAs('bob', 'bob-test-pass', UA.safari);
  const alice = await browserAs('alice', 'alice-test-pass', UA.firefox);
  let seen = await listed(laptop);
  t.same(seen.labels, ['Firefox on Linux', 'Safari on iOS'], 'both of bob\'s browsers, this one first; not alice\'s');
  t.equal(seen.ids.length, 1, 'a Sign out button for the other one only');
  t.match(seen.html, /Network 127\.0\.0\.0\/24/);

  t.equal((await laptop.postForm('/.gatehouse/account', { csrf: seen.csrf, action: 'revoke-session', id: 'no-such-id' })).status, 404, 'an unknown id: 404, nothing changes');
  t.equal((await alice.postForm('/.gatehouse/account', { csrf: (await listed(alice)).csrf, action: 'revoke-session', id: seen.ids[0] })).status, 404, "another user's session cannot be signed out");
  t.ok(await signedIn(phone), 'bob\'s phone is still signed in');

  const r = await laptop.postForm('/.gatehouse/account', { csrf: seen.csrf, action: 'revoke-session', id: seen.ids[0] });
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/.gatehouse/account?done=session');
  t.notOk(await signedIn(phone), 'the phone is signed out at once');
  t.match(readAudit(f).at(-1), { event: 'session.revoked', user: 'bob', reason: 'signed out from the security page' });
  seen = await listed(laptop, '?done=session');
  t.same(seen.labels, ['Firefox on Linux'], 'only this browser is left');
  t.match(seen.html, /That browser was signed out/);
  t.ok(await signedIn(laptop), 'this browser stays signed in');
  t.ok(await signedIn(alice), 'and so does alice');

  // A sign-out takes the browser off the list.
  const tablet = await browserAs('bob', 'bob-test-pass', UA.safari);
  t.equal((await listed(laptop)).labels.length, 2);
  await tablet.postForm('/.gatehouse/logout', { csrf: await tablet.csrf('/.gatehouse/logout') });
  t.same((await listed(laptop)).labels, ['Firefox on Linux'], 'signed out: no longer listed');

  // Signing out on every device (the sign-out page's box) ends them all and empties the list.
  const again = await browserAs('bob', 'bob-test-pass', UA.safari);
  await laptop.postForm('/.gatehouse/logout', { csrf: await laptop.csrf('/.gatehouse/logout'), everywhere: '1' });
  t.notOk(await signedIn(again), 'every browser is signed out');
  t.same(await f.gw.services.store.listSessions('bob', f.clock.now()), [], 'the list is empty');
  t.equal((await f.gw.services.store.listSessions('alice', f.clock.now())).length, 1, "alice's entry stays");
});

t.test('signing in again in a signed-in browser: the session it had leaves the list with it', async (t) => {
  const c = await browserAs('alice', 'alice-test-pass', UA.safari);
  const before = await listed(c);
  const r = await c.postForm('/.gatehouse/login', { csrf: before.csrf, username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(r.status, 303, 'signed in again');
  t.equal((await listed(c)).labels.length, before.labels.length, 'the same number of browsers: the new session took the old one\'s place');
  t.equal((await f.gw.services.store.listSessions('alice', f.clock.now())).length, before.labels.length);
});
