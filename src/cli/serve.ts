// `gatehouse serve [--config FILE]`: starts the wired app (src/app.ts) and
// drains it on SIGTERM or SIGINT. A bad config exits 1 with every issue listed.

import { startGateway } from '../app.ts';
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
    const gw = await startGateway({ configPath: file }).catch((err: unknown) => { throw configFailure(file, err); });
    const signal = await stopSignal();
    gw.services.log.info({ signal }, 'shutting down: draining in-flight requests');
    await gw.close().catch(() => undefined);
    return EXIT.OK;
  });
}
