// Instructions per proxied request, gateway (signed-in session, one worker)
// against the bare undici proxy, counted by valgrind's callgrind (README
// "Performance": CPU per request ≤ 1.2× the bare undici proxy's). Time-based
// CPU figures swing ±30% between rounds on a shared VM that reports no steal
// time; an instruction count is the same whatever the neighbours do. It counts
// user-space instructions only (not the kernel's socket work, which both pay
// alike) and runs each process about 50× slower, so it complements
// `npm run bench`'s CPU µs figures rather than replacing them.
//
// Each target runs under callgrind with instrumentation off while it starts and
// warms up, then, per round: counters zeroed, a fixed number of requests,
// counters dumped. Rounds alternate between the targets. Two figures: the
// event-loop thread (the request work itself, the same count round after round
// once warm) and all threads (V8's compiler and GC helpers too, which under
// valgrind keep compiling for many rounds after the warm-up).
//
// Run: node bench/instructions.ts [--requests 4000] [--warmup 6000] [--rounds 4] [--connections 50] [--keep]
// --keep leaves the dumps (out.PID.N-THREAD, one set per round) for callgrind_annotate;
// --perf-map has V8 write /tmp/perf-PID.map, which names the JIT code addresses in them.

import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { baseGatewayConfig, freePort, mergeConfig, ROOT, signInCookie, spawnListening, startGateway } from './harness.ts';
import { median } from './interleaved.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '4000' },
    warmup: { type: 'string', default: '6000' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    'perf-map': { type: 'boolean', default: false },
  },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const connections = Number(values.connections);

function callgrindControl(pid: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('callgrind_control', [flag, String(pid)], { stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`callgrind_control ${flag} ${pid}: exit ${code}`))));
  });
}

/** `count` GETs over `connections` keep-alive connections; every answer must be a 200. */
async function drive(url: string, headers: Record<string, string>, count: number): Promise<void> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const r = await pool.request({ method: 'GET', path: u.pathname, headers });
      const body = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${body.slice(0, 200)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    await pool.close();
  }
}

/** Ir of the newest callgrind dump of `pid` in `dir`: one file per thread (out.PID.N-TT), thread 01 is the event loop. */
function lastDumpIr(dir: string, pid: number): { all: number; main: number } {
  const files = readdirSync(dir).filter((f) => f.startsWith(`out.${pid}.`));
  const dumpOf = (f: string) => Number(f.slice(`out.${pid}.`.length).split('-')[0]);
  const last = Math.max(...files.map(dumpOf));
  let all = 0;
  let main = 0;
  for (const f of files.filter((x) => dumpOf(x) === last)) {
    const m = /^summary: (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'));
    if (m === null) throw new Error(`no summary in ${f}`);
    all += Number(m[1]);
    if (f.endsWith('-01')) main += Number(m[1]);
  }
  return { all, main };
}

interface Counted { name: string; url: string; pid: number; all: number[]; main: number[] }

if (spawnSync('callgrind_control', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)');
const tmpDir = await mkdtemp(join(tmpdir(), 'gatehouse-instructions-'));
// V8's memory reducer starts full collections when allocation per second drops, which under
// valgrind (50× slower) it always seems to: off for both, as a process at full speed under load has it.
const node = [
  'valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes',
  `--log-file=${join(tmpDir, 'valgrind.%p.log')}`, `--callgrind-out-file=${join(tmpDir, 'out.%p')}`,
  process.execPath, '--no-memory-reducer', ...(values['perf-map'] ? ['--perf-basic-prof'] : []),
];
const stops: (() => Promise<void>)[] = [];
try {
  const upstream = await spawnListening([join(ROOT, 'bench', 'upstream.ts'), '--port', '0']);
  stops.push(upstream.stop);
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const bare = await spawnListening([join(ROOT, 'bench', 'bare-proxy.ts'), '--port', '0', '--upstream', upstreamUrl], node);
  stops.push(bare.stop);
  const port = await freePort();
  const dir = join(tmpDir, 'gateway');
  const config = mergeConfig(baseGatewayConfig({ port, upstreamUrl, dir }), { policy: { default: 'login' } });
  const gateway = await startGateway(config, dir, port, ROOT, node);
  stops.push(gateway.stop);
  const headers = await signInCookie(gateway.url);

  // Both get the signed-in browser's request (bench/interleaved.ts, sameClientRequest).
  const targets: Counted[] = [
    { name: 'bare undici proxy', url: `http://127.0.0.1:${bare.port}/`, pid: bare.pid, all: [], main: [] },
    { name: 'gateway, signed-in, 1 worker', url: `${gateway.url}/`, pid: gateway.pid, all: [], main: [] },
  ];
  for (const t of targets) {
    await drive(t.url, headers, warmup);
    await callgrindControl(t.pid, '--instr=on');
  }
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      await callgrindControl(t.pid, '--zero');
      await drive(t.url, headers, requests);
      await callgrindControl(t.pid, '--dump');
      const ir = lastDumpIr(tmpDir, t.pid);
      t.all.push(ir.all / requests);
      t.main.push(ir.main / requests);
    }
    const show = (t: Counted) => `${Math.round(t.main[r])} (${Math.round(t.all[r])})`;
    process.stderr.write(`round ${r + 1}, per request, event loop (all threads): ${targets.map(show).join(' / ')}\n`);
  }
  const [b, g] = targets;
  const row = (label: string, of: (t: Counted) => number[]) => {
    const ratios = of(g).map((x, r) => x / of(b)[r]);
    const counts = targets.map((t) => Math.round(median(of(t))).toLocaleString('en').padStart(9)).join(' ');
    process.stdout.write(`${label.padEnd(18)} ${counts} ${median(ratios).toFixed(3).padStart(8)}x  (rounds: ${ratios.map((x) => x.toFixed(3)).join(' ')})\n`);
  };
  process.stdout.write(`${'per request'.padEnd(18)} ${'bare'.padStart(9)} ${'gateway'.padStart(9)} gateway ÷ bare, median (the target is ≤ 1.2)\n`);
  row('event-loop thread', (t) => t.main);
  row('all threads', (t) => t.all);
} finally {
  for (const stop of stops.reverse()) await stop();
  if (values.keep) process.stdout.write(`callgrind dumps: ${tmpDir}\n`);
  else await rm(tmpDir, { recursive: true, force: true });
}
