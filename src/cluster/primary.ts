// server.workers above 1: the primary process. It owns what must exist once
// per instance (the in-memory shared state, the audit chain with its
// checkpoints and forwarding, the store's migrations and first signing key)
// and runs N workers (node:cluster) that share the listening sockets and serve
// every request (src/cluster/worker.ts). It replaces a worker that dies, and on
// SIGHUP or a changed config file validates the config once and rolls the
// workers: a new one is started and ready before an old one is told to stop, and
// the old one drains its requests in flight (README "Workers").

import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { loadConfig, ConfigError, formatIssues } from '../config/load.ts';
import { watchConfig } from '../config/watch.ts';
import type { Config } from '../config/types.ts';
import { openLog } from '../app.ts';
import { openStore } from '../store/open-store.ts';
import { createMemorySharedState } from '../store/memory-shared-state.ts';
import { createSecretBox } from '../store/secret-box.ts';
import { AssertionSigner } from '../identity/assertion.ts';
import { openNotifier } from '../identity/notifier.ts';
import { openAuditTrail } from '../audit/trail.ts';
import type { Checkpoint } from '../audit/checkpoint.ts';
import { createMetrics } from '../audit/metrics.ts';
import { createHub } from './hub.ts';
import { isOurs, type ToPrimary, type ToWorker } from './messages.ts';

/** How long a new worker may take to listen before the start (or the roll) is given up. */
const READY_TIMEOUT_MS = 30_000;
/** How long a worker may take to answer a metrics scrape; a slower one is left out of that scrape. */
const COLLECT_TIMEOUT_MS = 2_000;

/** Pure: how many workers a setting means on a machine with `cores` cores. */
export function workerCount(setting: number | 'auto', cores: number): number {
  return setting === 'auto' ? Math.max(1, cores) : setting;
}

export interface RunningCluster {
  port: number;
  adminPort?: number;
  /** The worker processes serving now. */
  workerPids(): number[];
  /** Validates the config file and, if it is good, rolls the workers; false when it was rejected. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  ready: Promise<{ port: number; adminPort?: number }>;
  everReady: boolean;
  /** Told to stop, or never started: its exit is expected and not replaced. */
  retiring: boolean;
}

export async function startCluster(configPath: string, config: Config): Promise<RunningCluster> {
  const { log } = openLog(config, undefined, { svc: 'gatehouse', role: 'primary' });
  for (const w of config.warnings) log.warn(w);
  const store = openStore(config.store);
  for (const notice of await store.migrate()) log.warn(notice); // once, before any worker opens the store
  const shared = config.shared_state.kind === 'memory' ? createMemorySharedState() : undefined;
  const trail = await openAuditTrail(config, log);
  const notifier = openNotifier(config.notifier);
  // The first signing key is made here, once, not by several workers at the same moment.
  const signer = new AssertionSigner(store, createSecretBox([config.factors.encryption_key]), new URL(config.server.public_url).origin, Date.now,
    (err) => log.warn({ err }, 'signing keys reload failed; keeping the current keys'));
  await signer.init();
  let latest: Checkpoint | undefined;
  const checkpointer = trail.start(signer, notifier, (cp) => { latest = cp; broadcast({ gh: 'checkpoint', checkpoint: cp }); });
  const metrics = createMetrics(); // the primary's own: its process, its config reloads

  const slots = new Map<number, Slot>(); // by worker id
  let closing = false;
  let current = config;
  const collecting = new Map<number, (metrics: MetricObjectWithValues<MetricValue<string>>[]) => void>();
  let collectId = 0;

  function broadcast(message: ToWorker): void {
    for (const { worker } of slots.values()) send(worker, message);
  }
  function send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message, (err: Error | null) => { if (err) log.debug({ err: err.message }, 'message to a worker not sent'); });
  }

  async function metricsText(): Promise<string> {
    const parts = await Promise.all([...slots.values()].filter((s) => s.everReady && !s.retiring).map(({ worker }) => new Promise<MetricObjectWithValues<MetricValue<string>>[]>((resolve) => {
      const id = ++collectId;
      const timer = setTimeout(() => { collecting.delete(id); resolve([]); }, COLLECT_TIMEOUT_MS);
      collecting.set(id, (m) => { clearTimeout(timer); collecting.delete(id); resolve(m); });
      send(worker, { gh: 'collect', id });
    })));
    const own = await metrics.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...parts]).metrics();
  }

  const hub = createHub({ shared, audit: trail.audit, metricsText, broadcast });

  cluster.setupPrimary({ serialization: 'advanced' });
  cluster.on('message', (worker, message: unknown) => {
    if (!isOurs<ToPrimary>(message)) return;
    if (message.gh === 'call') {
      hub.answer(message.call).then(
        (value) => send(worker, { gh: 'reply', id: message.id, ok: true, value }),
        (err: Error) => send(worker, { gh: 'reply', id: message.id, ok: false, error: err.message }),
      );
    } else if (message.gh === 'collected') {
      collecting.get(message.id)?.(message.metrics as MetricObjectWithValues<MetricValue<string>>[]);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker.id);
    slots.delete(worker.id);
    if (!slot || slot.retiring || closing) {
      log.info({ worker: worker.process.pid }, 'worker stopped');
      return;
    }
    log.error({ worker: worker.process.pid, code, signal }, 'worker exited unexpectedly: starting a replacement');
    // A replacement that cannot start (a config file broken since) is not retried in a loop: it is logged.
    fork().ready.catch((err: Error) => log.error({ reason: err.message }, 'replacement worker did not start'));
  });

  function fork(): Slot {
    const worker = cluster.fork();
    const slot: Slot = { worker, everReady: false, retiring: false, ready: undefined as never };
    slot.ready = new Promise((resolve, reject) => {
      // Never started: expected to go (set before the exit events run), not replaced.
      const fail = (reason: string) => { cleanup(); slot.retiring = true; worker.kill(); reject(new Error(reason)); };
      const timer = setTimeout(() => fail(`worker ${worker.process.pid} not listening after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      const onMessage = (m: unknown) => {
        if (!isOurs<ToPrimary>(m) || m.gh !== 'ready') return;
        cleanup();
        slot.everReady = true;
        log.info({ worker: worker.process.pid, port: m.port }, 'worker started');
        if (latest) send(worker, { gh: 'checkpoint', checkpoint: latest });
        resolve({ port: m.port, adminPort: m.adminPort });
      };
      const onExit = (code: number | null, signal: string | null) => fail(`worker ${worker.process.pid} exited (${signal ?? code}) before it listened`);
      const cleanup = () => { clearTimeout(timer); worker.off('message', onMessage); worker.off('exit', onExit); };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
    slot.ready.catch(() => undefined); // the caller hears of it
    slots.set(worker.id, slot);
    return slot;
  }

  function retire(slot: Slot): void {
    slot.retiring = true;
    send(slot.worker, { gh: 'stop' });
  }

  const count = workerCount(config.server.workers, availableParallelism());
  const first = Array.from({ length: count }, fork);
  let listening: { port: number; adminPort?: number };
  try {
    listening = (await Promise.all(first.map((s) => s.ready)))[0];
  } catch (err) {
    closing = true;
    for (const s of first) s.worker.kill();
    await trail.close().catch(() => undefined);
    await Promise.allSettled([shared?.close(), store.close(), notifier.close?.()]);
    throw err;
  }
  await trail.audit.write({ event: 'config.loaded', source: configPath });
  await checkpointer.checkpoint();
  log.info({ listen: config.server.listen, port: listening.port, public_url: config.server.public_url, workers: count }, 'gatehouse listening');

  let rolling: Promise<boolean> = Promise.resolve(true);
  function reload(): Promise<boolean> {
    rolling = rolling.then(roll, roll);
    return rolling;
  }

  /** Validates the file once, then replaces the workers one by one: each new one listens before an old one stops. */
  async function roll(): Promise<boolean> {
    let next: Config;
    try {
      next = loadConfig(configPath);
      // As in src/app.ts reload: never roll to a config that would stop all traffic.
      if (next.routes.length === 0 && current.routes.length > 0) throw new Error('the new config has no routes: keeping the running config');
    } catch (err) {
      const reason = err instanceof ConfigError ? formatIssues(configPath, err.issues) : (err as Error).message;
      log.error({ reason }, 'config reload rejected: keeping the running config and workers');
      metrics.configReloads.labels('rejected').inc();
      await trail.audit.write({ event: 'config.rejected', source: configPath, reason }).catch(() => undefined);
      return false;
    }
    const old = [...slots.values()].filter((s) => !s.retiring);
    const target = workerCount(next.server.workers, availableParallelism());
    const started = new Set<Slot>();
    for (let i = 0; i < Math.max(old.length, target); i++) {
      if (i < target) {
        const fresh = fork();
        started.add(fresh);
        try {
          await fresh.ready;
        } catch (err) {
          log.error({ reason: (err as Error).message }, 'config reload: a new worker did not start; the remaining workers keep the previous config');
          metrics.configReloads.labels('rejected').inc();
          return false;
        }
      }
      if (i < old.length) retire(old[i]);
    }
    // An old worker that crashed during the roll was replaced meanwhile: that replacement is one too many.
    let surplus = [...slots.values()].filter((s) => !s.retiring).length - target;
    for (const s of slots.values()) if (surplus > 0 && !s.retiring && !started.has(s)) { retire(s); surplus--; }
    current = next;
    log.level = next.server.log_level;
    for (const w of next.warnings) log.warn(w);
    log.info({ workers: target }, 'config reloaded: workers rolled');
    metrics.configReloads.labels('ok').inc();
    await trail.audit.write({ event: 'config.loaded', source: configPath, reason: 'reload' });
    return true;
  }

  // SIGHUP or a change of the file (config/watch.ts, which debounces both).
  const watcher = watchConfig(configPath, () => { log.info('reloading the config'); void reload(); });

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= (async () => {
      closing = true;
      watcher.close();
      await rolling.catch(() => undefined);
      const exits = [...slots.values()].map(({ worker }) => new Promise<void>((resolve) => {
        if (worker.isDead()) return resolve();
        const kill = setTimeout(() => worker.kill('SIGKILL'), current.server.shutdown_timeout + 5_000);
        worker.once('exit', () => { clearTimeout(kill); resolve(); });
      }));
      for (const slot of slots.values()) retire(slot);
      await Promise.all(exits);
      await trail.close();
      await Promise.allSettled([shared?.close(), store.close(), notifier.close?.()]);
      log.flush();
    })();
    return closed;
  }

  return {
    port: listening.port,
    ...(listening.adminPort !== undefined ? { adminPort: listening.adminPort } : {}),
    workerPids: () => [...slots.values()].filter((s) => !s.retiring).map((s) => s.worker.process.pid!),
    reload,
    close,
  };
}
