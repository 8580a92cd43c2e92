// The benchmark harness: its pure parts by table, and benchHttp against a real
// local upstream with each load generator.

import t from 'tap';
import http from 'node:http';
import { benchHttp, findWrk, parseWrkOutput, percentile, wrkArgs } from '../../bench/proxy.ts';
import { startBenchUpstream, BENCH_PAGE } from '../../bench/upstream.ts';
import { formatTable, summaryJson, unmatchedRules } from '../../bench/run.ts';
import { baseGatewayConfig, mergeConfig, type Target } from '../../bench/harness.ts';
import { formatInterleaved, interleavedJson, median, roundRatios, sameClientRequest, summarize, type InterleavedRow, type Sample } from '../../bench/interleaved.ts';

t.test('percentile (nearest rank)', async (t) => {
  const cases: [number[], number, number][] = [
    [[], 50, 0], [[7], 99, 7], [[1, 2, 3, 4], 50, 2], [[1, 2, 3, 4], 99, 4], [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
  ];
  for (const [values, p, want] of cases) t.equal(percentile(values, p), want, `p${p} of ${values.length} values`);
});

t.test('parseWrkOutput reads the Lua done line', async (t) => {
  const out = `Running 3s test @ http://127.0.0.1:1/\n  Latency Distribution\n     50%  1.00ms\n
GATEHOUSE_BENCH_JSON {"requests":30000,"duration_us":3000000,"p50_us":850,"p99_us":2900,"connect":1,"read":2,"write":0,"timeout":3,"status":4}\n`;
  t.same(parseWrkOutput(out), { rps: 10000, p50: 0.85, p99: 2.9, errors: 6, non2xx: 4, requests: 30000, tool: 'wrk' });
  t.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /printed no summary/);
});

t.test('wrkArgs passes headers and bounds threads by connections', async (t) => {
  const args = wrkArgs({ url: 'http://127.0.0.1:1/', connections: 1, durationSec: 2.5, threads: 4, headers: { Cookie: 'a=b' } }, '/tmp/s.lua');
  t.same(args, ['-t', '1', '-c', '1', '-d', '3s', '--timeout', '5s', '--latency', '-s', '/tmp/s.lua', '-H', 'Cookie: a=b', 'http://127.0.0.1:1/']);
});

t.test('mergeConfig: objects merge, arrays and scalars replace', async (t) => {
  const base = { server: { listen: 'a', log_level: 'warn' }, policy: { default: 'none', rules: [{ id: 'x' }] } };
  t.same(mergeConfig(base, { server: { listen: 'b' }, policy: { rules: [] } }),
    { server: { listen: 'b', log_level: 'warn' }, policy: { default: 'none', rules: [] } });
  t.same(base.server.listen, 'a', 'the base is not changed');
  const cfg = baseGatewayConfig({ port: 9000, upstreamUrl: 'http://127.0.0.1:9001', dir: '/tmp/b' });
  t.same(cfg.routes, [{ path: '/', upstream: 'http://127.0.0.1:9001' }]);
  t.match(cfg, { server: { listen: '127.0.0.1:9000', log_level: 'warn' }, policy: { default: 'none' }, store: { kind: 'sqlite', path: '/tmp/b/gatehouse.db' }, audit: { path: '/tmp/b/audit.log' } });
  const rules = unmatchedRules(1000);
  t.equal(rules.length, 1000);
  t.equal(new Set(rules.map((r) => r.id)).size, 1000, 'rule ids are unique');
});

t.test('formatTable and summaryJson: ratio against the baseline row, failures shown', async (t) => {
  const rows = [
    { name: 'direct', baseline: true, result: { rps: 20000, p50: 1, p99: 3, errors: 0, non2xx: 0, requests: 1, tool: 'wrk' as const } },
    { name: 'gateway', result: { rps: 5000, p50: 4, p99: 9.5, errors: 0, non2xx: 2, requests: 1, tool: 'wrk' as const } },
    { name: 'broken', error: 'gateway exited with code 1:\nstack' },
  ];
  const table = formatTable(rows);
  t.match(table, /direct\s+20000\s+1\.00\s+3\.00\s+0\s+0\s+1\.00x/);
  t.match(table, /gateway\s+5000\s+4\.00\s+9\.50\s+0\s+2\s+0\.25x/);
  t.match(table, /broken\s+FAILED: gateway exited with code 1:$/m);
  const json = JSON.parse(summaryJson(rows, { connections: 50, durationSec: 10, warmupSec: 2 }, [{ rules: 10, nsPerOp: 100 }]));
  t.equal(json.scenarios[1].ratio, 0.25);
  t.equal(json.scenarios[2].error, 'gateway exited with code 1:\nstack');
  t.same(json.policy, [{ rules: 10, nsPerOp: 100 }]);
  const noBaseline = formatTable(rows.slice(1));
  t.match(noBaseline, /gateway\s+5000\s+4\.00\s+9\.50\s+0\s+2\s*$/m, 'no ratio without the baseline row');
  t.equal(JSON.parse(summaryJson(rows.slice(1), { connections: 50, durationSec: 10, warmupSec: 2 }, undefined)).scenarios[0].ratio, null);
});

t.test('formatTable and summaryJson: ratios against nginx, CPU per request', async (t) => {
  const rows = [
    { name: 'nginx', peer: 'nginx' as const, perCpuSec: 50000, result: { rps: 25000, p50: 1, p99: 5, errors: 0, non2xx: 0, requests: 1, tool: 'wrk' as const } },
    { name: 'gateway', perCpuSec: 10000, result: { rps: 12500, p50: 4, p99: 10, errors: 0, non2xx: 0, requests: 1, tool: 'wrk' as const } },
  ];
  t.match(formatTable(rows), /gateway\s+12500\s+4\.00\s+10\.00\s+0\s+0\s+0\.50x\s+2\.00x\s+100\.0\s*$/m, 'rps ratio, p99 ratio, 100 µs per request');
  const json = JSON.parse(summaryJson(rows, { connections: 50, durationSec: 10, warmupSec: 2 }, undefined));
  t.same([json.scenarios[1].ratio_nginx, json.scenarios[1].p99_ratio_nginx, json.scenarios[1].cpu_us_per_request], [0.5, 2, 100]);
  t.same([json.scenarios[0].cpu_us_per_request, json.scenarios[1].ratio], [20, null]);
});

t.test('benchHttp measures a real upstream', async (t) => {
  t.ok(BENCH_PAGE.length > 900 && BENCH_PAGE.length < 1200, 'the bench page is about 1 KB');
  const upstream = await startBenchUpstream(0);
  t.teardown(() => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));
  const address = upstream.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;

  const tools: ('wrk' | 'autocannon')[] = ['autocannon'];
  if (findWrk() !== undefined) tools.push('wrk');
  else if (process.env.CI === 'true') t.fail('wrk is not installed (apt-get install wrk): CI must measure with it');
  else t.comment('NOTE: wrk is not installed here; only the autocannon path was measured');
  for (const tool of tools) {
    const r = await benchHttp({ url, connections: 4, durationSec: 1, tool, headers: { 'X-Bench': '1' } });
    t.equal(r.tool, tool);
    t.ok(r.requests > 100, `${tool}: ${r.requests} requests in 1 s`);
    t.ok(r.rps > 100, `${tool}: ${Math.round(r.rps)} req/s`);
    t.ok(r.p50 > 0 && r.p50 <= r.p99, `${tool}: p50 ${r.p50} <= p99 ${r.p99}`);
    t.equal(r.errors, 0, `${tool}: no errors`);
    t.equal(r.non2xx, 0, `${tool}: all 2xx`);
  }
});

t.test('benchHttp counts non-2xx answers', async (t) => {
  const failing = http.createServer((req, res) => { res.writeHead(503, { 'Content-Length': 4 }); res.end('down'); });
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => { failing.closeAllConnections(); failing.close(() => r()); }));
  const address = failing.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
  const r = await benchHttp({ url, connections: 2, durationSec: 1 });
  t.ok(r.non2xx > 0, `${r.tool}: ${r.non2xx} non-2xx`);
  t.equal(r.non2xx, r.requests, 'every answer was a 503');
});

t.test('interleaved rounds: medians, per-round ratios, acceptance checks', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  t.ok(Number.isNaN(median([])), 'no samples, no median');
  const s = (rps: number, p99: number, cpuUsPerReq?: number): Sample =>
    ({ result: { rps, p50: 1, p99, errors: 0, non2xx: 0, requests: 1, tool: 'wrk' }, ...(cpuUsPerReq === undefined ? {} : { cpuUsPerReq }) });
  const rows: InterleavedRow[] = [
    { name: 'nginx', peer: 'nginx', samples: [s(20000, 5, 25), s(10000, 10, 30), s(30000, 4, 20)] },
    { name: 'bare', peer: 'node floor', samples: [s(10000, 8, 100), s(5000, 20, 200), s(12000, 8, 80)] },
    { name: 'one', acceptance: 'one worker', samples: [s(9000, 9, 110), s(4000, 30, 260), s(11000, 9, 96)] },
    // Round 2 is slow for everyone; its ratios stay in line, so the medians of ratios hold.
    { name: 'auto', acceptance: 'workers auto', samples: [s(12000, 9, 120), s(6000, 20, 240), s(15000, 12, 100)] },
  ];
  const report = summarize(rows);
  const auto = report.rows[3];
  t.same([auto.rps, auto.p99, auto.cpuUsPerReq], [12000, 12, 120], 'medians of the raw figures');
  t.same(auto.rpsVsNginx, { median: 0.6, min: 0.5, max: 0.6 }, 'req/s ratio per round: 0.6, 0.6, 0.5');
  t.same(auto.p99VsNginx, { median: 2, min: 1.8, max: 3 }, 'p99 ratio per round: 1.8, 2, 3');
  t.same(report.rows[2].cpuVsFloor, { median: 1.2, min: 1.1, max: 1.3 }, 'cpu ratio per round: 1.1, 1.3, 1.2');
  t.same(report.checks.map((c) => [c.label, c.pass]), [
    ['workers auto: req/s ÷ nginx', true], ['workers auto: p99 ÷ nginx', true], ['1 worker: CPU/req ÷ bare undici proxy', true],
  ], 'the limits are inclusive');
  const failing = summarize([rows[0], rows[1], { ...rows[3], samples: rows[3].samples.map((x) => s(x.result.rps / 2, x.result.p99 * 2, x.cpuUsPerReq)) }]);
  t.same(failing.checks.map((c) => c.pass), [false, false], 'half the req/s and twice the p99 fail; without a 1-worker row there is no CPU check');
  const withFloor = summarize([...rows, { name: 'bare, workers', peer: 'node floor, workers', samples: [s(14000, 12, 90), s(7000, 25, 180), s(16000, 12, 75)] }]);
  t.same(withFloor.checks.map((c) => c.floor), [{ median: 0.7, min: 16000 / 30000, max: 0.7 }, { median: 2.5, min: 2.4, max: 3 }, undefined],
    'the workers checks carry the Node floor run with workers (req/s 0.7, 0.7, 0.53; p99 2.4, 2.5, 3); the CPU check none');
  t.match(formatInterleaved(withFloor, { rounds: 3, durationSec: 3 }), /^PASS {2}workers auto: p99 ÷ nginx: 2\.00x \(1\.80–3\.00\), needs ≤ 2 \(the Node floor, run the same way: 2\.50x \(2\.40–3\.00\)\)$/m);
  t.same(JSON.parse(interleavedJson(withFloor, { rounds: 3, durationSec: 3, warmupSec: 2, connections: 50 })).checks[1].node_floor, { median: 2.5, min: 2.4, max: 3 });
  const text = formatInterleaved(report, { rounds: 3, durationSec: 3 });
  t.match(text, /^auto\s+12000\s+12\.00\s+120\.0\s+0\.60x \(0\.50–0\.60\)\s+2\.00x \(1\.80–3\.00\)\s+1\.20x \(1\.20–1\.25\)$/m);
  t.match(text, /^PASS {2}workers auto: p99 ÷ nginx: 2\.00x \(1\.80–3\.00\), needs ≤ 2$/m);
  t.match(formatInterleaved(failing, { rounds: 3, durationSec: 3 }), /^FAIL {2}workers auto: req\/s ÷ nginx: 0\.30x/m);
  const json = JSON.parse(interleavedJson(report, { rounds: 3, durationSec: 3, warmupSec: 2, connections: 50 }));
  t.same(json.targets[3].rps_vs_nginx, { median: 0.6, min: 0.5, max: 0.6 });
  t.equal(json.checks.length, 3);
  t.same(roundRatios([s(1, 1)], [s(1, 1)], (x) => x.cpuUsPerReq), undefined, 'no CPU figures, no ratio');
});

t.test('sameClientRequest: peers are sent the signed-in browser\'s headers, nothing else changes', async (t) => {
  const stop = async () => {};
  const cookie = { cookie: 'gatehouse=sealed' };
  const targets: Target[] = [
    { url: 'http://nginx/', stop },
    { url: 'http://bare/', stop },
    { url: 'http://gateway-anonymous/', stop, headers: {} },
    { url: 'http://gateway/', stop, headers: cookie },
    { url: 'http://own/', stop, headers: { cookie: 'own' } },
  ];
  sameClientRequest(targets, [true, true, false, false, true]);
  t.same(targets.map((x) => x.headers), [cookie, cookie, {}, cookie, { cookie: 'own' }]);
  t.not(targets[0].headers, cookie, 'a copy, not the gateway\'s object');
  const alone: Target[] = [{ url: 'http://nginx/', stop }];
  sameClientRequest(alone, [true]);
  t.equal(alone[0].headers, undefined, 'no gateway with a session: nothing to copy');
});
