// Open redirect (return targets are only same-origin relative paths).
// Every payload goes through the three places `rd` is used at sign-in: the
// hidden field of the login page, the redirect of an already signed-in user
// (GET /.gatehouse/login?rd=…) and the redirect after a successful sign-in
// (POST). The Location must never leave the origin; a payload becomes `/`.

import t, { type Test } from 'tap';
import { startTestGateway, Client, type GatewayFixture } from '../helpers/gateway.ts';

function payloads(port: number): string[] {
  return [
    '//evil.com',
    '///evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '\\/\\/evil.com',
    'https://evil.com',
    'HTTPS://EVIL.COM/',
    'http:evil.com',
    'http:/evil.com',
    'https:\\\\evil.com',
    'evil.com',
    '/%2F%2Fevil.com',
    '/%2f/evil.com',
    '/%5Cevil.com',
    '%2F%2Fevil.com',
    '/%252F%252Fevil.com',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '/\t/evil.com',
    '/\n/evil.com',
    '/\r\n/evil.com',
    ' //evil.com',
    '/%09/evil.com',
    '/.//evil.com',
    '/..//evil.com',
    '/x/..//evil.com',
    `http://localhost:${port}@evil.com`,
    `//localhost:${port}@evil.com`,
    `/\\localhost:${port}@evil.com`,
    `http://localhost:${port}/reports`, // same origin, but absolute: not a relative path
    '/.gatehouse/logout',
    '/.GATEHOUSE/logout',
    '/x/../.gatehouse/logout',
    '/.gatehouse/%6Cogout',
    '/\u0000/evil.com',
    '/\u00a0/evil.com',
    '/\u2028/evil.com',
  ];
}

/** A TAP-safe label: U+2028 and friends would break the TAP stream. */
function printable(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What a browser would do with the Location: it must stay on the gateway's origin, as a relative path. */
function sameOriginRelative(t: Test, f: GatewayFixture, location: string | null, label: string): void {
  t.ok(location !== null, `${label}: has a Location`);
  if (location === null) return;
  t.ok(location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\'), `${label}: Location ${printable(location)} is a relative path`);
  t.equal(new URL(location, f.url).origin, new URL(f.url).origin, `${label}: resolves to the gateway's origin`);
}

t.test('open redirect payloads never leave the origin', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const list = payloads(f.port);
  t.ok(list.length >= 20, `${list.length} payloads`);

  const signedIn = new Client(f.url);
  t.equal((await signedIn.signIn('alice', 'alice-test-pass')).status, 303, 'alice signs in');

  for (const rd of list) {
    const label = printable(rd);
    const q = `/.gatehouse/login?rd=${encodeURIComponent(rd)}`;

    // 1. Anonymous: the form carries the cleaned target.
    const anon = new Client(f.url);
    const page = await anon.fetch(q);
    t.equal(page.status, 200, `${label}: login page shown`);
    const hidden = /name="rd" value="([^"]*)"/.exec(await page.text())?.[1];
    t.equal(hidden, '/', `${label}: the form's rd is /`);

    // 2. Already signed in: GET redirects straight to the target.
    const again = await signedIn.fetch(q);
    t.equal(again.status, 302, `${label}: signed-in GET redirects`);
    sameOriginRelative(t, f, again.headers.get('location'), `${label} GET`);
    t.equal(again.headers.get('location'), '/', `${label}: GET lands on /`);

    // 3. Sign-in POST carrying the payload in the form.
    const c = new Client(f.url);
    const csrf = await c.csrf('/.gatehouse/login');
    const r = await c.postForm('/.gatehouse/login', { csrf, username: 'bob', password: 'bob-test-pass', rd });
    t.equal(r.status, 303, `${label}: sign-in succeeds`);
    sameOriginRelative(t, f, r.headers.get('location'), `${label} POST`);
    t.equal(r.headers.get('location'), '/', `${label}: POST lands on /`);
  }

  // The signed-in session survived every '/.gatehouse/logout' payload: none signed alice out.
  const echo = await signedIn.fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
  t.equal(echo.status, 200, 'alice is still signed in after all payloads');
});

t.test('ordinary return targets are kept', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const targets = ['/reports', '/reports?from=2026-01-01&to=2026-02-01', '/echo/a%20b', '/billing/invoices/42'];
  for (const rd of targets) {
    const c = new Client(f.url);
    const r = await c.signIn('alice', 'alice-test-pass', rd);
    t.equal(r.status, 303);
    t.equal(r.headers.get('location'), rd, `${rd} kept`);
    const again = await c.fetch(`/.gatehouse/login?rd=${encodeURIComponent(rd)}`);
    t.equal(again.headers.get('location'), rd, `${rd} kept when already signed in`);
  }
});
