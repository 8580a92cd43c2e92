// gatehouse as Caddy's forward_auth authorizer, with the documented
// examples/caddy/Caddyfile in front of the demo portal.

import t from 'tap';
import { CADDY_BIN, requireBinary, startCaddy } from './real-proxy.ts';
import { runProxyScenarios } from './proxy-scenarios.ts';

if (!requireBinary(t, 'caddy', CADDY_BIN)) t.plan(0, 'caddy is not installed (reason printed above)');
else {
  t.test('Caddy forward_auth in front of the demo portal', async (t) => {
    await runProxyScenarios(t, 'caddy', startCaddy);
  });
}
