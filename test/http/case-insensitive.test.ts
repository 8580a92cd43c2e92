// A case-insensitive route (IIS) must apply rules whatever the case the client
// sends, since the app serves /BILLING as /billing.
import t from 'tap';
import { startTestGateway, Client } from '../helpers/gateway.ts';

t.test('rules bind on case-insensitive routes in any case', async (t) => {
  const f = await startTestGateway({
    config: {
      routes: [{ path: '/', upstream: 'http://127.0.0.1:9', case_insensitive: true }],
      policy: { default: 'none', rules: [{ id: 'no-billing', match: { path: '/Billing/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  // '/b%C4%B1lling' is a dotless i: IIS upper-cases it to I, so it folds to 'billing' too.
  for (const path of ['/billing/x', '/BILLING/x', '/BiLLinG/x', '/b%C4%B1lling/x', '/billing']) {
    const r = await c.fetch(path, { headers: { accept: 'application/json' } });
    t.equal(r.status, 403, `${path} denied`);
  }
  const ok = await c.fetch('/other', { headers: { accept: 'application/json' } });
  t.not(ok.status, 403, 'other paths are not denied');
});
