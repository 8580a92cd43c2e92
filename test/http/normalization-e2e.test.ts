// End to end through real sockets: no traversal or encoding trick makes the
// upstream see a different path from the one the rules matched. Requests go
// over a raw net socket so nothing normalizes the target on the client side.

import t from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { rawGet } from '../helpers/raw-http.ts';

const rawRequest = (port: number, target: string, host = `localhost:${port}`) => rawGet(port, target, [`Host: ${host}`, 'Accept: application/json']);


t.test('traversal and encoding variants of a denied path never reach the upstream', async (t) => {
  const f = await startTestGateway({
    config: {
      policy: {
        default: 'none',
        rules: [
          { id: 'admin', match: { path: '/admin/**' }, require: 'deny' },
          { id: 'iis-admin', match: { path: '/iis/admin/**' }, require: 'deny' },
          { id: 'admin-host', match: { host: 'admin.localhost' }, require: 'deny' },
        ],
      },
    },
  });
  t.teardown(() => f.close());
  const portal = f.portal!;
  // The portal's port is only known once it runs: add the case-insensitive and host routes now.
  const base = f.gw.current().config;
  const ok = await f.gw.reload({
    ...base,
    routes: [
      base.routes[0],
      { ...base.routes[0], path: '/iis', case_insensitive: true },
      { ...base.routes[0], host: 'admin.localhost' },
    ],
  });
  t.ok(ok, 'config with the real upstream loaded');

  const P = f.port;
  // [target, the statuses that are acceptable]: 403 when the rule matched
  // after normalization, 400 when the target is ambiguous and refused.
  const blocked: [string, number[]][] = [
    ['/admin', [403]],
    ['/admin/', [403]],
    ['/admin/users', [403]],
    ['/admin?x=1', [403]],
    ['/x/../admin', [403]],
    ['/x/%2e%2e/admin', [403]],
    ['/x/%2E%2E/admin', [403]],
    ['/x/.%2e/admin', [403]],
    ['/%61dmin', [403]],
    ['/%61%64%6d%69%6e/x', [403]],
    ['/adm%69n/', [403]],
    ['//admin', [403]],
    ['///admin//x', [403]],
    ['/./admin', [403]],
    ['/%2e/admin', [403]],
    ['/x/./../admin', [403]],
    ['/x//..//admin', [403]],
    ['/a/b/../../admin', [403]],
    ['/admin/%2e%2e/admin', [403]],
    ['/echo/../admin', [403]],
    ['/admin;x', [400]],
    ['/admin;jsessionid=1/x', [400]],
    ['/..;/admin', [400]],
    ['/x/..;/admin', [400]],
    ['/admin%3bx', [400]],
    ['/admin%2f', [400]],
    ['/admin%2Fusers', [400]],
    ['/x%2f..%2fadmin', [400]],
    ['/x/..%2fadmin', [400]],
    ['/%2e%2e/admin', [400]],
    ['/../admin', [400]],
    ['/admin%00', [400]],
    ['/admin%09', [400]],
    ['/admin%0d%0a', [400]],
    ['/admin%5c', [400]],
    ['/x%5c..%5cadmin', [400]],
    ['/x\\..\\admin', [400]],
    ['/%252e%252e/admin', [400]],
    ['/x/%252e%252e/admin', [400]],
    ['/%2561dmin', [400]],
    ['/admin%23', [400]],
    ['/%c0%ae%c0%ae/admin', [400]],
    ['/x/%c0%ae%c0%ae/admin', [400]],
    ['/%e0%80%ae/admin', [400]],
    ['/admin%ff', [400]],
    ['/adm%', [400]],
    ['/adm%6', [400]],
    [`http://localhost:${P}/admin`, [403]],
    [`http://localhost:${P}/x/../admin`, [403]],
    [`HTTP://LOCALHOST:${P}/%61dmin`, [403]],
    [`http://user@localhost:${P}/admin`, [400]],
    ['*', [400]],
    // The case-insensitive route (an IIS-style app): any case, any fold, no trailing dots.
    ['/iis/ADMIN', [403]],
    ['/IIS/Admin/x', [403]],
    ['/iis/%41DMIN', [403]],
    ['/iis/adm%C4%B1n', [403]],
    ['/iis/ADMIN/', [403]],
    ['/iis/x/../ADMIN', [403]],
    ['/iis/admin.', [400, 403]],
    ['/iis/admin./x', [400, 403]],
    ['/iis/ADMIN%20', [400, 403]],
    // Case-insensitive routes fold the path the rules see (see gateway.ts / normalize.ts foldPathCase).
  ];
  t.ok(blocked.length >= 25, `${blocked.length} blocked variants`);
  // Host-scoped rule: the host the gateway routes by must be the host the rule sees.
  // [target, Host header]; an absolute-form target names the host itself (RFC 9112 §3.2.2).
  const hostVariants: [string, string][] = [
    ['/echo/h1', 'admin.localhost'],
    ['/echo/h2', 'ADMIN.localhost'],
    ['/echo/h3', `admin.localhost:${P}`],
    ['/echo/h4', 'admin.localhost.'],
    ['http://admin.localhost/echo/h5', `localhost:${P}`],
    [`http://admin.localhost:${P}/echo/h6`, `localhost:${P}`],
    ['http://ADMIN.LOCALHOST/echo/h7', 'localhost'],
  ];
  for (const [target, host] of hostVariants) {
    const before = portal.received.length;
    const r = await rawRequest(P, target, host);
    t.ok([400, 403].includes(r.status), `${target} with Host ${host} → ${r.status} (want 400 or 403)`);
    t.equal(portal.received.length, before, `${target} with Host ${host} never reached the upstream`);
  }

  for (const [target, want] of blocked) {
    const before = portal.received.length;
    const r = await rawRequest(P, target);
    t.ok(want.includes(r.status), `${target} → ${r.status} (want ${want.join(' or ')})`);
    t.equal(portal.received.length, before, `${target} never reached the upstream`);
  }
  const leaked = portal.received.filter((rec) => /admin|adm%|%61|%41/i.test(rec.url));
  t.same(leaked.map((r) => r.url), [], 'nothing admin-like was ever forwarded');

  // Allowed targets reach the upstream with the canonical path, and only once.
  const allowed: [string, string][] = [
    ['/echo/%7Euser/a%20b', '/echo/~user/a%20b'],
    ['/echo/a/../b', '/echo/b'],
    ['/echo/./x', '/echo/x'],
    ['/echo//x', '/echo/x'],
    ['/echo/%61', '/echo/a'],
    ['/echo/a%2Bb', '/echo/a+b'],
    ['/echo/a%3Ab', '/echo/a:b'],
    ['/echo/caf%C3%A9', '/echo/caf%C3%A9'],
    ['/echo/caf%c3%a9', '/echo/caf%C3%A9'],
    ['/echo/%E2%82%AC', '/echo/%E2%82%AC'],
    ['/echo/x?q=%2e%2e/../a&b=%2F', '/echo/x?q=%2e%2e/../a&b=%2F'],
    ['/x/../echo/y', '/echo/y'],
    ['/echo/admin', '/echo/admin'],
    [`http://localhost:${P}/echo/abs`, '/echo/abs'],
    ['/ECHO/../echo/Z', '/echo/Z'],
  ];
  for (const [target, canonical] of allowed) {
    const before = portal.received.length;
    const r = await rawRequest(P, target);
    t.equal(r.status, 200, `${target} allowed`);
    t.equal(portal.received.length, before + 1, `${target} forwarded once`);
    t.equal(portal.received.at(-1)?.url, canonical, `${target} reaches the upstream as ${canonical}`);
    const echoed = JSON.parse(r.body) as { url: string };
    t.equal(echoed.url, canonical, `${target}: the portal's own view`);
  }
});
