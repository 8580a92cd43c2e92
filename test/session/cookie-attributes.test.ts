// Cookie attributes (README "Security model"): HttpOnly, SameSite=Lax, Path=/
// always; Secure exactly when public_url is https, where the default name is
// __Host-gatehouse (which browsers accept only with Secure, Path=/ and no
// Domain). Checked on every cookie the gateway writes: anonymous, signed in,
// and the logout clear.

import t, { type Test } from 'tap';
import { startTestGateway, Client, bindPort, type GatewayFixture } from '../helpers/gateway.ts';

interface ParsedCookie { name: string; value: string; attrs: Map<string, string | true> }

function parseSetCookie(header: string): ParsedCookie {
  const [pair, ...rest] = header.split(';');
  const eq = pair.indexOf('=');
  const attrs = new Map<string, string | true>();
  for (const a of rest) {
    const i = a.indexOf('=');
    if (i === -1) attrs.set(a.trim().toLowerCase(), true);
    else attrs.set(a.slice(0, i).trim().toLowerCase(), a.slice(i + 1).trim());
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}

function sessionCookie(t: Test, r: Response, name: string, label: string): ParsedCookie | undefined {
  const all = r.headers.getSetCookie().map(parseSetCookie).filter((c) => c.name === name);
  t.equal(all.length, 1, `${label}: exactly one ${name} cookie is set`);
  return all[0];
}

function checkAttributes(t: Test, c: ParsedCookie | undefined, secure: boolean, label: string): void {
  if (!c) return;
  t.equal(c.attrs.get('httponly'), true, `${label}: HttpOnly`);
  t.equal(String(c.attrs.get('samesite')).toLowerCase(), 'lax', `${label}: SameSite=Lax`);
  t.equal(c.attrs.get('path'), '/', `${label}: Path=/`);
  t.notOk(c.attrs.has('domain'), `${label}: no Domain (host-only)`);
  t.equal(c.attrs.has('secure'), secure, `${label}: ${secure ? 'Secure' : 'no Secure on http'}`);
}

async function walk(t: Test, f: GatewayFixture, origin: string, secure: boolean): Promise<void> {
  const name = f.gw.services.sessions.cookieName;
  const c = new Client(f.url);
  const page = await c.fetch('/.gatehouse/login');
  t.equal(page.status, 200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
  checkAttributes(t, sessionCookie(t, page, name, 'anonymous'), secure, 'anonymous');

  const signIn = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' }, { origin });
  t.equal(signIn.status, 303, 'signed in');
  const signed = sessionCookie(t, signIn, name, 'signed in');
  checkAttributes(t, signed, secure, 'signed in');
  t.ok(Number(signed?.attrs.get('max-age')) > 0, 'signed in: Max-Age set (bounded by session.max_age)');

  const logoutCsrf = await c.csrf('/.gatehouse/logout');
  const out = await c.postForm('/.gatehouse/logout', { csrf: logoutCsrf }, { origin });
  t.equal(out.status, 200, 'signed out');
  const cleared = sessionCookie(t, out, name, 'cleared');
  checkAttributes(t, cleared, secure, 'cleared');
  t.equal(cleared?.value, '', 'cleared: empty value');
  t.equal(cleared?.attrs.get('max-age'), '0', 'cleared: Max-Age=0');
}

t.test('on http: HttpOnly, SameSite=Lax, Path=/, no Secure, plain name', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  t.equal(f.gw.services.sessions.cookieName, 'gatehouse', 'default cookie name on http');
  await walk(t, f, f.url, false);
});

t.test('with an https public_url: Secure and the __Host- name', async (t) => {
  const socket = await bindPort();
  const publicOrigin = `https://localhost:${socket.port}`;
  // The listener still speaks plain HTTP (TLS would end at a proxy in front); only public_url says https.
  const f = await startTestGateway({ socket, config: { server: { public_url: publicOrigin } } });
  t.teardown(() => f.close());
  t.equal(f.gw.services.sessions.cookieName, '__Host-gatehouse', 'default cookie name on https');
  await walk(t, f, publicOrigin, true);
});
