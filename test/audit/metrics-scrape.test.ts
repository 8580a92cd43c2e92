// Metrics scraped after a scripted sign-in, enrollment and step-up contain the
// series an operator alerts on; /metrics is closed to untrusted peers.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startTestGateway, Client } from '../helpers/gateway.ts';

const totp = (secret: string) => execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, '')]).toString().trim();

t.test('metrics after sign-in and step-up', async (t) => {
  const f = await startTestGateway({
    config: {
      // Loopback (the default) is left out, so the test client is not an operator on the public listener.
      server: { admin_listen: '127.0.0.1:0', metrics_allow: ['192.0.2.0/24'] },
      policy: { default: 'login', rules: [{ id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m', factors: ['totp'] }] },
    },
  });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  t.equal((await c.fetch('/.gatehouse/metrics')).status, 404, 'not on the public listener for a client outside metrics_allow');
  await c.signIn('alice', 'alice-test-pass', '/');
  // Enroll TOTP (a step-up rule needs it), then pass a step-up.
  const setup = await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(setup)![1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(setup)![1];
  let r = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/', action: 'totp', code: totp(secret) });
  t.equal(r.status, 303);
  r = await c.postForm('/billing/pay', { amount: '10', payee: 'ACME' }, { referer: `${f.url}/billing` });
  t.equal(r.status, 200, 'fresh factor from enrollment: straight through');
  r = await c.postForm('/.gatehouse/challenge', { csrf: c.cookies.size ? (await c.csrf('/.gatehouse/challenge?method=totp&rd=%2F')) : '', rd: '/', method: 'totp', code: '000000' });
  t.equal(r.status, 401, 'a wrong code fails');
  const text = await (await fetch(`http://127.0.0.1:${f.gw.adminPort}/metrics`)).text();
  t.match(text, /gatehouse_requests_total\{route="\*\/",status_class="2xx"\} [1-9]/, 'requests by route and status');
  t.match(text, /gatehouse_decisions_total\{rule="billing",decision="allow"\} 1/, 'decisions by rule');
  t.match(text, /gatehouse_enrollments_total\{factor="totp"\} 1/, 'enrollments by factor');
  t.match(text, /gatehouse_challenges_total\{factor="totp",result="pass"\} 1/, 'challenge passes (enrollment counts as one)');
  t.match(text, /gatehouse_challenges_total\{factor="totp",result="fail"\} 1/, 'challenge failures');
  t.match(text, /gatehouse_upstream_duration_seconds_count\{route="\*\/"\} [1-9]/, 'upstream latency histogram');
  t.match(text, /gatehouse_config_reloads_total/, 'config reload counter present');
});
