// SharedState on Redis, for several gateway instances behind a load balancer.
// Every key and channel carries the prefix, so several deployments can share a
// Redis. It fails closed and fast: a command against a Redis that is down is
// rejected at once (no offline queue), never parked until it returns, while
// the client keeps reconnecting in the background and recovers by itself.

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { RESYNC_MESSAGE, attemptCounterKey, attemptLockKey, checkTtl, deliver, type SharedState } from './shared-state.ts';

/** How long the first command waits for the initial connection before giving up. */
const CONNECT_WAIT_MS = 2000;
/** A Redis that accepts a command but never answers is as bad as one that is down. */
const COMMAND_TIMEOUT_MS = 2000;

// INCR and the TTL in one atomic step: a counter created without a TTL (crash
// between two commands) would lock a user out forever.
const INCR_WITH_TTL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`;

// reserveAttempt: check every lock, then count on every slot and set the lock
// the attempt earns, in one script (one round trip, nothing in between). The
// wait formula mirrors attemptWait() in shared-state.ts.
// KEYS: counter, lock per slot. ARGV: per slot free, maxWait, hardAt, hardWait, counterTtl.
const RESERVE_ATTEMPT = `
local slots = #KEYS / 2
local wait = 0
for i = 1, slots do
  local t = redis.call('PTTL', KEYS[2 * i])
  if t > wait then wait = t end
end
if wait > 0 then return {0, wait} end
local out = {1}
for i = 1, slots do
  local counter, lock, a = KEYS[2 * i - 1], KEYS[2 * i], 5 * (i - 1)
  local free, maxWait = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local hardAt, hardWait = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local n = redis.call('INCR', counter)
  if n == 1 or redis.call('PTTL', counter) == -1 then redis.call('PEXPIRE', counter, ARGV[a + 5]) end
  local w = 0
  if hardAt > 0 and n >= hardAt then w = hardWait
  elseif n > free then w = math.min(maxWait, 1000 * 2 ^ math.min(20, n - free - 1)) end
  if w > 0 then redis.call('SET', lock, n, 'PX', string.format('%d', w)) end
  out[#out + 1] = n
end
return out`;

// releaseAttempt. KEYS: counter, lock per slot. ARGV: per slot attempt number, clear (1/0).
const RELEASE_ATTEMPT = `
for i = 1, #KEYS / 2 do
  local counter, lock = KEYS[2 * i - 1], KEYS[2 * i]
  if ARGV[2 * i] == '1' then
    redis.call('DEL', counter, lock)
  else
    local n = tonumber(redis.call('GET', counter) or '0')
    if n > 1 then redis.call('DECR', counter) else redis.call('DEL', counter) end
    if redis.call('GET', lock) == ARGV[2 * i - 1] then redis.call('DEL', lock) end
  end
end
return 0`;

type ScriptedRedis = Redis & {
  gatehouseIncr(key: string, ttlMs: number): Promise<number>;
  gatehouseReserve(...args: (string | number)[]): Promise<number[]>;
  gatehouseRelease(...args: (string | number)[]): Promise<number>;
};

export class SharedStateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SharedStateUnavailableError';
  }
}

export function createRedisSharedState(url: string, prefix = 'gatehouse:'): SharedState {
  const where = redactUrl(url);
  const main = connect(url) as ScriptedRedis;
  main.defineCommand('gatehouseIncr', { numberOfKeys: 1, lua: INCR_WITH_TTL });
  // numberOfKeys varies with the slot count: given as the first argument.
  main.defineCommand('gatehouseReserve', { lua: RESERVE_ATTEMPT });
  main.defineCommand('gatehouseRelease', { lua: RELEASE_ATTEMPT });

  // A connection in subscriber mode can run nothing else, so pub/sub gets its
  // own, opened on the first subscribe.
  let subscriber: Redis | undefined;
  const handlers = new Map<string, Set<(message: string) => void>>();

  const k = (key: string) => prefix + key;

  function subscriberConnection(): Redis {
    if (subscriber !== undefined) return subscriber;
    subscriber = connect(url);
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of handlers.get(channel) ?? []) deliver(handler, channel, message);
    });
    // Pub/sub is fire-and-forget: whatever was published while this connection
    // was down is lost. On every reconnect, tell the subscribers to resync.
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (connectedBefore) for (const [channel, set] of handlers) for (const handler of set) deliver(handler, channel, RESYNC_MESSAGE);
      connectedBefore = true;
    });
    return subscriber;
  }

  return {
    async get(key) {
      await ready(main, where);
      return main.get(k(key));
    },
    async set(key, value, ttlMs) {
      await ready(main, where);
      await main.set(k(key), value, 'PX', checkTtl(ttlMs));
    },
    async setIfAbsent(key, value, ttlMs) {
      await ready(main, where);
      return (await main.set(k(key), value, 'PX', checkTtl(ttlMs), 'NX')) === 'OK';
    },
    async take(key) {
      await ready(main, where);
      return main.getdel(k(key));
    },
    async delete(key) {
      await ready(main, where);
      await main.del(k(key));
    },
    async incr(key, ttlMs) {
      const ttl = checkTtl(ttlMs);
      await ready(main, where);
      return Number(await main.gatehouseIncr(k(key), ttl));
    },
    async reserveAttempt(slots) {
      const keys = slots.flatMap((s) => [k(attemptCounterKey(s.key)), k(attemptLockKey(s.key))]);
      const args = slots.flatMap((s) => [s.free, s.maxWaitMs, s.hardLockAt, s.hardWaitMs, checkTtl(s.counterTtlMs)]);
      await ready(main, where);
      const [admitted, ...rest] = (await main.gatehouseReserve(keys.length, ...keys, ...args)).map(Number);
      return admitted === 1 ? { ok: true, numbers: rest } : { ok: false, waitMs: rest[0] };
    },
    async releaseAttempt(releases) {
      if (releases.length === 0) return;
      const keys = releases.flatMap((r) => [k(attemptCounterKey(r.key)), k(attemptLockKey(r.key))]);
      const args = releases.flatMap((r) => [r.number, r.clear ? 1 : 0]);
      await ready(main, where);
      await main.gatehouseRelease(keys.length, ...keys, ...args);
    },
    async ttl(key) {
      await ready(main, where);
      const ms = await main.pttl(k(key));
      return ms < 0 ? -1 : ms;
    },
    async publish(channel, message) {
      await ready(main, where);
      await main.publish(k(channel), message);
    },
    async subscribe(channel, onMessage) {
      const sub = subscriberConnection();
      await ready(sub, where);
      const full = k(channel);
      // Registered before SUBSCRIBE so no message slips in between.
      let set = handlers.get(full);
      if (set === undefined) handlers.set(full, (set = new Set()));
      set.add(onMessage);
      try {
        await sub.subscribe(full);
      } catch (err) {
        set.delete(onMessage);
        throw err;
      }
    },
    async ping() {
      await ready(main, where);
      await main.ping();
    },
    async close() {
      handlers.clear();
      await Promise.all([quit(main), subscriber === undefined ? undefined : quit(subscriber)]);
    },
  };
}

function connect(url: string): Redis {
  // Loaded here, not at the top: a gateway on memory shared state never pays for ioredis at start-up.
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const redis = new RedisClient(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: CONNECT_WAIT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // Keep trying forever, backing off to one attempt every 2 s.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
  // ioredis reports every failed reconnect as an 'error' event; without a
  // listener each one is printed. Callers see failures as rejected commands
  // and through ping(); keep the last error for those messages.
  redis.on('error', (err: Error) => {
    lastErrors.set(redis, err);
  });
  return redis;
}

const lastErrors = new WeakMap<Redis, Error>();
const everReady = new WeakSet<Redis>();

/**
 * Commands run only on a ready connection. Before the first connection a
 * caller waits (bounded) for it; once the client has been up, a dropped
 * connection fails at once instead of queueing.
 */
async function ready(redis: Redis, where: string): Promise<void> {
  if (redis.status === 'ready') {
    everReady.add(redis);
    return;
  }
  const unavailable = (cause?: unknown) =>
    new SharedStateUnavailableError(
      `shared state unavailable: redis at ${where} is ${redis.status}` +
        (cause instanceof Error ? ` (${cause.message})` : lastErrors.has(redis) ? ` (${lastErrors.get(redis)!.message})` : ''),
      { cause },
    );
  if (everReady.has(redis) || redis.status === 'end') throw unavailable();
  await new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (err === undefined) {
        everReady.add(redis);
        resolve();
      } else reject(unavailable(err));
    };
    const onReady = () => done();
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new Error(`no connection within ${CONNECT_WAIT_MS} ms`)), CONNECT_WAIT_MS);
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
}

async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') {
      await redis.quit();
      return;
    }
  } catch {
    // fall through: drop the connection instead
  }
  redis.disconnect();
}



/** The URL as it may appear in logs and errors: without its password. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'redis';
  }
}
