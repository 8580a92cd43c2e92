// Interleaved rounds: every target is started once and kept running, warmed,
// then measured in turn in short slices, round after round (the order rotates so
// no target always follows another). Drift on a shared machine then hits all
// targets alike, and per-round ratios (gateway ÷ nginx in the same round) cancel
// most of it; the medians over rounds are reported with their spread.
// `npm run bench -- --acceptance` (bench/run.ts) and bench/cpu-ab.ts use it.

import { cpuSeconds, type Target } from './harness.ts';
import { benchHttp, type BenchHttpResult, type LoadTool } from './proxy.ts';

export interface Sample {
  result: BenchHttpResult;
  /** Process CPU (user + system, with children) per completed request, µs; absent without pids. */
  cpuUsPerReq?: number;
}

export interface SliceOptions { connections: number; durationSec: number; tool?: LoadTool }

/** One measured slice of one target: its load for `durationSec`, and the CPU its processes spent. */
export async function sample(t: Target, o: SliceOptions): Promise<Sample> {
  const pids = t.pids ?? [];
  const before = cpuSeconds(pids);
  const result = t.load
    ? await t.load({ connections: o.connections, durationSec: o.durationSec })
    : await benchHttp({ url: t.url, headers: t.headers, connections: o.connections, durationSec: o.durationSec, tool: o.tool });
  const cpu = cpuSeconds(pids) - before;
  return { result, ...(pids.length > 0 && cpu > 0 && result.requests > 0 ? { cpuUsPerReq: cpu * 1e6 / result.requests } : {}) };
}

export interface InterleaveOptions extends SliceOptions {
  rounds: number;
  warmupSec: number;
  /** Called after each round with that round's samples (target order). */
  onRound?(round: number, samples: Sample[]): void;
}

/** samples[target][round]. A slice with errors or non-2xx answers fails the run: its figures would mislead. */
export async function interleave(targets: Target[], o: InterleaveOptions): Promise<Sample[][]> {
  const checked = async (t: Target, durationSec: number) => {
    const s = await sample(t, { ...o, durationSec });
    if (s.result.errors > 0 || s.result.non2xx > 0) throw new Error(`${t.url}: errors ${s.result.errors}, non-2xx ${s.result.non2xx}`);
    return s;
  };
  if (o.warmupSec > 0) for (const t of targets) await checked(t, o.warmupSec);   // JIT, pools, caches
  const samples: Sample[][] = targets.map(() => []);
  for (let r = 0; r < o.rounds; r++) {
    const round: Sample[] = [];
    for (let k = 0; k < targets.length; k++) {
      const i = (k + r) % targets.length;
      round[i] = await checked(targets[i], o.durationSec);
    }
    round.forEach((s, i) => samples[i].push(s));
    o.onRound?.(r + 1, round);
  }
  return samples;
}

/**
 * Every target gets the same request: the peers (nginx, the bare proxy) are sent
 * the signed-in browser's headers (its session cookie) that a gateway target
 * was, and forward them as any proxy would. Without this the peers proxied a
 * request ~550 bytes shorter than the gateway's and its upstream request carried none of them.
 */
export function sameClientRequest(targets: Target[], peers: readonly boolean[]): void {
  const browser = targets.find((t, i) => !peers[i] && t.headers !== undefined && Object.keys(t.headers).length > 0)?.headers;
  if (browser === undefined) return;
  targets.forEach((t, i) => {
    if (peers[i] && t.headers === undefined) t.headers = { ...browser };
  });
}

// --- pure: medians, per-round ratios, the acceptance checks --------------------------

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface Spread { median: number; min: number; max: number }

export function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

type Metric = (s: Sample) => number | undefined;
export const rps: Metric = (s) => s.result.rps;
export const p99: Metric = (s) => s.result.p99;
export const cpuPerReq: Metric = (s) => s.cpuUsPerReq;

/** Pure: the ratio a[r] / b[r] of each round where both have the metric, as a spread; undefined if none. */
export function roundRatios(a: Sample[], b: Sample[], metric: Metric): Spread | undefined {
  const ratios: number[] = [];
  a.forEach((s, r) => {
    const x = metric(s);
    const y = b[r] === undefined ? undefined : metric(b[r]);
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  });
  return ratios.length === 0 ? undefined : spread(ratios);
}

export interface InterleavedRow {
  name: string;
  peer?: 'nginx' | 'node floor' | 'node floor, workers';
  acceptance?: 'one worker' | 'workers auto';
  samples: Sample[];
}

export interface InterleavedSummary {
  name: string;
  rps: number; p99: number; cpuUsPerReq?: number;
  rpsVsNginx?: Spread; p99VsNginx?: Spread; cpuVsFloor?: Spread;
}

export interface Check {
  label: string; value: Spread | undefined; limit: number; atLeast: boolean; pass: boolean;
  /** The same figure for the Node floor run the same way (the bare proxy; with workers, under node:cluster): what any Node proxy gets here. */
  floor?: Spread;
}

export interface InterleavedReport { rows: InterleavedSummary[]; checks: Check[] }

/** Pure: medians per row, per-round ratios to nginx (rps, p99) and to the Node floor (CPU), and the acceptance checks. */
export function summarize(rows: InterleavedRow[]): InterleavedReport {
  const nginx = rows.find((r) => r.peer === 'nginx');
  const floor = rows.find((r) => r.peer === 'node floor');
  const values = (r: InterleavedRow, m: Metric) => r.samples.map(m).filter((v): v is number => v !== undefined);
  const summaries = rows.map((r): InterleavedSummary => {
    const cpu = values(r, cpuPerReq);
    return {
      name: r.name, rps: median(values(r, rps)), p99: median(values(r, p99)),
      ...(cpu.length > 0 ? { cpuUsPerReq: median(cpu) } : {}),
      ...(nginx ? { rpsVsNginx: roundRatios(r.samples, nginx.samples, rps), p99VsNginx: roundRatios(r.samples, nginx.samples, p99) } : {}),
      ...(floor ? { cpuVsFloor: roundRatios(r.samples, floor.samples, cpuPerReq) } : {}),
    };
  });
  const of = (role: InterleavedRow['acceptance']) => summaries[rows.findIndex((r) => r.acceptance === role)];
  const check = (label: string, value: Spread | undefined, limit: number, atLeast: boolean, floorValue?: Spread): Check =>
    ({ label, value, limit, atLeast, pass: value !== undefined && (atLeast ? value.median >= limit : value.median <= limit), ...(floorValue ? { floor: floorValue } : {}) });
  const workersFloor = summaries[rows.findIndex((r) => r.peer === 'node floor, workers')] as InterleavedSummary | undefined;
  const checks: Check[] = [];
  const auto = of('workers auto');
  const one = of('one worker');
  if (auto && nginx) {
    checks.push(check('workers auto: req/s ÷ nginx', auto.rpsVsNginx, 0.5, true, workersFloor?.rpsVsNginx));
    checks.push(check('workers auto: p99 ÷ nginx', auto.p99VsNginx, 2, false, workersFloor?.p99VsNginx));
  }
  if (one && floor) checks.push(check('1 worker: CPU/req ÷ bare undici proxy', one.cpuVsFloor, 1.2, false));
  return { rows: summaries, checks };
}

const x = (s: Spread | undefined) => (s === undefined ? '' : `${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)})`);

/** Pure: the report as a table (medians; ratios are medians of per-round ratios, range in brackets) and the checks. */
export function formatInterleaved(report: InterleavedReport, o: { rounds: number; durationSec: number }): string {
  const header = ['target', 'req/s', 'p99 ms', 'cpu µs/req', 'req/s ÷ nginx', 'p99 ÷ nginx', 'cpu ÷ bare'];
  const body = report.rows.map((r) => [r.name, r.rps.toFixed(0), r.p99.toFixed(2), r.cpuUsPerReq?.toFixed(1) ?? '', x(r.rpsVsNginx), x(r.p99VsNginx), x(r.cpuVsFloor)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const checks = report.checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.label}: ${c.value === undefined ? 'not measured' : x(c.value)}, needs ${c.atLeast ? '≥' : '≤'} ${c.limit}${c.floor ? ` (the Node floor, run the same way: ${x(c.floor)})` : ''}`);
  return [`medians of ${o.rounds} interleaved rounds × ${o.durationSec} s (ratios: median of per-round ratios, min–max)`,
    line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '', ...checks].join('\n');
}

/** Pure: the report as one JSON line. */
export function interleavedJson(report: InterleavedReport, o: { rounds: number; durationSec: number; warmupSec: number; connections: number }): string {
  const r3 = (n: number | undefined) => (n === undefined ? null : Number(n.toFixed(3)));
  const sp = (s: Spread | undefined) => (s === undefined ? null : { median: r3(s.median), min: r3(s.min), max: r3(s.max) });
  return JSON.stringify({
    bench: 'gatehouse-interleaved', rounds: o.rounds, duration_s: o.durationSec, warmup_s: o.warmupSec, connections: o.connections,
    targets: report.rows.map((r) => ({
      name: r.name, rps: r3(r.rps), p99_ms: r3(r.p99), cpu_us_per_request: r3(r.cpuUsPerReq),
      rps_vs_nginx: sp(r.rpsVsNginx), p99_vs_nginx: sp(r.p99VsNginx), cpu_vs_bare: sp(r.cpuVsFloor),
    })),
    checks: report.checks.map((c) => ({ check: c.label, value: sp(c.value), limit: c.limit, pass: c.pass, node_floor: sp(c.floor) })),
  });
}
