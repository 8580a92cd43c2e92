// A session sealed before the session registry existed (its cookie has no
// registry id) joins the security page's list of signed-in browsers on its
// next proxied request or visit to the security page, once, and can then be
// signed out from another browser like any other. A real gateway and upstream.

import t from 'tap';
import { randomBytes } from 'node:crypto';
import { sealData, unsealData } from 'iron-session';
import { Client, startTestGateway } from '../helpers/gateway.ts';
import type { SessionData } from '../../src/session/session-data.ts';

const f = await startTestGateway({ config: { policy: { default: 'login' } } });
t.teardown(() => f.close());

const SECRET = 'test-session-secret-0123456789-abcdefghijklmnop'; // test/helpers/gateway.ts
const { sessions, store } = f.gw.services;
const UA = { firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0', safari: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1' };

function withAgent(c: Client, ua: string): Client {
  const plain = c.fetch.bind(c);
  c.fetch = (path, init = {}) => plain(path, { ...init, headers: { 'user-agent': ua, ...(init.headers ?? {}) } });
  return c;
}

/**
 * A browser holding a cookie as the gateway sealed it before the registry: a
 * real sign-in's session without its rid (and under a session id of its own),
 * the sign-in itself signed out again so only the old-style session is left.
 */
async function legacyBrowser(user: string, password: string, ua: string): Promise<{ c: Client; cookie: string; data: SessionData }> {
  const signIn = withAgent(new Client(f.url), ua);
  if ((await signIn.signIn(user, password, '/')).status !== 303) throw new Error(`sign-in of ${user} failed`);
  const ttl = Math.ceil(sessions.maxAge / 1000) + 60;
  const { rid, ...rest } = await unsealData<SessionData>(signIn.cookies.get(sessions.cookieName)!, { password: SECRET, ttl });
  await signIn.postForm('/.gatehouse/logout', { csrf: await signIn.csrf('/.gatehouse/logout') });
  t.ok(rid, 'a sign-in today carries a registry id');
  const data = { ...rest, sid: randomBytes(18).toString('base64url') };
  const cookie = await sealData(data, { password: SECRET, ttl });
  const c = withAgent(new Client(f.url), ua);
  c.cookies.set(sessions.cookieName, cookie);
  return { c, cookie, data };
}

const listed = async (user: string) => store.listSessions(user, f.clock.now());
const addFailed = () => f.logs.filter((l) => String(l.msg).startsWith('session list:'));

t.test('a proxied request registers it once; it can then be signed out from another browser', async (t) => {
  const old = await legacyBrowser('bob', 'bob-test-pass', UA.firefox);
  t.same(await listed('bob'), [], 'not listed before its next request');

  const r = await old.c.fetch('/');
  t.equal(r.status, 200, 'the request is served');
  const fresh = old.c.cookies.get(sessions.cookieName);
  t.not(fresh, old.cookie, 'a new cookie is set, carrying the registry id');
  t.match(await listed('bob'), [{ id: old.data.sid, label: 'Firefox on Linux', network: '127.0.0.0/24', created_at: old.data.created }], 'listed, with its sign-in time');

  // A browser that ignores Set-Cookie (or requests already in flight) keeps sending the old cookie: no second entry, no error.
  const stale = withAgent(new Client(f.url), UA.firefox);
  stale.cookies.set(sessions.cookieName, old.cookie);
  for (let i = 0; i < 3; i++) t.equal((await stale.fetch('/')).status, 200);
  t.equal((await listed('bob')).length, 1, 'still one entry');
  t.same(addFailed(), [], 'no failed registration was logged');

  // Listed means revocable: bob's phone signs the old browser out, whichever cookie it holds.
  const phone = withAgent(new Client(f.url), UA.safari);
  await phone.signIn('bob', 'bob-test-pass', '/');
  const page = await (await phone.fetch('/.gatehouse/account')).text();
  t.match(page, /Firefox on Linux/, 'the phone\'s security page lists the old browser');
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  t.equal((await phone.postForm('/.gatehouse/account', { csrf, action: 'revoke-session', id: old.data.sid })).status, 303);
  t.equal((await old.c.fetch('/.gatehouse/account')).status, 302, 'the registered cookie is signed out');
  t.equal((await stale.fetch('/.gatehouse/account')).status, 302, 'and so is the old one');
});

t.test('opening the security page registers it and lists it as this browser', async (t) => {
  const old = await legacyBrowser('alice', 'alice-test-pass', UA.safari);
  const r = await old.c.fetch('/.gatehouse/account');
  t.equal(r.status, 200);
  t.match(r.headers.get('set-cookie'), new RegExp(`^${sessions.cookieName}=`), 'a new cookie, carrying the registry id');
  const html = await r.text();
  t.match(html, /Safari on iOS/, 'this browser is on the list');
  t.match(await listed('alice'), [{ id: old.data.sid }]);
  t.same(addFailed(), []);
});

t.test('another instance added it first (the same old cookie reached it): this one sets the new cookie, adds nothing, logs nothing', async (t) => {
  const old = await legacyBrowser('bob', 'bob-test-pass', UA.safari);
  const now = f.clock.now();
  await store.addSession({ id: old.data.sid, user: 'bob', label: 'Safari on iOS', network: '127.0.0.0/24', created_at: old.data.created, seen_at: now, expires_at: old.data.created + sessions.maxAge }, 20);
  const r = await old.c.fetch('/');
  t.equal(r.status, 200);
  t.match(r.headers.get('set-cookie'), new RegExp(`^${sessions.cookieName}=`), 'the cookie carrying the id is set');
  t.match(await listed('bob'), [{ id: old.data.sid }]);
  t.equal((await listed('bob')).filter((e) => e.id === old.data.sid).length, 1);
  t.same(addFailed(), [], 'a taken id is not a failure');
});
