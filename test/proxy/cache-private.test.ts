// An answer to a signed-in user's request is marked Cache-Control: private, so a
// shared cache in front of the gateway never hands one user's page to another.
// Checked on the bytes the client receives.

import t from 'tap';
import { startTestGateway, Client } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream } from '../helpers/lenient-upstream.ts';
import { rawGet } from '../helpers/raw-http.ts';

/** Each path names the Cache-Control the upstream answers with (none for /none). */
const UPSTREAM_CC: Record<string, string | undefined> = {
  '/public': 'public, max-age=60',
  '/none': undefined,
  '/nostore': 'no-store',
  '/private': 'private, max-age=5',
  '/shared': 's-maxage=600, max-age=30',
};

t.test('Cache-Control on answers with and without an identity', async (t) => {
  const up = await startLenientUpstream((q) => {
    const cc = UPSTREAM_CC[q.target];
    return plainAnswer(200, 'OK', `page for ${q.header('x-gatehouse-user') ?? 'anyone'}`, cc === undefined ? {} : { 'Cache-Control': cc });
  });
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: { routes: [{ path: '/', upstream: up.origin }], policy: { default: 'none', rules: [] } },
  });
  t.teardown(() => f.close());
  const alice = new Client(f.url);
  t.equal((await alice.signIn('alice', 'alice-test-pass', '/')).status, 303);

  const cacheControl = (head: string) => [...head.matchAll(/\r\ncache-control: ([^\r]*)/gi)].map((m) => m[1]);
  const signedIn: Record<string, string[]> = {
    '/public': ['private, max-age=60'],
    '/none': ['private'],
    '/nostore': ['no-store'],
    '/private': ['private, max-age=5'],
    '/shared': ['private, max-age=30'],
  };
  for (const [path, want] of Object.entries(signedIn)) {
    const r = await rawGet(f.port, path, [`Host: localhost:${f.port}`, `Cookie: ${alice.cookieHeader()}`]);
    t.equal(r.status, 200);
    t.match(r.body, /page for alice/, `${path}: alice's page`);
    t.same(cacheControl(r.head), want, `${path}: signed in → ${want.join()}`);
  }
  for (const [path, cc] of Object.entries(UPSTREAM_CC)) {
    const r = await rawGet(f.port, path, [`Host: localhost:${f.port}`]);
    t.match(r.body, /page for anyone/);
    t.same(cacheControl(r.head), cc === undefined ? [] : [cc], `${path}: anonymous → the upstream's own value`);
  }
});
