// A sealed cookie stays cryptographically valid until it expires, so logout
// must work by revocation: the gateway refuses a revoked session on its next
// request even when a copy of the cookie is replayed. "Sign out everywhere"
// kills the user's other sessions too, and a user disabled in the users file
// is refused on the next request (and re-enabling does not revive old sessions;
// neither does a password change leave them alive).

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { startTestGateway, Client, readAudit, type GatewayFixture } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';

const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

/** The status an API client gets for /echo with exactly this cookie header (200 signed in, 401 anonymous). */
async function statusWith(f: GatewayFixture, cookie: string): Promise<number> {
  const r = await new Client(f.url).fetch('/echo', { headers: { ...API, cookie } });
  await r.arrayBuffer();
  return r.status;
}

async function signedIn(f: GatewayFixture, user: string, password: string): Promise<{ c: Client; cookie: string }> {
  const c = new Client(f.url);
  const r = await c.signIn(user, password);
  if (r.status !== 303) throw new Error(`sign-in of ${user} failed: ${r.status}`);
  const name = f.gw.services.sessions.cookieName;
  return { c, cookie: `${name}=${c.cookies.get(name)}` };
}

async function logout(c: Client, fields: Record<string, string> = {}): Promise<Response> {
  const csrf = await c.csrf('/.gatehouse/logout');
  return c.postForm('/.gatehouse/logout', { csrf, ...fields });
}

t.test('a logged-out session is refused when its copied cookie is replayed', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const { c, cookie } = await signedIn(f, 'alice', 'alice-test-pass');
  const { cookie: other } = await signedIn(f, 'alice', 'alice-test-pass');
  t.equal(await statusWith(f, cookie), 200, 'the session works before logout');

  const out = await logout(c);
  t.equal(out.status, 200, 'logout answers the signed-out page');
  t.match(out.headers.get('set-cookie'), /Max-Age=0/, 'and clears the cookie in the browser');
  t.equal(await statusWith(f, cookie), 401, 'the copied cookie is refused afterwards');
  const nav = await new Client(f.url).fetch('/echo', { headers: { cookie } });
  t.equal(nav.status, 302, 'a navigation with it is sent to sign in');
  t.match(nav.headers.get('location'), /^\/\.gatehouse\/login/);
  t.equal(await statusWith(f, other), 200, "a plain logout leaves the user's other session alone");

  // A gateway instance that never saw the cached session (cold path) refuses it too.
  const replay = await new Client(f.url).fetch('/.gatehouse/logout', { headers: { cookie } });
  t.match(await replay.text(), /signed out|Signed out/i, 'the logout page sees no session for it either');

  t.ok(await eventually(() => readAudit(f).some((e) => e.event === 'signout' && e.user === 'alice')), 'signout is audited');
});

t.test('sign out everywhere kills every session of the user, and only that user', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const first = await signedIn(f, 'alice', 'alice-test-pass');
  const second = await signedIn(f, 'alice', 'alice-test-pass');
  const bob = await signedIn(f, 'bob', 'bob-test-pass');
  for (const s of [first, second, bob]) t.equal(await statusWith(f, s.cookie), 200, 'signed in');

  const out = await logout(first.c, { everywhere: '1' });
  t.equal(out.status, 200);
  t.equal(await statusWith(f, first.cookie), 401, 'the session that asked is gone');
  t.equal(await statusWith(f, second.cookie), 401, 'the second session of alice is gone too');
  t.equal(await statusWith(f, bob.cookie), 200, "bob's session is untouched");

  // Signing in again afterwards works: the revocation covers sessions created before it only.
  await sleep(5);
  const again = await signedIn(f, 'alice', 'alice-test-pass');
  t.equal(await statusWith(f, again.cookie), 200, 'a new sign-in after "everywhere" works');
  t.ok(await eventually(() => readAudit(f).some((e) => e.event === 'session.revoked' && e.user === 'alice')), 'the revocation is audited');
});

t.test('a user disabled in the users file is refused on the next request', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const alice = await signedIn(f, 'alice', 'alice-test-pass');
  const bob = await signedIn(f, 'bob', 'bob-test-pass');
  t.equal(await statusWith(f, alice.cookie), 200);

  const doc = parse(readFileSync(f.usersPath, 'utf8')) as { users: Record<string, { disabled: boolean }> };
  doc.users.alice.disabled = true;
  writeFileSync(f.usersPath, stringify(doc));
  const started = Date.now();
  let status = 200;
  await eventually(async () => (status = await statusWith(f, alice.cookie)) === 401, 10_000, 50);
  t.equal(status, 401, `alice's session is refused once the file says disabled (${Date.now() - started} ms)`);
  t.equal(await statusWith(f, bob.cookie), 200, 'other users are unaffected');
  const again = await new Client(f.url).signIn('alice', 'alice-test-pass');
  t.equal(again.status, 401, 'and alice cannot sign in again');

  doc.users.alice.disabled = false;
  writeFileSync(f.usersPath, stringify(doc));
  let back = 0;
  await eventually(async () => (back = (await new Client(f.url).signIn('alice', 'alice-test-pass')).status) === 303, 10_000, 50);
  t.equal(back, 303, 'once re-enabled she can sign in');
  t.equal(await statusWith(f, alice.cookie), 401, 'but her session from before the disabling stays dead');
});

t.test('a password change in the users file ends the sessions signed in with the old password', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const alice = await signedIn(f, 'alice', 'alice-test-pass');
  const bob = await signedIn(f, 'bob', 'bob-test-pass');
  const doc = parse(readFileSync(f.usersPath, 'utf8')) as { users: Record<string, { password: string }> };
  doc.users.alice.password = doc.users.bob.password; // any other valid hash
  writeFileSync(f.usersPath, stringify(doc));
  const started = Date.now();
  let status = 200;
  await eventually(async () => (status = await statusWith(f, alice.cookie)) === 401, 10_000, 50);
  t.equal(status, 401, `the old session ends once the new password is loaded (${Date.now() - started} ms)`);
  t.equal(await statusWith(f, bob.cookie), 200, 'other users are unaffected');
  t.equal((await new Client(f.url).signIn('alice', 'bob-test-pass')).status, 303, 'the new password signs in');
});
