// The sign-in benchmark: completed password sign-ins per second through the
// real login form (GET the form, POST it, a 303 with a session counts), from
// `connections` concurrent clients. Each sign-in's audit line is written and
// fdatasync'ed before its answer (group commit), so this is where that cost
// would show. `--signin-baseline REF` runs the same load against the gateway
// as it was at REF (extracted with git archive; by default the commit before
// group commit, when sign-in audit lines were batched after the answer), in
// the same run, so the table compares the two builds side by side.

import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { percentile, type BenchHttpResult } from './proxy.ts';

/** main before the audit log waited for the disk. */
export const DEFAULT_SIGNIN_BASELINE = '4bcda88';

export interface SignInLoadOptions {
  url: string;              // the gateway origin
  /** Client i signs in as users[i % users.length]: one account per client, as people sign in (the throttle limits concurrent attempts per account). */
  users: string[];
  password: string;
  connections: number;
  durationSec: number;
}

/** Runs the sign-in loop for `durationSec`; latency is that of the POST. */
export async function signInLoad(o: SignInLoadOptions): Promise<BenchHttpResult> {
  const dispatcher = new Agent({ connections: o.connections * 2 });
  const origin = o.url.replace('127.0.0.1', 'localhost');
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const started = performance.now();
  const end = started + o.durationSec * 1000;
  async function worker(n: number): Promise<void> {
    const user = o.users[n % o.users.length];
    while (performance.now() < end) {
      try {
        const page = await request(`${o.url}/.gatehouse/login`, { dispatcher, headers: { accept: 'text/html' } });
        const html = await page.body.text();
        const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
        const setCookie = page.headers['set-cookie'];
        const pre = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0];
        if (!csrf || !pre) { non2xx += 1; continue; }
        const t0 = performance.now();
        const res = await request(`${o.url}/.gatehouse/login`, {
          dispatcher, method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre, origin, accept: 'text/html' },
          body: new URLSearchParams({ csrf, username: user, password: o.password, rd: '/' }).toString(),
        });
        await res.body.dump();
        if (res.statusCode === 303) latencies.push(performance.now() - t0);
        else non2xx += 1;
      } catch {
        errors += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: o.connections }, (_, n) => worker(n)));
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, non2xx, requests: latencies.length, tool: 'signin-loop' };
}

/** The gateway's source at `ref`, extracted next to this run's files, sharing this checkout's node_modules. */
export function extractBuild(projectRoot: string, ref: string, into: string): string {
  mkdirSync(into, { recursive: true });
  const tar = execFileSync('git', ['-C', projectRoot, 'archive', '--format=tar', ref, 'src', 'views', 'package.json'], { maxBuffer: 256 << 20 });
  execFileSync('tar', ['-x', '-C', into], { input: tar });
  symlinkSync(join(projectRoot, 'node_modules'), join(into, 'node_modules'));
  return into;
}
