// Starts a real gateway (and, unless told otherwise, the real demo portal as
// its upstream) on loopback ports with a config written to a temp dir.

import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createServer, type Server as NetServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { request, type Dispatcher } from 'undici';
import { startGateway, PROJECT_ROOT, type RunningGateway } from '../../src/app.ts';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { hashPassword, type HashParams } from '../../src/identity/password-hash.ts';

export interface TestUser { password: string; email?: string; groups?: string[]; disabled?: boolean; display_name?: string }

export interface GatewayFixture {
  gw: RunningGateway;
  url: string;                 // http://localhost:PORT (public origin)
  port: number;
  dir: string;                 // temp dir holding config, users, db, audit
  configPath: string;
  usersPath: string;
  portal?: Awaited<ReturnType<typeof startDemoPortal>>;
  logs: Record<string, unknown>[];
  /** The gateway's clock: move it forward instead of sleeping. */
  clock: TestClock;
  close(): Promise<void>;
}

/**
 * A clock a test moves forward: real time plus the jumps made so far. Time
 * keeps flowing (iron-session seals and Redis TTLs follow the real clock), and
 * `advance` jumps expiry, freshness, TOTP windows and throttles at once.
 */
export class TestClock {
  #offset = 0;
  #held: number | undefined;
  readonly now = (): number => this.#held ?? Date.now() + this.#offset;
  advance(ms: number): void {
    this.#offset += ms;
    if (this.#held !== undefined) this.#held += ms;
  }
  /** Stop the gateway's clock (a burst on a loaded machine must not outlast a 1 s wait); `release` lets it flow again. */
  hold(): void { this.#held = this.now(); }
  release(): void { this.#held = undefined; }
}

/** audit.key of every test gateway (`gatehouse audit verify` needs it). */
export const TEST_AUDIT_KEY = 'test-audit-key-0123456789-abcdefghijklmnop';

/**
 * argon2 parameters of the test users' hashes: cheap, since every sign-in verifies
 * one and the tests are not about argon2's cost (the gateway reads the parameters
 * from each hash). A test about sign-in timing passes DEFAULT_HASH_PARAMS.
 */
export const TEST_HASH_PARAMS: Partial<HashParams> = { memory: 1024, passes: 1 };

const hashCache = new Map<string, string>();
async function cachedHash(pw: string, params: Partial<HashParams>): Promise<string> {
  const key = `${JSON.stringify(params)}\n${pw}`;
  let h = hashCache.get(key);
  if (!h) { h = await hashPassword(pw, params); hashCache.set(key, h); }
  return h;
}

export const DEFAULT_USERS: Record<string, TestUser> = {
  alice: { password: 'alice-test-pass', groups: ['admins', 'finance'] },
  bob: { password: 'bob-test-pass', groups: ['staff'] },
  dave: { password: 'dave-test-pass', groups: ['staff'], disabled: true },
};

/**
 * `config` is merged over a minimal test config (routes default to the demo
 * portal; policy default login). `upstream: false` skips the demo portal.
 */
export async function startTestGateway(opts: {
  config?: Record<string, unknown>;
  users?: Record<string, TestUser>;
  upstream?: boolean;
  /** A socket from bindPort() when the port must be known before the gateway starts. */
  socket?: BoundPort;
  clock?: TestClock;
  hashParams?: Partial<HashParams>;
} = {}): Promise<GatewayFixture> {
  const clock = opts.clock ?? new TestClock();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const portal = opts.upstream === false ? undefined : await startDemoPortal({ port: 0, host: '127.0.0.1' });
  const users: Record<string, unknown> = {};
  for (const [id, u] of Object.entries(opts.users ?? DEFAULT_USERS)) {
    users[id] = {
      display_name: u.display_name ?? id,
      email: u.email ?? `${id}@example.com`,
      password: await cachedHash(u.password, opts.hashParams ?? TEST_HASH_PARAMS),
      groups: u.groups ?? [],
      disabled: u.disabled ?? false,
    };
  }
  const usersPath = join(dir, 'users.yaml');
  writeFileSync(usersPath, stringify({ users }));
  // The port is bound before the config is written, so public_url (and WebAuthn's origin) names it exactly.
  const socket = opts.socket ?? (await bindPort());
  const port = socket.port;
  const base = {
    server: { listen: `127.0.0.1:${port}`, public_url: `http://localhost:${port}`, log_level: 'info' },
    routes: [{ path: '/', upstream: portal ? `http://127.0.0.1:${portal.port}` : `http://127.0.0.1:${CLOSED_PORT}` }],
    identity: { source: 'file', file: { path: usersPath } },
    session: { secret: 'test-session-secret-0123456789-abcdefghijklmnop' },
    factors: { encryption_key: 'test-encryption-key-0123456789-abcdefghijklmnop' },
    policy: { default: 'login', rules: [] },
    store: { kind: 'sqlite', path: join(dir, 'gatehouse.db') },
    notifier: { kind: 'file', path: join(dir, 'outbox.log') },
    audit: { path: join(dir, 'audit.log'), key: TEST_AUDIT_KEY },
  };
  const config = deepMerge(base, opts.config ?? {});
  const configPath = join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, stringify(config));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) try { logs.push(JSON.parse(line)); } catch { /* partial */ }
      cb();
    },
  });
  const gw = await startGateway({ configPath, watch: false, logDestination: sink, now: clock.now, listen: socket.server });
  return {
    gw, url: `http://localhost:${gw.port}`, port: gw.port, dir, configPath, usersPath, portal, clock,
    // Request lines are batched by the gateway; reading the logs writes out what is pending.
    get logs() {
      gw.services.requestLog.flush();
      return logs;
    },
    async close() {
      await gw.close();
      await portal?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The port a `gatehouse serve` child bound (its config listening on port 0),
 * read from its "gatehouse listening" log line (log_level info or lower).
 */
export function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onOut = (d: Buffer) => {
      out += String(d);
      const m = /"port":(\d+)[^\n]*"msg":"gatehouse listening"/.exec(out);
      if (m) { child.stdout!.off('data', onOut); child.stdout!.resume(); resolve(Number(m[1])); }
    };
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before listening: ${err}${out}`)));
  });
}

/**
 * The port for a daemon that can neither listen on port 0 and say which port it
 * got nor take over a bound socket (nginx, Caddy, a Redis that must come back
 * on its port). The one place a port is chosen for another process: the OS
 * picks a free one, and a daemon that then fails to bind it fails its start
 * loudly. Servers of the tests' own use bindPort().
 */
export function portForDaemon(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A loopback port nothing listens on (privileged, bound by no test): connections to it are refused. */
export const CLOSED_PORT = 9;

/** A listening socket on a port the OS chose, kept bound until a server takes it over (never released in between). */
export interface BoundPort { port: number; server: NetServer }

export function bindPort(host = '127.0.0.1'): Promise<BoundPort> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve({ port: (server.address() as { port: number }).port, server }));
  });
}

export function deepMerge<T>(base: T, over: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    // Objects merge, except a section switching its `kind` (store, notifier…), which replaces.
    const switchesKind = v && typeof v === 'object' && 'kind' in v && b && typeof b === 'object' && (b as { kind?: unknown }).kind !== (v as { kind?: unknown }).kind;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) && !switchesKind
      ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out as T;
}

/** A cookie-keeping HTTP client for the gateway's pages (no browser). */
export class Client {
  readonly base: string;
  cookies = new Map<string, string>();
  /** The Origin of its form posts: the gateway's public_url, which may name another port than `base`. */
  readonly origin: string;
  /** The connection pool its requests use (default undici's global one): one pinned connection reaches one worker. */
  dispatcher?: Dispatcher;
  constructor(base: string, origin = base) { this.base = base; this.origin = origin; }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(path: string, init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {}): Promise<Response> {
    // undici.request, not fetch: fetch forces Sec-Fetch-Mode: cors, and a browser navigation is what is simulated here.
    const headers: Record<string, string> = { accept: 'text/html', 'sec-fetch-mode': 'navigate', ...(init.headers ?? {}) };
    if (this.cookies.size && !headers.cookie) headers.cookie = this.cookieHeader();
    const r = await request(this.base + path, {
      method: (init.method ?? 'GET') as 'GET',
      headers,
      body: init.body as string | Buffer | undefined,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const resHeaders = new Headers();
    for (const [k, v] of Object.entries(r.headers)) {
      for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) resHeaders.append(k, one);
    }
    const bytes = Buffer.from(await r.body.arrayBuffer());
    const res = new Response(r.statusCode === 204 || r.statusCode === 304 ? null : bytes, { status: r.statusCode, headers: resHeaders });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attrs.some((a) => /max-age=0\b/i.test(a.trim())) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** GET a page and return the CSRF token in it. */
  async csrf(path: string): Promise<string> {
    const html = await (await this.fetch(path)).text();
    const m = /name="csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error(`no csrf token on ${path}`);
    return m[1];
  }

  async postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin, ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  async signIn(username: string, password: string, rd = '/'): Promise<Response> {
    const csrf = await this.csrf(`/.gatehouse/login?rd=${encodeURIComponent(rd)}`);
    return this.postForm('/.gatehouse/login', { csrf, username, password, rd });
  }
}

export function readAudit(f: GatewayFixture): Record<string, unknown>[] {
  try {
    return readFileSync(join(f.dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

export { PROJECT_ROOT };
