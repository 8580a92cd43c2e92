// `gatehouse serve [--config FILE]`: starts the wired app (src/app.ts), or with
// server.workers above 1 a primary and its workers (src/cluster/), and drains
// it on SIGTERM or SIGINT (SIGHUP and a changed file reload the config:
// config/watch.ts). A bad config exits 1 with every issue listed.

import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { startGateway } from '../app.ts';
import { loadConfig } from '../config/load.ts';
import { startCluster, workerCount } from '../cluster/primary.ts';
import { runWorker } from '../cluster/worker.ts';
import {
  CONFIG_OPTION, configFailure, configPath, DEFAULT_CONFIG, EXIT, parseOptions, printUsage, runCommand, STD_IO, stopSignal,
  type CommandInfo, type Streams,
} from './operator.ts';

export const SERVE: CommandInfo = {
  label: 'gatehouse serve',
  usage: `usage: gatehouse serve [--config FILE]   (default ${DEFAULT_CONFIG})`,
};

export async function runServe(args: string[], io: Streams = STD_IO): Promise<number> {
  return runCommand(SERVE, io, async () => {
    const { values } = parseOptions(args, CONFIG_OPTION);
    if (values.help) return printUsage(SERVE, io);
    const file = configPath(values);
    // A worker forked by the primary runs this same command line.
    if (cluster.isWorker) {
      await runWorker(file);
      return EXIT.OK;
    }
    const config = (() => {
      try { return loadConfig(file); } catch (err) { throw configFailure(file, err); }
    })();
    if (workerCount(config.server.workers, availableParallelism()) > 1) {
      const running = await startCluster(file, config).catch((err: unknown) => { throw configFailure(file, err); });
      await stopSignal();
      await running.close().catch(() => undefined);
      return EXIT.OK;
    }
    const gw = await startGateway({ configPath: file }).catch((err: unknown) => { throw configFailure(file, err); });
    const signal = await stopSignal();
    gw.services.log.info({ signal }, 'shutting down: draining in-flight requests');
    await gw.close().catch(() => undefined);
    return EXIT.OK;
  });
}
