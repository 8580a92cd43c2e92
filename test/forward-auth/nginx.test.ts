// gatehouse as nginx's auth_request authorizer, with the documented
// examples/nginx/gatehouse.conf in front of the demo portal.

import t from 'tap';
import { NGINX_BIN, requireBinary, startNginx } from './real-proxy.ts';
import { runProxyScenarios } from './proxy-scenarios.ts';

if (!requireBinary(t, 'nginx', NGINX_BIN)) t.plan(0, 'nginx is not installed (reason printed above)');
else {
  t.test('nginx auth_request in front of the demo portal', async (t) => {
    await runProxyScenarios(t, 'nginx', startNginx);
  });
}
