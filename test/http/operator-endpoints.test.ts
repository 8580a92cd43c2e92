// /.gatehouse/metrics answers only operators: a client whose resolved address
// (after trusted_proxies) is in server.metrics_allow, or any request on
// server.admin_listen. Behind a proxy the TCP peer is the proxy, so the peer
// must never be what is checked. Refused clients get 404, as for a page that
// does not exist.

import t from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { adminPath } from '../../src/http/admin-server.ts';
import { isOperatorClient } from '../../src/http/operator-access.ts';
import { addressList } from '../../src/web/client-address.ts';

const metricsFrom = (port: number, lines: string[] = []) => rawGet(port, '/.gatehouse/metrics', [`Host: localhost:${port}`, ...lines]);

t.test('pure: isOperatorClient and adminPath', async (t) => {
  const snap = { operatorAllow: addressList(['127.0.0.0/8', '::1/128', '10.20.0.0/16']) };
  const table: [string, boolean, boolean][] = [
    ['127.0.0.1', false, true], ['127.8.9.10', false, true], ['::1', false, true], ['::ffff:127.0.0.1', false, true],
    ['10.20.3.4', false, true], ['10.21.0.1', false, false], ['203.0.113.9', false, false], ['', false, false],
    ['203.0.113.9', true, true],
  ];
  for (const [ip, admin, want] of table) t.equal(isOperatorClient(snap, ip, admin), want, `${ip || '(none)'}${admin ? ' on admin_listen' : ''}`);
  const paths: [string, string | undefined][] = [
    ['/metrics', '/.gatehouse/metrics'], ['/.gatehouse/metrics', '/.gatehouse/metrics'], ['/.gatehouse/metrics/', '/.gatehouse/metrics'],
    ['/healthz', '/.gatehouse/healthz'], ['/readyz?x=1', '/.gatehouse/readyz'], ['/x/../metrics', '/.gatehouse/metrics'],
    ['/.gatehouse/login', undefined], ['/.gatehouse/authz', undefined], ['/authz', undefined], ['/', undefined], ['/echo', undefined],
    ['/%2e%2e/metrics', undefined], ['/METRICS', undefined],
  ];
  for (const [target, want] of paths) t.equal(adminPath(target), want, target);
});

t.test('default metrics_allow (loopback) behind a trusted proxy: the forwarded client decides', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { server: { trusted_proxies: ['127.0.0.1/32'] } } });
  t.teardown(() => f.close());
  // The peer is 127.0.0.1 (a trusted proxy, and loopback): only the address it forwards counts.
  const outside = await metricsFrom(f.port, ['X-Forwarded-For: 203.0.113.9']);
  t.equal(outside.status, 404, 'a client outside metrics_allow behind the proxy gets 404');
  t.notMatch(outside.body, /gatehouse_requests_total/);
  const chain = await metricsFrom(f.port, ['X-Forwarded-For: 127.0.0.1, 203.0.113.9']);
  t.equal(chain.status, 404, 'a forged loopback hop to the left of the real client changes nothing');
  const local = await metricsFrom(f.port, ['X-Forwarded-For: 127.0.0.1']);
  t.equal(local.status, 200, 'a loopback client forwarded by the proxy may scrape');
  t.match(local.body, /gatehouse_requests_total/);
  const direct = await metricsFrom(f.port);
  t.equal(direct.status, 200, 'a direct loopback client may scrape');
});

t.test('metrics_allow names the scrapers; others get 404 even from loopback', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { server: { trusted_proxies: ['127.0.0.1/32'], metrics_allow: ['10.20.0.0/16'] } } });
  t.teardown(() => f.close());
  t.equal((await metricsFrom(f.port)).status, 404, 'loopback is no longer allowed');
  t.equal((await metricsFrom(f.port, ['X-Forwarded-For: 10.20.5.6'])).status, 200, 'the allowed scraper behind the proxy');
  t.equal((await metricsFrom(f.port, ['X-Forwarded-For: 10.21.5.6'])).status, 404);
  const health = await rawGet(f.port, '/.gatehouse/healthz', [`Host: localhost:${f.port}`, 'X-Forwarded-For: 203.0.113.9']);
  t.equal(health.status, 200, 'healthz stays public on the main listener');
});

t.test('without trusted_proxies, X-Forwarded-For is not believed either way', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { server: { metrics_allow: ['10.20.0.0/16'] } } });
  t.teardown(() => f.close());
  t.equal((await metricsFrom(f.port, ['X-Forwarded-For: 10.20.5.6'])).status, 404, 'a forged allowed address is ignored');
});

t.test('admin_listen serves the operator endpoints and nothing else', async (t) => {
  const f = await startTestGateway({ config: { server: { admin_listen: '127.0.0.1:0', metrics_allow: ['192.0.2.0/24'] }, policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const admin = f.gw.adminPort!;
  t.ok(admin > 0 && admin !== f.port, `admin listener on its own port ${admin}`);
  t.equal((await metricsFrom(f.port)).status, 404, 'public listener: loopback not in metrics_allow');
  for (const path of ['/.gatehouse/metrics', '/metrics', '/.gatehouse/healthz', '/healthz', '/.gatehouse/readyz', '/readyz']) {
    const r = await rawGet(admin, path, ['Host: admin']);
    t.equal(r.status, 200, `admin ${path}`);
  }
  t.match((await rawGet(admin, '/metrics', ['Host: admin'])).body, /gatehouse_requests_total/);
  const before = f.portal!.received.length;
  for (const path of ['/', '/echo', '/.gatehouse/login', '/.gatehouse/authz', '/.gatehouse/account', '/.gatehouse/jwks.json']) {
    const r = await rawGet(admin, path, ['Host: admin', 'X-Original-URI: /echo', 'X-Original-Method: GET']);
    t.equal(r.status, 404, `admin ${path}: not served here`);
  }
  t.equal(f.portal!.received.length, before, 'the admin listener never proxies');
});
