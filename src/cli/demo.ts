// `npm start`: the demo legacy portal plus the gateway in front of it, on the
// bundled config, so a newcomer sees sign-in, MFA and step-up at once.

import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { startGateway } from '../app.ts';

const DEMO_USERS = [
  ['alice', 'alice-demo-pass', 'admins, finance'],
  ['bob', 'bob-demo-pass', 'staff'],
  ['carol', 'carol-demo-pass', 'contractors'],
];

export async function runDemo(args: string[]): Promise<number> {
  let configPath = 'config/gatehouse.yaml';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' && args[i + 1]) configPath = args[++i];
    else {
      process.stderr.write('usage: gatehouse demo [--config FILE]\n');
      return 2;
    }
  }
  const portal = await startDemoPortal({ port: Number(process.env.DEMO_PORTAL_PORT ?? 8081), host: '127.0.0.1' });
  const gw = await startGateway({ configPath });
  const url = gw.current().config.server.public_url;
  process.stderr.write(`
  gatehouse demo is running.

    Open ${url}/ in a browser (the demo portal on 127.0.0.1:${portal.port} sits behind it).

    Demo users (from config/users.yaml):
${DEMO_USERS.map(([u, p, g]) => `      ${u.padEnd(6)} password ${p.padEnd(16)} groups: ${g}`).join('\n')}

    Try: /billing (step-up with passkey or authenticator app), /export, /settings/api-keys (passkey only).
    Stop with Ctrl-C.

`);
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      Promise.allSettled([gw.close(), portal.close()]).then(() => resolveStop());
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
