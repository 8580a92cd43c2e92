// CPU per request of the gateway (signed-in session, one worker) beside the bare
// undici proxy and the gateway built at another commit, in interleaved short
// rounds (README "Performance": CPU per request ≤ 1.2× the bare undici proxy's).
// Process CPU time (/proc, user + system) per completed request is what a loaded
// machine skews least; each round measures every target once, in turn, so drift
// hits all of them alike, and the medians over rounds are printed.
//
// Run: node bench/cpu-ab.ts [--ref main] [--rounds 7] [--duration 3] [--connections 50]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// run.ts first: it and peers.ts import each other, and run.ts's scenario list needs peers.ts evaluated.
import { gatewayScenario } from './run.ts';
import { ROOT, signInCookie, spawnListening, type BenchContext, type Target } from './harness.ts';
import { interleave, median, sameClientRequest } from './interleaved.ts';
import { bareProxyScenario } from './peers.ts';
import { extractBuild } from './signin.ts';

const { values } = parseArgs({
  options: {
    ref: { type: 'string', default: 'main' },
    rounds: { type: 'string', default: '7' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const durationSec = Math.max(1, Number(values.duration));
const connections = Math.max(1, Number(values.connections));

const tmpDir = await mkdtemp(join(tmpdir(), 'gatehouse-cpu-ab-'));
const upstream = await spawnListening([join(ROOT, 'bench', 'upstream.ts'), '--port', '0']);
const ctx: BenchContext = { upstreamUrl: `http://127.0.0.1:${upstream.port}`, tmpDir };
const signedIn = { config: { policy: { default: 'login' } }, prepare: signInCookie };
const scenarios = [
  bareProxyScenario,
  gatewayScenario(`gateway @${values.ref}`, { ...signedIn, root: (c) => extractBuild(ROOT, values.ref!, join(c.tmpDir, 'build-ref')) }),
  gatewayScenario('gateway (this checkout)', signedIn),
];
const names = ['bare undici proxy', `gateway @${values.ref}`, 'gateway (this checkout)'];
const targets: Target[] = [];
try {
  for (const s of scenarios) targets.push(await s.start(ctx));
  sameClientRequest(targets, [true, false, false]);
  const samples = await interleave(targets, {
    // 10 s: the gateway's code reaches its steady speed only after 6–8 s of load (README, Performance).
    rounds, durationSec, connections, warmupSec: 10,
    onRound: (r, round) => process.stderr.write(`round ${r}: ${round.map((s) => s.cpuUsPerReq?.toFixed(1)).join(' / ')} µs/req\n`),
  });
  const perReq = samples.map((p) => p.map((s) => s.cpuUsPerReq ?? NaN));
  const bare = perReq[0];
  process.stdout.write(`${'target'.padEnd(28)} ${'median µs/req'.padStart(14)} ${'median ×bare'.padStart(13)}\n`);
  perReq.forEach((p, i) => {
    const ratios = p.map((v, r) => v / bare[r]);
    process.stdout.write(`${names[i].padEnd(28)} ${median(p).toFixed(1).padStart(14)} ${median(ratios).toFixed(3).padStart(13)}\n`);
  });
  const ab = perReq[2].map((v, r) => v / perReq[1][r]);
  process.stdout.write(`this checkout / @${values.ref}: median ${median(ab).toFixed(3)} (rounds: ${ab.map((x) => x.toFixed(2)).join(' ')})\n`);
} finally {
  for (const t of targets) await t.stop();
  await upstream.stop();
  await rm(tmpDir, { recursive: true, force: true });
}
