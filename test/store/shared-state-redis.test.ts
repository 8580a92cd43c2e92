import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { createRedisSharedState, SharedStateUnavailableError } from '../../src/store/redis-shared-state.ts';
import { openSharedState } from '../../src/store/open-shared-state.ts';
import { requireRedis, REDIS_URL } from '../helpers/services.ts';
import { eventually, sharedStateConformance } from './shared-state-conformance.ts';

const runId = randomBytes(6).toString('hex');
const prefixOf = (name: string) => `gh-test:${runId}:${name}:`;

/** Deletes every key this run wrote, whatever the test outcome. */
async function deleteRunKeys(): Promise<void> {
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    for await (const batch of raw.scanStream({ match: `gh-test:${runId}:*`, count: 500 })) keys.push(...(batch as string[]));
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await t.test('fails fast when Redis is not there', async (t) => {
  const port = await closedPort();
  const s = createRedisSharedState(`redis://127.0.0.1:${port}`, prefixOf('down'));
  t.teardown(() => s.close());
  const ops: [string, () => Promise<unknown>][] = [
    ['get', () => s.get('k')],
    ['setIfAbsent', () => s.setIfAbsent('k', 'v', 1000)],
    ['ping', () => s.ping()],
    ['subscribe', () => s.subscribe('c', () => {})],
  ];
  for (const [name, op] of ops) {
    const started = Date.now();
    await t.rejects(op(), SharedStateUnavailableError, `${name} rejects`);
    const took = Date.now() - started;
    t.ok(took < 2500, `${name} rejected within ${took} ms, not hanging`);
  }
});

await t.test('against a real Redis', async (t) => {
  if (!(await requireRedis(t))) return t.plan(0, 'Redis not reachable (see above)');
  t.teardown(deleteRunKeys);

  await t.test('conformance', (t) => sharedStateConformance(t, () => createRedisSharedState(REDIS_URL, prefixOf('conf'))));

  await t.test('keys and channels carry the prefix', async (t) => {
    const prefix = prefixOf('ns');
    const s = createRedisSharedState(REDIS_URL, prefix);
    const raw = new Redis(REDIS_URL);
    t.teardown(async () => { await s.close(); raw.disconnect(); });
    await s.set('k', 'v', 10_000);
    t.equal(await raw.get(`${prefix}k`), 'v', 'stored under prefix + key');
    t.equal(await raw.get('k'), null, 'not under the bare key');
    const got: string[] = [];
    await s.subscribe('chan', (m) => got.push(m));
    await raw.publish(`${prefix}chan`, 'hello');
    t.ok(await eventually(() => got.length === 1), 'subscribed to prefix + channel');
  });

  await t.test('two prefixes do not see each other', async (t) => {
    const a = createRedisSharedState(REDIS_URL, prefixOf('iso-a'));
    const b = createRedisSharedState(REDIS_URL, prefixOf('iso-b'));
    t.teardown(async () => { await a.close(); await b.close(); });
    await a.set('k', 'from-a', 10_000);
    t.equal(await b.get('k'), null, "b does not read a's key");
    t.equal(await b.setIfAbsent('k', 'from-b', 10_000), true, "b's setIfAbsent is not blocked by a's key");
    t.equal(await b.take('k'), 'from-b');
    t.equal(await a.get('k'), 'from-a', "b's take left a's key alone");
    t.equal(await a.incr('n', 10_000), 1);
    t.equal(await b.incr('n', 10_000), 1, 'counters are separate');
    const heardByB: string[] = [];
    await b.subscribe('revocations', (m) => heardByB.push(m));
    await a.publish('revocations', 'sess-a');
    await sleep(100);
    t.same(heardByB, [], "b does not hear a's channel");
  });

  await t.test('publish fans out across instances (revocations reach every gateway)', async (t) => {
    const prefix = prefixOf('fan');
    const gw1 = createRedisSharedState(REDIS_URL, prefix);
    const gw2 = createRedisSharedState(REDIS_URL, prefix);
    t.teardown(async () => { await gw1.close(); await gw2.close(); });
    const heard1: string[] = [];
    const heard2: string[] = [];
    await gw1.subscribe('revocations', (m) => heard1.push(m));
    await gw2.subscribe('revocations', (m) => heard2.push(m));
    await gw1.publish('revocations', 'sess-1');
    await gw2.publish('revocations', 'sess-2');
    t.ok(await eventually(() => heard1.length === 2 && heard2.length === 2), 'both instances heard both messages');
    t.same(heard1, ['sess-1', 'sess-2'], 'gateway 1 heard its own and the other one');
    t.same(heard2, ['sess-1', 'sess-2'], 'gateway 2 likewise');
    await gw1.set('shared', 'x', 10_000);
    t.equal(await gw2.take('shared'), 'x', 'state written on one instance is taken on the other');
    t.equal(await gw1.take('shared'), null, 'once');
  });

  await t.test('openSharedState builds a Redis one from config', async (t) => {
    const s = openSharedState({ kind: 'redis', url: REDIS_URL, prefix: prefixOf('open') });
    t.teardown(() => s.close());
    await s.set('k', 'v', 10_000);
    t.equal(await s.get('k'), 'v');
  });

  await t.test('fails fast while Redis is down, recovers when it returns', async (t) => {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('redis-server binary not found (CI=true: this test must run)');
      process.stderr.write('\n!! SKIPPING redis restart test: redis-server binary not found\n');
      return t.plan(0, 'redis-server binary not found');
    }
    const port = await closedPort();
    const start = async (): Promise<ChildProcess> => {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      const up = await eventually(() => child.exitCode === null, 10);
      for (let i = 0; up && i < 100; i++) {
        try {
          await probe.connect();
          await probe.ping();
          break;
        } catch {
          probe.disconnect();
          await sleep(50);
        }
      }
      probe.disconnect();
      return child;
    };
    const stop = (child: ChildProcess) => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

    let server = await start();
    const s = createRedisSharedState(`redis://127.0.0.1:${port}`, prefixOf('restart'));
    t.teardown(async () => { await s.close(); await stop(server); });
    await s.set('k', 'before', 60_000);
    t.equal(await s.get('k'), 'before', 'works while Redis is up');

    await stop(server);
    const started = Date.now();
    await t.rejects(s.get('k'), 'a command while Redis is down is rejected');
    t.ok(Date.now() - started < 2500, `within ${Date.now() - started} ms`);
    await t.rejects(s.ping(), 'ping (readiness) fails too');

    server = await start();
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      recovered = await s.ping().then(() => true, () => false);
      if (!recovered) await sleep(100);
    }
    t.ok(recovered, 'the client reconnected by itself when Redis came back');
    await s.set('k', 'after', 60_000);
    t.equal(await s.get('k'), 'after', 'and commands work again');
  });
});
