// HTTP load generation for the benchmark. Uses Debian's `wrk` when it is on the
// machine, else autocannon. Either way the load generator runs in its own
// process, so it never competes with the measured server for an event loop.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchHttpOptions {
  url: string;
  connections: number;
  durationSec: number;
  headers?: Record<string, string>;
  /** Force a load generator; default wrk when installed, else autocannon. */
  tool?: LoadTool;
  /** wrk threads; default 1 (the machine has 2 cores and the servers need them). */
  threads?: number;
}

export interface BenchHttpResult {
  rps: number;        // completed requests per second
  p50: number;        // latency, milliseconds
  p99: number;        // latency, milliseconds
  errors: number;     // socket errors and timeouts
  non2xx: number;     // wrk: responses outside 2xx/3xx; autocannon: outside 2xx
  requests: number;
  tool: LoadTool;
}

/** wrk and autocannon repeat one request; the sign-in loop (bench/signin.ts) walks the login form. */
export type LoadTool = 'wrk' | 'autocannon' | 'signin-loop';

const MARKER = 'GATEHOUSE_BENCH_JSON ';

/** wrk's own summary is read through its Lua `done` hook, which prints exact numbers (µs) on one marked line. */
const WRK_DONE_LUA = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n${MARKER}{"requests":%.0f,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,"status":%.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end
`;

export function findWrk(pathEnv: string = process.env.PATH ?? ''): string | undefined {
  const dirs = [...pathEnv.split(delimiter).filter((d) => d !== ''), '/usr/bin'];
  return dirs.map((d) => join(d, 'wrk')).find((p) => existsSync(p));
}

function markedJson(stdout: string): Record<string, number> {
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (line === undefined) throw new Error(`load generator printed no summary:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(MARKER.length)) as Record<string, number>;
}

/** Pure: wrk's output (with the Lua done hook's line) to a result. */
export function parseWrkOutput(stdout: string): BenchHttpResult {
  const s = markedJson(stdout);
  return {
    rps: s.duration_us > 0 ? s.requests / (s.duration_us / 1e6) : 0,
    p50: s.p50_us / 1000,
    p99: s.p99_us / 1000,
    errors: s.connect + s.read + s.write + s.timeout,
    non2xx: s.status,
    requests: s.requests,
    tool: 'wrk',
  };
}

export function wrkArgs(opts: BenchHttpOptions, scriptPath: string): string[] {
  const threads = Math.max(1, Math.min(opts.threads ?? 1, opts.connections));
  const headerArgs = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  return ['-t', String(threads), '-c', String(opts.connections), '-d', `${Math.ceil(opts.durationSec)}s`,
    '--timeout', '5s', '--latency', '-s', scriptPath, ...headerArgs, opts.url];
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.once('error', reject);
    child.once('close', (code) => code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`)));
  });
}

async function benchWithWrk(wrk: string, opts: BenchHttpOptions): Promise<BenchHttpResult> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-wrk-'));
  try {
    const script = join(dir, 'done.lua');
    await writeFile(script, WRK_DONE_LUA);
    return parseWrkOutput(await run(wrk, wrkArgs(opts, script)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pure: the summary the autocannon child prints to a result. */
export function parseAutocannonOutput(stdout: string): BenchHttpResult {
  const s = markedJson(stdout);
  return {
    rps: s.duration_s > 0 ? s.requests / s.duration_s : 0,
    p50: s.p50_ms, p99: s.p99_ms, errors: s.errors + s.timeouts, non2xx: s.non2xx, requests: s.requests, tool: 'autocannon',
  };
}

async function benchWithAutocannon(opts: BenchHttpOptions): Promise<BenchHttpResult> {
  const childOpts = { url: opts.url, connections: opts.connections, durationSec: opts.durationSec, headers: opts.headers ?? {} };
  const out = await run(process.execPath, [fileURLToPath(import.meta.url), '--autocannon-child', JSON.stringify(childOpts)]);
  return parseAutocannonOutput(out);
}

export async function benchHttp(opts: BenchHttpOptions): Promise<BenchHttpResult> {
  if (!(opts.connections >= 1) || !(opts.durationSec > 0)) throw new Error('benchHttp: connections >= 1 and durationSec > 0 required');
  const wrk = opts.tool === 'autocannon' ? undefined : findWrk();
  if (opts.tool === 'wrk' && wrk === undefined) throw new Error('benchHttp: wrk requested but not installed (apt-get install wrk)');
  return wrk !== undefined ? benchWithWrk(wrk, opts) : benchWithAutocannon(opts);
}

// --- the autocannon child process ---------------------------------------------

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonInstance { on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void }
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

/** Pure: the p-th percentile (0-100) of ascending values, nearest rank. */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  if (sortedAscending.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1];
}

async function autocannonChild(raw: string): Promise<void> {
  const o = JSON.parse(raw) as { url: string; connections: number; durationSec: number; headers: Record<string, string> };
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon; // no bundled types
  // autocannon's own histogram has whole-millisecond resolution; keep every response time instead, like wrk.
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const r = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({ url: o.url, connections: o.connections, duration: o.durationSec, headers: o.headers, timeout: 5 },
      (err, result) => err ? reject(err) : resolve(result));
    instance.on('response', (_client, _status, _bytes, ms) => {
      if (count === latencies.length) { const grown = new Float64Array(count * 2); grown.set(latencies); latencies = grown; }
      latencies[count++] = ms;
    });
  });
  const sorted = latencies.subarray(0, count).sort();
  process.stdout.write(`${MARKER}${JSON.stringify({
    requests: r.requests.total, duration_s: r.duration, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99),
    errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx,
  })}\n`);
}

if (import.meta.main && process.argv[2] === '--autocannon-child') {
  await autocannonChild(process.argv[3] ?? '{}');
}
