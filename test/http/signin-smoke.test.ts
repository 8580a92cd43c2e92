import t from 'tap';
import { startTestGateway, Client } from '../helpers/gateway.ts';

t.test('sign in then reach the upstream with identity headers', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const c = new Client(f.url);
  const first = await c.fetch('/echo');
  t.equal(first.status, 302);
  t.match(first.headers.get('location'), /^\/\.gatehouse\/login\?rd=%2Fecho$/);
  const r = await c.signIn('alice', 'alice-test-pass', '/echo');
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/echo');
  const echo = await c.fetch('/echo', { headers: { accept: 'application/json', 'x-gatehouse-user': 'mallory' } });
  t.equal(echo.status, 200);
  const body = await echo.json() as { headers: Record<string, string> };
  t.equal(body.headers['x-gatehouse-user'], 'alice');
  t.equal(body.headers['x-gatehouse-groups'], 'admins,finance');
  t.ok(body.headers['x-gatehouse-assertion']);
});
