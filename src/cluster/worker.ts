// server.workers above 1: one worker process. It is the whole gateway
// (src/app.ts) except for what its primary owns: the in-memory shared state and
// the audit chain come over IPC (worker-services.ts), the metrics endpoint
// answers with every worker's metrics summed, and the config is watched by the
// primary, which replaces workers rather than reloading them in place.

import type { Checkpoint } from '../audit/checkpoint.ts';
import { startGateway } from '../app.ts';
import { openSharedState } from '../store/open-shared-state.ts';
import { PrimaryLink, type Channel } from './primary-link.ts';
import { primaryAuditLog, primarySharedState } from './worker-services.ts';

/** Serves until the primary says stop (or a signal comes), then drains and exits. */
export async function runWorker(configPath: string): Promise<void> {
  const link = new PrimaryLink(process as unknown as Channel);
  let latest: Checkpoint | undefined;
  link.on('checkpoint', (m) => { latest = m.checkpoint; });
  const gw = await startGateway({
    configPath,
    watch: false,
    primary: {
      openShared: (cfg, now) => (cfg.kind === 'memory' ? primarySharedState(link) : openSharedState(cfg, now)),
      audit: primaryAuditLog(link),
      checkpoints: { latest: () => latest },
      metricsText: async () => String(await link.call({ op: 'metrics' })),
    },
  });
  link.on('collect', ({ id }) => {
    gw.services.metrics.registry.getMetricsAsJSON().then(
      (metrics) => link.send({ gh: 'collected', id, metrics }),
      () => link.send({ gh: 'collected', id, metrics: [] }),
    );
  });
  await new Promise<void>((resolve) => {
    link.on('stop', () => resolve());
    // The primary lost: nothing to serve for (shared state and audit are gone).
    process.once('disconnect', () => resolve());
    // A signal to the whole process group (Ctrl-C, systemd) reaches the workers too: drain as told.
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    process.on('SIGHUP', () => { /* the primary reloads, by replacing the workers */ });
    link.send({ gh: 'ready', port: gw.port, ...(gw.adminPort !== undefined ? { adminPort: gw.adminPort } : {}) });
  });
  await gw.close().catch(() => undefined);
  process.exit(0);
}
