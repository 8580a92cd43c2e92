import t from 'tap';
import { createMetrics, statusClass } from '../../src/audit/metrics.ts';

t.test('the exposition text carries every series after a few increments', async (t) => {
  const m = createMetrics();
  const app = m.forRoute('app');
  t.equal(m.forRoute('app'), app, 'route handles are cached');
  for (let i = 0; i < 3; i++) app.request(200);
  app.request(304);
  app.request(503);
  app.upstreamSeconds(0.02);
  app.upstreamSeconds(12);
  app.upstreamError('timeout');
  m.forRule('billing').decision('challenge');
  m.forRule('billing').decision('challenge');
  m.challenge('totp', 'pass');
  m.challenge('webauthn', 'fail');
  m.enrolled('webauthn');
  m.lockouts.inc();
  m.recoveryCodesUsed.inc();
  m.configReloads.labels('ok').inc();
  m.enrolledUsers.set(7);

  const text = await m.text();
  const expected = [
    'gatehouse_requests_total{route="app",status_class="2xx"} 3',
    'gatehouse_requests_total{route="app",status_class="3xx"} 1',
    'gatehouse_requests_total{route="app",status_class="5xx"} 1',
    'gatehouse_requests_total{route="app",status_class="4xx"} 0',
    'gatehouse_decisions_total{rule="billing",decision="challenge"} 2',
    'gatehouse_decisions_total{rule="billing",decision="deny"} 0',
    'gatehouse_challenges_total{factor="totp",result="pass"} 1',
    'gatehouse_challenges_total{factor="webauthn",result="fail"} 1',
    'gatehouse_enrollments_total{factor="webauthn"} 1',
    'gatehouse_lockouts_total 1',
    'gatehouse_recovery_codes_used_total 1',
    'gatehouse_upstream_duration_seconds_bucket{le="0.001",route="app"} 0',
    'gatehouse_upstream_duration_seconds_bucket{le="0.025",route="app"} 1',
    'gatehouse_upstream_duration_seconds_bucket{le="30",route="app"} 2',
    'gatehouse_upstream_duration_seconds_count{route="app"} 2',
    'gatehouse_upstream_errors_total{route="app",kind="timeout"} 1',
    'gatehouse_upstream_errors_total{route="app",kind="refused"} 0',
    'gatehouse_config_reloads_total{result="ok"} 1',
    'gatehouse_config_reloads_total{result="rejected"} 0',
    'gatehouse_enrolled_users 7',
  ];
  const lines = new Set(text.split('\n'));
  for (const line of expected) t.ok(lines.has(line), line);
  t.match(text, /^# TYPE gatehouse_upstream_duration_seconds histogram$/m);
  t.match(text, /^process_cpu_user_seconds_total \d/m, 'default process metrics');
  t.match(m.contentType, /^text\/plain/);
});

t.test('the event-loop lag is still measured when sampled every 100 ms (an idle process wakes 10 times a second, not 100)', async (t) => {
  const m = createMetrics();
  await new Promise((r) => setTimeout(r, 250));
  const until = Date.now() + 300;
  while (Date.now() < until) { /* a blocked event loop */ }
  await new Promise((r) => setTimeout(r, 250));
  const max = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await m.text())?.[1]);
  t.ok(max >= 0.1, `a 300 ms block shows in the lag's maximum (${max} s)`);
});

t.test('handle counts are folded in once per scrape, never twice', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  const app = m.forRoute('app');
  app.request(200);
  app.request(201);
  const line = /^gatehouse_requests_total\{route="app",status_class="2xx"\} (\d+)$/m;
  t.equal(line.exec(await m.text())?.[1], '2');
  t.equal(line.exec(await m.text())?.[1], '2', 'a second scrape does not add again');
  app.request(204);
  m.requests.labels('app', '2xx').inc(); // direct use still adds up
  t.equal(line.exec(await m.text())?.[1], '4');
});

t.test('each Metrics has its own registry', async (t) => {
  const a = createMetrics();
  const b = createMetrics({ defaultMetrics: false });
  a.lockouts.inc();
  t.match(await a.text(), /^gatehouse_lockouts_total 1$/m);
  t.match(await b.text(), /^gatehouse_lockouts_total 0$/m);
  t.notMatch(await b.text(), /process_cpu/);
});

t.test('status classes', async (t) => {
  t.same([101, 200, 299, 302, 404, 500, 599, 0, 700].map(statusClass), ['1xx', '2xx', '2xx', '3xx', '4xx', '5xx', '5xx', '5xx', '5xx']);
});
