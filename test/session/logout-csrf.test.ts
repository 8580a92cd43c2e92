// Logout is a state change: without the session's CSRF token (or with a wrong
// one, or from a foreign Origin, or marked cross-site by Fetch Metadata) it
// changes nothing, and the session keeps working. A link (GET) never signs
// anyone out.

import t from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';

const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function works(f: GatewayFixture, c: Client): Promise<boolean> {
  const r = await c.fetch('/echo', { headers: API });
  await r.arrayBuffer();
  return r.status === 200;
}

t.test('logout without a valid CSRF token does nothing', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  t.equal((await c.signIn('alice', 'alice-test-pass')).status, 303);
  const token = await c.csrf('/.gatehouse/logout');
  const other = new Client(f.url);
  await other.signIn('bob', 'bob-test-pass');
  const bobsToken = await other.csrf('/.gatehouse/logout');

  const attempts: { label: string; fields: Record<string, string>; headers?: Record<string, string> }[] = [
    { label: 'no token', fields: {} },
    { label: 'empty token', fields: { csrf: '' } },
    { label: 'wrong token', fields: { csrf: 'A'.repeat(token.length) } },
    { label: 'token one character off', fields: { csrf: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A') } },
    { label: 'truncated token', fields: { csrf: token.slice(0, -2) } },
    { label: "another user's token", fields: { csrf: bobsToken } },
    { label: 'right token, foreign Origin', fields: { csrf: token }, headers: { origin: 'https://evil.example' } },
    // Origin null is what browsers send under Referrer-Policy: no-referrer; then Fetch Metadata must not say cross-site.
    { label: 'right token, Origin null, Sec-Fetch-Site cross-site', fields: { csrf: token }, headers: { origin: 'null', 'sec-fetch-site': 'cross-site' } },
    { label: 'right token, Origin null, Sec-Fetch-Site same-site', fields: { csrf: token }, headers: { origin: 'null', 'sec-fetch-site': 'same-site' } },
    { label: 'wrong token, Origin null, Sec-Fetch-Site same-origin', fields: { csrf: 'A'.repeat(token.length) }, headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } },
    { label: 'right token, our Origin but Sec-Fetch-Site cross-site', fields: { csrf: token }, headers: { 'sec-fetch-site': 'cross-site' } },
    { label: 'right token, same host other port', fields: { csrf: token }, headers: { origin: `http://localhost:${f.port + 1}` } },
    { label: 'everywhere without a token', fields: { everywhere: '1' } },
  ];
  for (const a of attempts) {
    const r = await c.postForm('/.gatehouse/logout', a.fields, a.headers);
    t.equal(r.status, 403, `${a.label}: refused with 403`);
    t.notOk(r.headers.get('set-cookie'), `${a.label}: the cookie is not cleared`);
    t.ok(await works(f, c), `${a.label}: the session still works`);
  }
  t.ok(await works(f, other), "bob's session is untouched too");

  // A GET (a link, an <img>) only shows the confirmation.
  const get = await c.fetch('/.gatehouse/logout');
  t.equal(get.status, 200);
  t.match(await get.text(), /name="csrf"/, 'GET shows a form that needs the token');
  t.ok(await works(f, c), 'GET did not sign out');

  // The control: the right token from our own page does sign out (as a browser under no-referrer sends it).
  const ok = await c.postForm('/.gatehouse/logout', { csrf: token }, { origin: 'null', 'sec-fetch-site': 'same-origin' });
  t.equal(ok.status, 200, 'with the right token logout works');
  t.notOk(await works(f, c), 'and the session is gone');
});
