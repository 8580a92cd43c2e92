// Gateway instances as real child processes (`gatehouse serve`), sharing
// PostgreSQL and Redis like replicas behind a load balancer, and the other
// moving parts the scale-out and fail-closed tests need: a private
// redis-server, a TCP forwarder that can be cut, and a cookie-sharing client
// that sends each request to the instance it is told to.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client as UndiciClient, request, type Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { bindPort, Client, DEFAULT_USERS, PROJECT_ROOT } from '../helpers/gateway.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';

export const NODE_BIN = join(PROJECT_ROOT, 'node_modules/.bin/node');
export const MAIN = join(PROJECT_ROOT, 'src/cli/main.ts');
export const REDIS_SERVER_BIN = process.env.GATEHOUSE_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';

/**
 * The instances' public_url, as behind a load balancer. Nothing listens there:
 * the tests talk to each instance on the port it bound (port 0) and send this
 * origin with their form posts.
 */
export const LB_URL = 'http://localhost:8080';

export const SESSION_SECRET = 'scale-test-session-secret-0123456789-abcdefgh';
export const ENCRYPTION_KEY = 'scale-test-encryption-key-0123456789-abcdefgh';

/** Writes the users file every instance reads. */
export async function writeUsers(dir: string): Promise<string> {
  const users: Record<string, unknown> = {};
  for (const [id, u] of Object.entries(DEFAULT_USERS)) {
    users[id] = { display_name: id, email: `${id}@example.com`, password: await hashPassword(u.password), groups: u.groups ?? [], disabled: u.disabled ?? false };
  }
  const path = join(dir, 'users.yaml');
  writeFileSync(path, stringify({ users }));
  return path;
}

export function randomPrefix(): string {
  return `gh_test_${randomBytes(6).toString('hex')}:`;
}

/** Shared by every instance, as the config loader requires with postgres and redis. */
export const AUDIT_KEY = 'scale-test-audit-key-0123456789-abcdefgh';

/**
 * One instance's config: its own listen port, audit and outbox; everything else shared.
 * Without postgresUrl and redisUrl: the embedded defaults (SQLite in `dir`, memory shared state).
 */
export function writeInstanceConfig(dir: string, name: string, o: {
  port: number; publicUrl: string; usersPath: string; upstream: string; postgresUrl?: string; redisUrl?: string; redisPrefix?: string;
  policy: Record<string, unknown>; trustedProxies?: string[];
  /** server.workers, and a long keep_alive_timeout so a test's pinned connections stay open. */
  workers?: number;
}): string {
  const workers = o.workers === undefined ? {} : { workers: o.workers, keep_alive_timeout: '10m' };
  const config = {
    server: { listen: `127.0.0.1:${o.port}`, public_url: o.publicUrl, log_level: 'info', trusted_proxies: o.trustedProxies ?? [], instance_id: name, ...workers },
    routes: [{ path: '/', upstream: o.upstream }],
    identity: { source: 'file', file: { path: o.usersPath } },
    session: { secret: SESSION_SECRET },
    factors: { encryption_key: ENCRYPTION_KEY },
    policy: o.policy,
    store: o.postgresUrl ? { kind: 'postgres', url: o.postgresUrl } : { kind: 'sqlite', path: join(dir, `${name}.db`) },
    shared_state: o.redisUrl ? { kind: 'redis', url: o.redisUrl, prefix: o.redisPrefix } : { kind: 'memory' },
    notifier: { kind: 'file', path: join(dir, `${name}-outbox.log`) },
    audit: { path: join(dir, `${name}-audit.log`), key: AUDIT_KEY },
  };
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify(config));
  return path;
}

export interface Instance {
  name: string;
  port: number;
  url: string;
  /** The process started (with server.workers above 1, the primary). */
  pid: number;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `gatehouse serve --config FILE` and waits until /.gatehouse/readyz
 * answers 200. Port 0 (a config listening on port 0): the port is read from the
 * instance's "gatehouse listening" log line.
 */
export async function startInstance(name: string, configPath: string, port: number): Promise<Instance> {
  const child: ChildProcess = spawn(NODE_BIN, [MAIN, 'serve', '--config', configPath], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout!.on('data', (c) => {
    text += String(c);
    const lines = (partial + String(c)).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l) try { logs.push(JSON.parse(l)); } catch { /* not JSON */ }
  });
  child.stderr!.on('data', (c) => { text += String(c); });
  const inst: Instance = {
    name, port, url: `http://localhost:${port}`, pid: child.pid!, logs, output: () => text,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    }),
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance ${name} exited with ${child.exitCode}:\n${text}`);
    if (inst.port === 0) {
      const bound = logs.find((l) => l.msg === 'gatehouse listening')?.port;
      if (typeof bound === 'number') Object.assign(inst, { port: bound, url: `http://localhost:${bound}` });
    }
    if (inst.port !== 0 && (await readyz(inst.port)) === 200) return inst;
    if (Date.now() > deadline) {
      await inst.stop();
      throw new Error(`instance ${name} not ready after 30 s:\n${text}`);
    }
    await sleep(100);
  }
}

/** Runs `gatehouse ARGS` to its end (a start that must fail), with environment variables set or (undefined) removed: exit code and output. */
export function runToExit(args: string[], envOverride: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...envOverride })) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_BIN, [MAIN, ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c) => { output += String(c); });
    child.stderr!.on('data', (c) => { output += String(c); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`gatehouse ${args.join(' ')} still running after ${timeoutMs} ms:\n${output}`)); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

export async function readyz(port: number): Promise<number> {
  try {
    const r = await request(`http://127.0.0.1:${port}/.gatehouse/readyz`, { headersTimeout: 5000, bodyTimeout: 5000 });
    await r.body.text();
    return r.statusCode;
  } catch {
    return 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `probe` returns true (or throws after `timeoutMs`). */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * A browser that sends each request to the instance named, with one cookie jar,
 * as a load balancer without sticky sessions would. Forms carry the public
 * origin (what a browser on the load balancer's address sends).
 */
/** Where a Browser sends requests by name: an instance, or one worker through a connection pinned to it. */
export interface Target { name: string; url: string; dispatcher?: Dispatcher }

export class Browser {
  readonly publicOrigin: string;
  readonly clients: Record<string, Client>;
  constructor(publicOrigin: string, targets: Target[]) {
    this.publicOrigin = publicOrigin;
    this.clients = {};
    const jar = new Map<string, string>();
    for (const i of targets) {
      const c = new Client(i.url);
      c.cookies = jar;
      if (i.dispatcher) c.dispatcher = i.dispatcher;
      this.clients[i.name] = c;
    }
  }
  on(name: string): Client {
    const c = this.clients[name];
    if (!c) throw new Error(`no instance ${name}`);
    return c;
  }
  get(name: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.on(name).fetch(path, { headers });
  }
  post(name: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.on(name).postForm(path, fields, { origin: this.publicOrigin, ...headers });
  }
  async csrf(name: string, path: string): Promise<string> {
    return this.on(name).csrf(path);
  }
  async signIn(name: string, user: string, password: string, rd = '/'): Promise<Response> {
    const csrf = await this.csrf(name, `/.gatehouse/login?rd=${encodeURIComponent(rd)}`);
    return this.post(name, '/.gatehouse/login', { csrf, username: user, password, rd });
  }
  cookieHeader(): string {
    return this.on(Object.keys(this.clients)[0]).cookieHeader();
  }
}

/** Deletes every key under a prefix (test clean-up). */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export function haveBinary(path: string): boolean {
  try { accessSync(path, constants.X_OK); return true; } catch { return false; }
}

/**
 * A redis-server of the test's own (the machine's shared one must not be stopped).
 * Redis cannot listen on port 0, so it listens on a unix socket in `dir` and the
 * TCP port is a forwarder's (bound on port 0); while Redis is stopped the
 * forwarder is cut too, so connections are refused as by a stopped Redis.
 */
export interface PrivateRedis { port: number; url: string; start(): Promise<void>; stop(): Promise<void> }

export async function privateRedis(dir: string): Promise<PrivateRedis> {
  const path = join(dir, `redis-${randomBytes(4).toString('hex')}.sock`);
  const link = await tcpForwarder({ path });
  let child: ChildProcess | undefined;
  let out = '';
  const self: PrivateRedis = {
    port: link.port,
    url: `redis://127.0.0.1:${link.port}`,
    async start() {
      child = spawn(REDIS_SERVER_BIN, ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (c) => { out += String(c); });
      child.stderr!.on('data', (c) => { out += String(c); });
      await waitFor(`redis-server on ${path}\n${out}`, () => socketOpen({ path }), 10_000);
      await link.restore();
    },
    async stop() {
      await link.cut();
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGKILL'); });
    },
  };
  await self.start();
  return self;
}

export function tcpOpen(port: number): Promise<boolean> {
  return socketOpen({ host: '127.0.0.1', port });
}

function socketOpen(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(target);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

/**
 * A TCP forwarder in front of a server (a TCP port or a unix socket), to cut
 * (refuse new, reset open connections) and restore. It binds port 0; restoring
 * after a cut binds the same port again (refusing connections needs no listener).
 */
export interface Cuttable { port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }

export async function tcpForwarder(target: { host: string; port: number } | { path: string }): Promise<Cuttable> {
  const open = new Set<Socket>();
  const onConnection = (client: Socket) => {
    const upstream = connect(target);
    open.add(client);
    open.add(upstream);
    const end = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server: Server | undefined = (await bindPort()).server.on('connection', onConnection);
  const { port } = server.address() as { port: number };
  const listen = () => new Promise<void>((resolve, reject) => {
    if (server) return resolve();
    const s = createServer(onConnection);
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => { server = s; resolve(); });
  });
  const cut = async () => {
    const s = server;
    server = undefined;
    // A reset where the socket is TCP; a unix socket (a private Redis's) has none and is just closed.
    for (const sock of open) if (sock.remoteFamily) sock.resetAndDestroy(); else sock.destroy();
    open.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  return { port, cut, restore: listen, close: cut };
}

/**
 * Connections pinned to different workers of one instance. The kernel (or the
 * cluster primary) spreads new connections over the workers, so this opens
 * single-connection clients until `count` of them reached different workers,
 * telling them apart by the X-Request-Id the upstream got (`probe` is a path
 * the upstream echoes as JSON `{ headers }`): a request id starts with a random
 * prefix of the process that made it. Surplus clients are closed. Each pinned
 * client counts its connects: more than one means it may have moved to another
 * worker, and the test must check it stayed at one.
 */
export interface PinnedWorker { name: string; url: string; dispatcher: UndiciClient; processId: string; connects(): number }

export async function pinWorkers(inst: Instance, names: string[], probe: string, tries = 40): Promise<PinnedWorker[]> {
  const found = new Map<string, PinnedWorker>();
  for (let i = 0; i < tries && found.size < names.length; i++) {
    const client = new UndiciClient(`http://127.0.0.1:${inst.port}`, { pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000 });
    let connects = 0;
    client.on('connect', () => { connects++; });
    const r = await client.request({ path: probe, method: 'GET', headers: { host: new URL(inst.url).host, accept: 'application/json' } });
    const body = (await r.body.json()) as { headers?: Record<string, string> };
    const processId = /^(.+)-[0-9a-z]+$/.exec(body.headers?.['x-request-id'] ?? '')?.[1];
    if (r.statusCode !== 200 || processId === undefined) throw new Error(`probe ${probe} answered ${r.statusCode} without a request id: ${JSON.stringify(body)}`);
    if (found.has(processId)) { await client.close(); continue; }
    found.set(processId, { name: names[found.size], url: inst.url, dispatcher: client, processId, connects: () => connects });
  }
  if (found.size < names.length) throw new Error(`only ${found.size} distinct workers reached in ${tries} connections`);
  return [...found.values()];
}
