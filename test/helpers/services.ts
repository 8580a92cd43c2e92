// Real backing services for tests (PostgreSQL, Redis). A test that needs one
// asks `requirePostgres(t)` / `requireRedis(t)` first: under CI=true an absent
// service is a failure (CI must run every test); on a developer machine the
// helper explains loudly why and returns false so the test can t.skip.
//
//   if (!(await requirePostgres(t))) t.plan(0, 'PostgreSQL not reachable (reason printed above)');
//   else { t.test(...); ... }

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';

export const POSTGRES_URL: string = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL: string = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// Roomy: a loaded CI machine can take seconds to accept or answer; a service
// that is down still fails at once (ECONNREFUSED).
const PROBE_TIMEOUT_MS = 10_000;

/** The parts of a tap Test these helpers use. */
export interface ServiceTest {
  comment(...message: unknown[]): unknown;
  teardown(fn: () => unknown): unknown;
}

export async function requirePostgres(t: ServiceTest): Promise<boolean> {
  return require_(t, 'PostgreSQL', 'GATEHOUSE_TEST_POSTGRES_URL', POSTGRES_URL, (postgresProbe ??= probePostgres(POSTGRES_URL)));
}

export async function requireRedis(t: ServiceTest): Promise<boolean> {
  return require_(t, 'Redis', 'GATEHOUSE_TEST_REDIS_URL', REDIS_URL, (redisProbe ??= probeRedis(REDIS_URL)));
}

/**
 * Creates a fresh schema `gh_test_<random>` in the test database, drops it
 * (with everything in it) when `t` ends, and returns POSTGRES_URL with that
 * schema as the search_path, so every connection made from the URL lands there.
 */
export async function createPostgresSchema(t: ServiceTest): Promise<string> {
  const schema = `gh_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await c.end();
    }
  });
  return withSearchPath(POSTGRES_URL, schema);
}

/** The same URL with `options=-c search_path=<schema>` (kept alongside any options it already had). */
export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  const existing = u.searchParams.get('options');
  u.searchParams.set('options', `${existing ? `${existing} ` : ''}-c search_path=${schema}`);
  return u.toString();
}

let postgresProbe: Promise<string | undefined> | undefined;
let redisProbe: Promise<string | undefined> | undefined;

async function require_(t: ServiceTest, name: string, envVar: string, url: string, probe: Promise<string | undefined>): Promise<boolean> {
  const problem = await probe;
  if (problem === undefined) return true;
  const reason = `${name} is not reachable at ${redactPassword(url)}: ${problem}. Start it, or point ${envVar} at one.`;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: service-backed tests must run in CI)`);
  const banner = `\n${'!'.repeat(78)}\n!! SKIPPING ${name}-backed tests: ${reason}\n${'!'.repeat(78)}\n`;
  process.stderr.write(banner);
  t.comment(banner);
  return false;
}

/** undefined when reachable, else what went wrong. */
async function probePostgres(url: string): Promise<string | undefined> {
  const tcp = await probeTcp(url, 5432);
  if (tcp) return tcp;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query('SELECT 1 AS ok');
    return rows[0]?.ok === 1 ? undefined : `SELECT 1 answered ${JSON.stringify(rows)}`;
  } catch (err) {
    return `query failed: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(url: string): Promise<string | undefined> {
  const tcp = await probeTcp(url, 6379);
  if (tcp) return tcp;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const pong = await client.ping();
    return pong === 'PONG' ? undefined : `PING answered ${JSON.stringify(pong)}`;
  } catch (err) {
    return `PING failed: ${(err as Error).message}`;
  } finally {
    client.disconnect();
  }
}

function probeTcp(url: string, defaultPort: number): Promise<string | undefined> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    const done = (problem: string | undefined) => { socket.destroy(); resolve(problem); };
    socket.once('connect', () => done(undefined));
    socket.once('timeout', () => done(`TCP connect to ${host}:${port} timed out after ${PROBE_TIMEOUT_MS} ms`));
    socket.once('error', (err) => done(`TCP connect to ${host}:${port} failed: ${err.message}`));
  });
}

function redactPassword(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
