// `gatehouse serve`: reads its arguments, starts the wired app (src/app.ts)
// and drains it on SIGTERM or SIGINT.

import { ConfigError, formatIssues } from '../config/load.ts';
import { startGateway, type RunningGateway } from '../app.ts';

export async function runServe(args: string[]): Promise<number> {
  let configPath = 'config/gatehouse.yaml';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' && args[i + 1]) configPath = args[++i];
    else {
      process.stderr.write(`usage: gatehouse serve [--config FILE]\n`);
      return 2;
    }
  }
  let gw: RunningGateway;
  try {
    gw = await startGateway({ configPath });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${formatIssues(configPath, err.issues)}\n`);
      return 1;
    }
    throw err;
  }
  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      gw.services.log.info({ signal }, 'shutting down: draining in-flight requests');
      gw.close().then(resolveStop, resolveStop);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
