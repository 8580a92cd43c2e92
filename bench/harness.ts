// What every bench scenario shares: the scenario types, the bench user, the
// gateway's config and process, child processes started (and stopped) by PID and
// the CPU time they spent.
// bench/run.ts runs the scenarios; peers.ts, scale.ts, interleaved.ts and
// cpu-ab.ts define or drive some of them.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { argon2Sync, randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BenchHttpResult } from './proxy.ts';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** A signed-in scenario can sign in as this user (written to the generated users file). */
export const BENCH_USER = 'bench';
export const BENCH_PASSWORD = 'bench-password-not-secret';
/** The sign-in benchmark's clients, one account each. */
export const BENCH_SIGN_IN_USERS = Array.from({ length: 8 }, (_, i) => `bench-signin-${i + 1}`);

export interface BenchContext {
  upstreamUrl: string;       // http://127.0.0.1:PORT of the bench upstream
  tmpDir: string;            // removed after the run
}

/** Something to send load to; `stop` is called after the measurement. */
export interface Target {
  url: string;
  headers?: Record<string, string>;
  stop(): Promise<void>;
  /** Gateway processes: their CPU time during the run gives requests per gateway CPU-second. */
  pids?: number[];
  /** A Redis the gateways use: its command count during the run gives round trips per request. */
  redisUrl?: string;
  /** Its own load instead of repeating one request (the sign-in loop). */
  load?(o: { connections: number; durationSec: number }): Promise<BenchHttpResult>;
}

export interface Scenario {
  name: string;
  /** The row the others are compared with ("vs direct"). */
  baseline?: boolean;
  /** The reference proxy ("vs nginx") or the Node floor (the bare undici proxy, "CPU × bare"). */
  peer?: 'nginx' | 'node floor' | 'node floor, workers';
  /** The row an acceptance check reads (bench/interleaved.ts). */
  acceptance?: 'one worker' | 'workers auto';
  start(ctx: BenchContext): Promise<Target>;
}

export type YamlObject = { [key: string]: unknown };

/** Signs in as BENCH_USER through the real login form; returns the session cookie. */
export async function signInCookie(gatewayUrl: string): Promise<Record<string, string>> {
  const origin = gatewayUrl.replace('127.0.0.1', 'localhost');
  const page = await fetch(`${gatewayUrl}/.gatehouse/login`, { headers: { accept: 'text/html' } });
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const pre = page.headers.getSetCookie()[0]?.split(';')[0];
  if (!csrf || !pre) throw new Error('bench sign-in: no login form');
  const res = await fetch(`${gatewayUrl}/.gatehouse/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre, origin },
    body: new URLSearchParams({ csrf, username: BENCH_USER, password: BENCH_PASSWORD, rd: '/' }).toString(),
  });
  const session = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => !c.endsWith('='));
  if (res.status !== 303 || !session) throw new Error(`bench sign-in failed: ${res.status}`);
  return { cookie: session };
}

// --- gateway config and process --------------------------------------------------

export function baseGatewayConfig(o: { port: number; upstreamUrl: string; dir: string }): YamlObject {
  return {
    server: { listen: `127.0.0.1:${o.port}`, public_url: `http://localhost:${o.port}`, log_level: 'warn' },
    routes: [{ path: '/', upstream: o.upstreamUrl }],
    identity: { source: 'file', file: { path: join(o.dir, 'users.yaml') } },
    session: { secret: randomBytes(32).toString('base64url') },
    factors: { encryption_key: randomBytes(32).toString('base64url') },
    policy: { default: 'none', rules: [] },
    rollout: { enforce_for: [] },
    store: { kind: 'sqlite', path: join(o.dir, 'gatehouse.db') },
    shared_state: { kind: 'memory' },
    notifier: { kind: 'file', path: join(o.dir, 'outbox.log') },
    audit: { path: join(o.dir, 'audit.log') },
  };
}

function isPlainObject(v: unknown): v is YamlObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Pure: objects merge key by key, anything else (arrays included) replaces. */
export function mergeConfig(base: YamlObject, overrides: YamlObject): YamlObject {
  const out: YamlObject = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeConfig(out[key] as YamlObject, value) : value;
  }
  return out;
}

/** argon2id in the PHC string format, OWASP minimum parameters (as the users file expects). */
function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = argon2Sync('argon2id', { message: password, nonce: salt, parallelism: 1, tagLength: 32, memory: 19456, passes: 2 });
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$argon2id$v=19$m=19456,t=2,p=1$${b64(salt)}$${b64(hash)}`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

const running = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

/** `node`: the command that runs a script, Node itself unless the gateway runs under valgrind (bench/instructions.ts), which slows its start. */
export async function startGateway(config: YamlObject, dir: string, port: number, root = ROOT, node = [process.execPath]): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const cli = join(root, 'src', 'cli', 'main.ts');
  if (!existsSync(cli)) throw new Error(`the gateway CLI ${cli} does not exist yet`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const hash = hashPassword(BENCH_PASSWORD);
  const users = { users: Object.fromEntries([BENCH_USER, ...BENCH_SIGN_IN_USERS].map((u) => [u, { display_name: u, email: `${u}@example.com`, password: hash, groups: ['bench'] }])) };
  await writeFile(join(dir, 'users.yaml'), stringify(users));
  const configPath = join(dir, 'gatehouse.yaml');
  await writeFile(configPath, stringify(config));
  const logPath = join(dir, 'gateway.log');
  const log = openSync(logPath, 'w');
  const [command, ...args] = [...node, cli, 'serve', '--config', configPath];
  const child = track(spawn(command, args, { cwd: root, stdio: ['ignore', log, log] }));
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const startSec = node.length === 1 ? 30 : 300;
  const deadline = Date.now() + startSec * 1000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`gateway exited with code ${child.exitCode}:\n${tail(logPath)}`);
    try {
      const res = await fetch(`${url}/.gatehouse/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`gateway not healthy within ${startSec} s:\n${tail(logPath)}`);
    }
    await sleep(100);
  }
  return { url, pid: child.pid!, stop: () => stopChild(child) };
}

/** Starts a Node script that prints {"port":N} once it listens. */
export async function spawnListening(args: string[], node = [process.execPath]): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const [command, ...rest] = [...node, ...args];
  const child = track(spawn(command, rest, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with code ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

/** The processes and all their descendants (nginx workers, cluster workers), from /proc (Linux). */
function withDescendants(pids: number[]): number[] {
  const out: number[] = [];
  const queue = [...pids];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (children !== '') queue.push(...children.split(' ').map(Number));
    } catch { /* gone */ }
  }
  return out;
}

/** User + system CPU seconds of processes and their descendants, from /proc (Linux). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of withDescendants(pids)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);   // utime, stime
    } catch { /* gone */ }
  }
  return ticks / 100;   // USER_HZ
}

/** Stops every child still running (the bench was interrupted). */
export function stopTracked(): void {
  for (const c of running) c.kill('SIGTERM');
}
