// Session fixation: the anonymous cookie a visitor holds before signing in
// (from the login page, and so possibly planted by an attacker) must not
// become a signed-in session. Sign-in issues a new session id and a new cookie,
// and the old one is revoked.

import t from 'tap';
import { unsealData } from 'iron-session';
import { startTestGateway, Client } from '../helpers/gateway.ts';

const TEST_SECRET = 'test-session-secret-0123456789-abcdefghijklmnop'; // the helper's config
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function sessionIn(value: string): Promise<{ sid?: string; user?: string; csrf?: string }> {
  return unsealData(value, { password: TEST_SECRET, ttl: 86_400 });
}

t.test('sign-in rotates the session; the pre-sign-in cookie stays anonymous', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const name = f.gw.services.sessions.cookieName;
  const victim = new Client(f.url);
  const csrf = await victim.csrf('/.gatehouse/login');
  const before = victim.cookies.get(name)!;
  t.ok(before, 'the login page sets an anonymous cookie');
  const anon = await sessionIn(before);
  t.equal(anon.user, undefined, 'it carries no user');

  // The attacker keeps a copy of the anonymous cookie (e.g. planted it on the victim).
  const attacker = new Client(f.url);
  attacker.cookies.set(name, before);

  const r = await victim.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(r.status, 303, 'the victim signs in');
  const after = victim.cookies.get(name)!;
  t.not(after, before, 'the cookie after sign-in differs from the one before');
  const signed = await sessionIn(after);
  t.equal(signed.user, 'alice');
  t.not(signed.sid, anon.sid, 'with a new session id');
  t.not(signed.csrf, anon.csrf, 'and a new CSRF token');

  const victimEcho = await victim.fetch('/echo', { headers: API });
  t.equal(victimEcho.status, 200, 'the victim is signed in');
  const attackerEcho = await attacker.fetch('/echo', { headers: API });
  t.equal(attackerEcho.status, 401, 'the pre-sign-in cookie is not signed in');

  // The old anonymous session is revoked: the login page does not accept it as a session any more.
  const page = await attacker.fetch('/.gatehouse/login');
  t.equal(page.status, 200);
  t.ok(page.headers.get('set-cookie'), 'the old anonymous cookie is replaced by a new one');
  t.not(attacker.cookies.get(name), before);

  // And the old anonymous CSRF token cannot drive a form with it.
  const stale = new Client(f.url);
  stale.cookies.set(name, before);
  const replay = await stale.postForm('/.gatehouse/login', { csrf, username: 'bob', password: 'bob-test-pass', rd: '/' });
  t.equal(replay.status, 403, 'a form posted with the revoked anonymous session is refused');
});
