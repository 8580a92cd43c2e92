// `npm run bench`: requests/s and latency straight to an upstream and through
// the gateway, in one table, then a JSON summary line.
//
//   npm run bench [-- --quick] [--duration S] [--warmup S] [--connections N]
//                 [--only TEXT] [--tool wrk|autocannon] [--signin-baseline [REF]]
//                 [--rounds N] [--acceptance]
//
// `--acceptance` checks the targets (README "Performance") in one interleaved
// run: nginx, the bare undici proxy and the gateway with 1 worker and with
// `workers: auto`, each started once, warmed, then measured in turn for --rounds
// (default 7) × --duration (default 3 s); medians, per-round ratios and
// PASS/FAIL (bench/interleaved.ts). `--rounds N` alone interleaves whatever
// --only selects.
//
// `--only sign-ins --signin-baseline` compares password sign-ins per second
// (each audited to disk before its answer) with the build at REF (default: the
// commit before group commit); `--only 'signed-in session'` with it compares
// proxied requests the same way (bench/signin.ts).
//
// The upstream, each gateway and the load generator run in separate processes
// so none of them steals another's event loop. Scenarios are data: a name and a
// way to start a target (URL + headers); gateway scenarios differ by config
// overrides and an optional `prepare` hook (e.g. sign in and return a cookie).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { interleave, interleavedJson, formatInterleaved, sameClientRequest, sample, summarize, type InterleavedReport } from './interleaved.ts';
import { twoInstancesScenario } from './scale.ts';
import { bareProxyScenario, bareProxyWorkersScenario, nginxScenario } from './peers.ts';
import { DEFAULT_SIGNIN_BASELINE, extractBuild, signInLoad } from './signin.ts';
import type { BenchHttpResult, LoadTool } from './proxy.ts';
import { existsSync } from 'node:fs';
import {
  BENCH_PASSWORD, BENCH_SIGN_IN_USERS, ROOT, baseGatewayConfig, freePort, mergeConfig, signInCookie, spawnListening,
  startGateway, stopTracked, type BenchContext, type Scenario, type Target, type YamlObject,
} from './harness.ts';

const POLICY_BENCH = join(ROOT, 'bench', 'policy.ts');


// --- scenarios -----------------------------------------------------------------


export interface GatewayScenarioOptions {
  /** Deep-merged into the base config (objects merge, arrays and scalars replace). */
  config?: YamlObject;
  /** Request path under the gateway; default "/". */
  path?: string;
  /** Runs once the gateway is healthy; returns headers for every request (e.g. a session Cookie). */
  prepare?(gatewayUrl: string, ctx: BenchContext): Promise<Record<string, string>>;
  /** Another build of the gateway to run (a directory holding src/, views/); default this checkout. */
  root?(ctx: BenchContext): string;
  /** Drive it with the sign-in loop (bench/signin.ts) at this concurrency. */
  signIns?: number;
  /** The row an acceptance check reads (bench/interleaved.ts). */
  acceptance?: Scenario['acceptance'];
}

export const directScenario: Scenario = {
  name: 'direct to upstream',
  baseline: true,
  start: async (ctx) => ({ url: `${ctx.upstreamUrl}/`, stop: async () => {} }),
};

export function gatewayScenario(name: string, opts: GatewayScenarioOptions = {}): Scenario {
  return {
    name,
    ...(opts.acceptance ? { acceptance: opts.acceptance } : {}),
    start: async (ctx) => {
      const dir = join(ctx.tmpDir, name.replace(/[^A-Za-z0-9]+/g, '-'));
      const port = await freePort();
      const config = mergeConfig(baseGatewayConfig({ port, upstreamUrl: ctx.upstreamUrl, dir }), opts.config ?? {});
      const gateway = await startGateway(config, dir, port, opts.root?.(ctx));
      try {
        const headers = opts.prepare === undefined ? {} : await opts.prepare(gateway.url, ctx);
        const signIns = opts.signIns;
        const load = signIns === undefined ? {} : {
          load: (o: { durationSec: number }) => signInLoad({ url: gateway.url, users: BENCH_SIGN_IN_USERS, password: BENCH_PASSWORD, connections: signIns, durationSec: o.durationSec }),
        };
        return { url: `${gateway.url}${opts.path ?? '/'}`, headers, stop: gateway.stop, pids: [gateway.pid], ...load };
      } catch (err) {
        await gateway.stop();
        throw err;
      }
    },
  };
}

/** Rules that never match "/", so every request is checked against all of them before the default applies. */
export function unmatchedRules(count: number): YamlObject[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(4, '0');
    return { id: `bench-${n}`, match: { path: `/never/${n}/**`, methods: ['POST'] }, require: 'mfa' };
  });
}

// Scenarios on top of the gateway: a signed-in session (prepare: sign in as BENCH_USER,
// return { Cookie }), two instances with Redis + PostgreSQL (a Scenario whose start
// brings up both gateways behind a balancer), and so on.

const signedIn = { config: { policy: { default: 'login' } }, prepare: signInCookie };

/** Sign-ins are CPU-bound (argon2id, ~56 ms each): a few clients keep both cores busy. */
const SIGN_IN_CONNECTIONS = 8;

export const SCENARIOS: Scenario[] = [
  directScenario,
  nginxScenario,
  bareProxyScenario,
  bareProxyWorkersScenario,
  gatewayScenario('gateway, anonymous (policy none)'),
  gatewayScenario('gateway, signed-in session, 1 worker', { ...signedIn, acceptance: 'one worker' }),
  // server.workers: a primary and one worker per core sharing the listener.
  gatewayScenario('gateway, signed-in session, workers auto', { ...signedIn, acceptance: 'workers auto', config: { ...signedIn.config, server: { workers: 'auto' } } }),
  gatewayScenario('gateway, signed-in, 1,000 rules', { ...signedIn, config: { policy: { default: 'login', rules: unmatchedRules(1000) } } }),
  gatewayScenario('gateway, signed-in, report-only rule (audited)', {
    ...signedIn,
    config: { policy: { default: 'login', rules: [{ id: 'bench-report', match: { path: '/**' }, require: 'mfa', max_age: '1m', mode: 'report' }] } },
  }),
  twoInstancesScenario('two instances, PostgreSQL + Redis, nginx, signed-in'),
  gatewayScenario('sign-ins, password form (audit: group commit)', { signIns: SIGN_IN_CONNECTIONS }),
];

/** The same sign-in and signed-in rows against the build at `ref`, extracted once per run. */
function baselineScenarios(ref: string): Scenario[] {
  let root: string | undefined;
  const build = (ctx: BenchContext) => (root ??= extractBuild(ROOT, ref, join(ctx.tmpDir, `build-${ref.replace(/[^\w.-]/g, '_')}`)));
  return [
    gatewayScenario(`gateway, signed-in session (baseline ${ref})`, { ...signedIn, root: build }),
    gatewayScenario(`sign-ins, password form (baseline ${ref})`, { signIns: SIGN_IN_CONNECTIONS, root: build }),
  ];
}


async function startUpstream(): Promise<{ url: string; stop(): Promise<void> }> {
  const upstream = await spawnListening([join(ROOT, 'bench', 'upstream.ts'), '--port', '0']);
  return { url: `http://127.0.0.1:${upstream.port}`, stop: upstream.stop };
}

// --- measuring and reporting -------------------------------------------------------

export interface ScenarioResult {
  name: string;
  baseline?: boolean;
  peer?: Scenario['peer'];
  result?: BenchHttpResult;
  error?: string;
  /** Requests per CPU-second of the gateway processes (absent for direct). */
  perCpuSec?: number;
  /** Redis commands per request (absent without Redis). */
  redisPerRequest?: number;
}

interface RunOptions { connections: number; durationSec: number; warmupSec: number; tool?: LoadTool }

async function measure(scenario: Scenario, ctx: BenchContext, o: RunOptions): Promise<ScenarioResult> {
  let target: Target | undefined;
  try {
    target = await scenario.start(ctx);
    if (o.warmupSec > 0) await sample(target, { ...o, durationSec: o.warmupSec });
    const redisBefore = target.redisUrl ? await redisCommands(target.redisUrl) : 0;
    const { result, cpuUsPerReq } = await sample(target, o);
    const redis = target.redisUrl ? await redisCommands(target.redisUrl) - redisBefore - 1 : undefined;
    return {
      name: scenario.name, baseline: scenario.baseline, peer: scenario.peer, result,
      ...(cpuUsPerReq !== undefined ? { perCpuSec: 1e6 / cpuUsPerReq } : {}),
      ...(redis !== undefined ? { redisPerRequest: redis / Math.max(1, result.requests) } : {}),
    };
  } catch (err) {
    return { name: scenario.name, baseline: scenario.baseline, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await target?.stop();
  }
}

/**
 * `--rounds N` (and `--acceptance`): the selected scenarios started once each, then
 * measured in interleaved rounds (bench/interleaved.ts); prints medians, per-round
 * ratios and the acceptance checks.
 */
async function measureInterleaved(selected: Scenario[], ctx: BenchContext, o: RunOptions & { rounds: number }): Promise<InterleavedReport> {
  const targets: Target[] = [];
  try {
    for (const s of selected) {
      process.stderr.write(`bench: starting ${s.name}\n`);
      targets.push(await s.start(ctx));
    }
    sameClientRequest(targets, selected.map((s) => s.peer !== undefined));
    process.stderr.write(`bench: ${o.warmupSec}s warm-up each, then ${o.rounds} rounds × ${selected.length} targets × ${o.durationSec}s, ${o.connections} connections\n`);
    const samples = await interleave(targets, {
      ...o,
      onRound: (r, round) => process.stderr.write(`round ${r}: ${round.map((s, i) => `${selected[i].name}: ${s.result.rps.toFixed(0)} req/s, p99 ${s.result.p99.toFixed(2)} ms${s.cpuUsPerReq === undefined ? '' : `, ${s.cpuUsPerReq.toFixed(1)} µs/req`}`).join('; ')}\n`),
    });
    return summarize(selected.map((s, i) => ({ name: s.name, peer: s.peer, acceptance: s.acceptance, samples: samples[i] })));
  } finally {
    for (const t of targets) await t.stop();
  }
}

const fixed = (n: number, digits: number) => n.toFixed(digits);

/** Commands Redis has processed so far (the INFO call itself counts one). */
async function redisCommands(url: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const info = await r.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    r.disconnect();
  }
}

const baselineRps = (rows: ScenarioResult[]) => rows.find((r) => r.baseline === true && r.result !== undefined)?.result?.rps;
const nginxRow = (rows: ScenarioResult[]) => rows.find((r) => r.peer === 'nginx' && r.result !== undefined)?.result;

/**
 * Pure: one table. "vs direct" and "vs nginx" compare each row's req/s with those rows (blank
 * when they were not run); "p99/nginx" compares latency; "cpu µs/req" is the measured
 * processes' CPU (with their children) per request.
 */
export function formatTable(rows: ScenarioResult[]): string {
  const baseline = baselineRps(rows);
  const nginx = nginxRow(rows);
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'vs direct', 'vs nginx', 'p99/nginx', 'cpu µs/req', 'redis/req'];
  const body = rows.map((r) => r.result === undefined
    ? [r.name, `FAILED: ${(r.error ?? '').split('\n')[0]}`, '', '', '', '', '', '', '', '', '']
    : [r.name, fixed(r.result.rps, 0), fixed(r.result.p50, 2), fixed(r.result.p99, 2), String(r.result.errors), String(r.result.non2xx),
      baseline ? `${fixed(r.result.rps / baseline, 2)}x` : '',
      nginx ? `${fixed(r.result.rps / nginx.rps, 2)}x` : '',
      nginx ? `${fixed(r.result.p99 / nginx.p99, 2)}x` : '',
      r.perCpuSec !== undefined ? fixed(1e6 / r.perCpuSec, 1) : '', r.redisPerRequest !== undefined ? fixed(r.redisPerRequest, 3) : '']);
  const failedWide = (row: string[]) => row[1].startsWith('FAILED');
  const widths = header.map((h, i) => Math.max(h.length, ...body.filter((row) => !(failedWide(row) && i === 1)).map((row) => row[i].length)));
  const line = (row: string[]) => failedWide(row)
    ? `${row[0].padEnd(widths[0])}  ${row[1]}`
    : row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function summaryJson(rows: ScenarioResult[], o: RunOptions, policy: PolicyBenchRow[] | undefined): string {
  const baseline = baselineRps(rows);
  const nginx = nginxRow(rows);
  const round = (n: number, d: number) => Number(n.toFixed(d));
  return JSON.stringify({
    bench: 'gatehouse',
    connections: o.connections, duration_s: o.durationSec, warmup_s: o.warmupSec,
    tool: rows.find((r) => r.result)?.result?.tool,
    scenarios: rows.map((r) => r.result === undefined ? { name: r.name, error: r.error } : {
      name: r.name, rps: round(r.result.rps, 1), p50_ms: round(r.result.p50, 3), p99_ms: round(r.result.p99, 3),
      errors: r.result.errors, non2xx: r.result.non2xx, ratio: baseline ? round(r.result.rps / baseline, 3) : null,
      ratio_nginx: nginx ? round(r.result.rps / nginx.rps, 3) : null,
      p99_ratio_nginx: nginx ? round(r.result.p99 / nginx.p99, 3) : null,
      per_gateway_cpu_s: r.perCpuSec !== undefined ? round(r.perCpuSec, 0) : null,
      cpu_us_per_request: r.perCpuSec !== undefined ? round(1e6 / r.perCpuSec, 1) : null,
      redis_per_request: r.redisPerRequest !== undefined ? round(r.redisPerRequest, 4) : null,
    }),
    policy: policy ?? null,
  });
}

interface PolicyBenchRow { label?: string; rules: number; nsPerOp: number }

/** bench/policy.ts is written by another part of the project; use it when it is there. */
async function runPolicyBench(): Promise<PolicyBenchRow[] | undefined> {
  if (!existsSync(POLICY_BENCH)) return undefined;
  const mod = (await import(pathToFileURL(POLICY_BENCH).href)) as { benchPolicy?: () => Promise<PolicyBenchRow[]> };
  return typeof mod.benchPolicy === 'function' ? mod.benchPolicy() : undefined;
}

function formatPolicyTable(rows: PolicyBenchRow[]): string {
  return ['policy                          ns/op', '------------------------------  -----', ...rows.map((r) => `${(r.label ?? `${r.rules} rules`).padEnd(30)}  ${fixed(r.nsPerOp, 0)}`)].join('\n');
}

/** `--flag` given without a value gets `fallback` (parseArgs has no optional values). */
function withOptionalValue(args: string[], flag: string, fallback: string): string[] {
  return args.flatMap((a, i) => (a === flag && (args[i + 1] === undefined || args[i + 1].startsWith('--')) ? [a, fallback] : [a]));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string', default: '50' },
      only: { type: 'string', multiple: true },
      tool: { type: 'string' },
      'signin-baseline': { type: 'string' },
      rounds: { type: 'string' },
      acceptance: { type: 'boolean', default: false },
    },
    args: withOptionalValue(process.argv.slice(2), '--signin-baseline', DEFAULT_SIGNIN_BASELINE),
  });
  const num = (v: string | undefined, fallback: number, name: string) => {
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
    return n;
  };
  if (values.tool !== undefined && values.tool !== 'wrk' && values.tool !== 'autocannon') throw new Error('--tool must be wrk or autocannon');
  const interleaved = values.acceptance || values.rounds !== undefined;
  const o: RunOptions = {
    connections: Math.max(1, Math.floor(num(values.connections, 50, 'connections'))),
    durationSec: Math.max(1, num(values.duration, values.quick || interleaved ? 3 : 10, 'duration')),
    // V8 still re-optimizes the gateway's code after 20-30 s of load at full rate (--trace-deopt), and each of
    // `workers: auto`'s workers gets half of it: interleaved runs, which compare steady states, warm 40 s
    // (docs/performance.md). The one-after-another table warms 10 s, when the speed is within a few percent.
    warmupSec: num(values.warmup, values.quick ? 1 : interleaved ? 40 : 10, 'warmup'),
    tool: values.tool as LoadTool | undefined,
  };
  const all = [...SCENARIOS, ...(values['signin-baseline'] !== undefined ? baselineScenarios(values['signin-baseline']) : [])];
  const selected = values.acceptance
    ? all.filter((s) => s.peer !== undefined || s.acceptance !== undefined)
    : values.only === undefined ? all : all.filter((s) => values.only!.some((t) => s.name.includes(t)));

  const tmpDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  const upstream = await startUpstream();
  const ctx: BenchContext = { upstreamUrl: upstream.url, tmpDir };
  if (interleaved) {
    const io = { ...o, rounds: Math.max(1, Math.floor(num(values.rounds, 7, 'rounds'))) };
    try {
      const report = await measureInterleaved(selected, ctx, io);
      process.stdout.write(`\n${formatInterleaved(report, io)}\n\n${interleavedJson(report, io)}\n`);
      return values.acceptance && report.checks.some((c) => !c.pass) ? 2 : 0;
    } finally {
      await upstream.stop();
      await rm(tmpDir, { recursive: true, force: true });
    }
  }
  const rows: ScenarioResult[] = [];
  try {
    for (const scenario of selected) {
      process.stderr.write(`bench: ${scenario.name} (${o.warmupSec}s warm-up, ${o.durationSec}s, ${o.connections} connections)\n`);
      const row = await measure(scenario, ctx, o);
      if (row.error !== undefined) process.stderr.write(`bench: ${scenario.name} failed: ${row.error}\n`);
      rows.push(row);
    }
  } finally {
    await upstream.stop();
    await rm(tmpDir, { recursive: true, force: true });
  }
  const policy = await runPolicyBench();
  process.stdout.write(`\n${formatTable(rows)}\n`);
  if (policy !== undefined) process.stdout.write(`\n${formatPolicyTable(policy)}\n`);
  process.stdout.write(`\n${summaryJson(rows, o, policy)}\n`);
  return rows.some((r) => r.error !== undefined) ? 1 : 0;
}

if (import.meta.main) {
  const stopAll = () => { stopTracked(); process.exit(130); };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  main().then((code) => process.exit(code), (err: unknown) => {
    stopTracked();
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
