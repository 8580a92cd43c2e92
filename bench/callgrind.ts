// Instructions per request under callgrind: the gateway (signed-in session, one
// worker) at this checkout or at another commit, or the bare undici proxy.
// Unlike CPU time on a shared, loaded machine, an instruction count repeats
// run to run, so a change of a few percent on the hot path shows (issue 15).
// Counting starts after the warm-up (callgrind_control -z) and is dumped after
// the measured requests, one at a time on one keep-alive connection (no
// batching that would differ with load). Kernel time (syscalls) is not counted.
//
// Run: node bench/callgrind.ts [--ref REF | --bare] [--requests 2000] [--warmup 3000]

import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// run.ts first: it and peers.ts import each other (see cpu-ab.ts).
import { baseGatewayConfig, freePort, mergeConfig, signInCookie, spawnListening, startGateway, stopChild, track } from './run.ts';
import { extractBuild } from './signin.ts';
import { Pool } from 'undici';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const { values } = parseArgs({
  options: {
    ref: { type: 'string' },
    bare: { type: 'boolean', default: false },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
  },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup);

const tmpDir = await mkdtemp(join(tmpdir(), 'gatehouse-callgrind-'));
const outDir = join(tmpDir, 'out');
execFileSync('mkdir', ['-p', outDir]);
const wrap = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', `--callgrind-out-file=${join(outDir, 'cg.%p')}`];
const upstream = await spawnListening([join(ROOT, 'bench', 'upstream.ts'), '--port', '0']);
const upstreamUrl = `http://127.0.0.1:${upstream.port}`;

let target: { url: string; pid: number; headers: Record<string, string>; stop(): Promise<void> };
const port = await freePort();
if (values.bare) {
  const child = track(spawn(wrap[0], [...wrap.slice(1), process.execPath, join(ROOT, 'bench', 'bare-proxy.ts'), '--port', String(port), '--upstream', upstreamUrl], { stdio: ['ignore', 'pipe', 'inherit'] }));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { if (d.includes('"port"')) resolve(); });
    child.once('exit', (code) => reject(new Error(`bare proxy exited with ${code}`)));
  });
  target = { url: `http://127.0.0.1:${port}`, pid: child.pid!, headers: {}, stop: () => stopChild(child, 60_000) };
} else {
  const dir = join(tmpDir, 'gw');
  const root = values.ref === undefined ? ROOT : extractBuild(ROOT, values.ref, join(tmpDir, 'build'));
  const config = mergeConfig(baseGatewayConfig({ port, upstreamUrl, dir }), { policy: { default: 'login' } });
  const gw = await startGateway(config, dir, port, root, wrap);
  target = { ...gw, headers: await signInCookie(gw.url) };
}

const pool = new Pool(target.url, { connections: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await pool.request({ path: '/', method: 'GET', headers: target.headers });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
  }
}
try {
  await send(warmup);
  execFileSync('callgrind_control', ['-z', String(target.pid)], { stdio: 'ignore' });
  await send(requests);
  execFileSync('callgrind_control', ['-d', String(target.pid)], { stdio: 'ignore' });
  const dumps = (await readdir(outDir)).filter((f) => f.startsWith(`cg.${target.pid}.`)).sort();
  const text = await readFile(join(outDir, dumps.at(-1)!), 'utf8');
  const total = Number(/^(?:summary|totals): (\d+)/m.exec(text)?.[1]);
  const label = values.bare ? 'bare undici proxy' : `gateway ${values.ref ?? '(this checkout)'}`;
  process.stdout.write(`${label}: ${(total / requests).toFixed(0)} instructions/request (${requests} requests after ${warmup})\n`);
} finally {
  await pool.close();
  await target.stop();
  await upstream.stop();
  await rm(tmpDir, { recursive: true, force: true });
}
