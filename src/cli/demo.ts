// `npm start`: the demo legacy portal plus the gateway in front of it, on the
// bundled config, so a newcomer sees sign-in, MFA and step-up at once.

import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { startGateway } from '../app.ts';
import {
  CONFIG_OPTION, configFailure, configPath, DEFAULT_CONFIG, EXIT, parseOptions, printUsage, runCommand, STD_IO, stopSignal,
  type CommandInfo, type Streams,
} from './operator.ts';

export const DEMO: CommandInfo = {
  label: 'gatehouse demo',
  usage: `usage: gatehouse demo [--config FILE]   (default ${DEFAULT_CONFIG}; the demo portal listens on DEMO_PORTAL_PORT, default 8081)`,
};

const DEMO_USERS = [
  ['alice', 'alice-demo-pass', 'admins, finance'],
  ['bob', 'bob-demo-pass', 'staff'],
  ['carol', 'carol-demo-pass', 'contractors'],
];

export async function runDemo(args: string[], io: Streams = STD_IO): Promise<number> {
  return runCommand(DEMO, io, () => demo(args, io));
}

async function demo(args: string[], io: Streams): Promise<number> {
  const { values } = parseOptions(args, CONFIG_OPTION);
  if (values.help) return printUsage(DEMO, io);
  const file = configPath(values);
  const portal = await startDemoPortal({ port: Number(process.env.DEMO_PORTAL_PORT ?? 8081), host: '127.0.0.1' });
  const gw = await startGateway({ configPath: file }).catch(async (err: unknown) => {
    await portal.close();
    throw configFailure(file, err);
  });
  const url = gw.current().config.server.public_url;
  io.stderr.write(`
  gatehouse demo is running.

    Open ${url}/ in a browser (the demo portal on 127.0.0.1:${portal.port} sits behind it).

    Demo users (from config/users.yaml):
${DEMO_USERS.map(([u, p, g]) => `      ${u.padEnd(6)} password ${p.padEnd(16)} groups: ${g}`).join('\n')}

    Try: /billing (step-up with passkey or authenticator app), /export, /settings/api-keys (passkey only).
    Stop with Ctrl-C.

`);
  await stopSignal();
  await Promise.allSettled([gw.close(), portal.close()]);
  return EXIT.OK;
}
