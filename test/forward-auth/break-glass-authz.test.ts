// Break-glass is honoured the same on every path (policy/decide.ts decides it):
// a declared incident (`enabled: true`) lets the emergency account past second
// factors on proxied requests, forward-auth and explain alike;
// deny rules still deny everywhere.

import t from 'tap';
import { Client, startTestGateway } from '../helpers/gateway.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { explainRequest } from '../../src/cli/explain.ts';

t.test('break-glass: the gateway, forward-auth and explain agree', async (t) => {
  const f = await startTestGateway({
    config: {
      server: { trusted_proxies: ['127.0.0.1'] },
      identity: { break_glass: { user: 'emergency', password: await hashPassword('glass-emergency-pass'), groups: ['admins'], enabled: true } },
      policy: { default: 'mfa', rules: [{ id: 'forbidden', match: { path: '/admin/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  const bg = new Client(f.url);
  t.equal((await bg.signIn('emergency', 'glass-emergency-pass', '/echo')).status, 303, 'break-glass signs in during a declared incident');

  const authz = (uri: string) => bg.fetch('/.gatehouse/authz', {
    headers: { accept: 'application/json', 'x-forwarded-uri': uri, 'x-forwarded-method': 'GET', 'x-forwarded-host': 'localhost', 'x-forwarded-proto': 'http' },
  });
  const snap = f.gw.current();
  const subject = { user: 'emergency', groups: ['admins'], factors: [], remembered_device: false, enrolled: [], in_rollout: true, deferred: false, breakglass: true };
  for (const [path, want] of [['/echo', 200], ['/admin/x', 403]] as const) {
    const proxied = await bg.fetch(path, { headers: { accept: 'application/json' } });
    t.equal(proxied.status, want, `gateway ${path}: ${want}`);
    const fa = await authz(path);
    t.equal(fa.status, want, `forward-auth ${path}: ${want}`);
    if (want === 200) t.equal(fa.headers.get('x-gatehouse-user'), 'emergency', 'forward-auth hands over the identity');
    const e = explainRequest(snap, { method: 'GET', target: path, host: 'localhost', ip: '127.0.0.1' }, subject, Date.now());
    t.equal(e.outcome, want === 200 ? 'allow' : 'deny', `explain --break-glass ${path}: ${e.reason}`);
  }
  const warnings = f.logs.filter((l) => l.msg === 'break-glass request: challenge bypassed');
  t.ok(warnings.length >= 2, `every bypass is logged at warn, on both paths (${warnings.length})`);
});
