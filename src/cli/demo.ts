// `npm start`: the demo legacy portal plus the gateway in front of it, on the
// bundled config, so a newcomer sees sign-in, MFA and step-up at once.

import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { startGateway } from '../app.ts';
import type { Config } from '../config/types.ts';
import {
  configFailure, DEFAULT_CONFIG, EXIT, runConfigCommand, STD_IO, stopSignal,
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
  return runConfigCommand(DEMO, args, io, (file) => demo(file, io));
}

async function demo(file: string, io: Streams): Promise<number> {
  const portal = await startDemoPortal({ port: Number(process.env.DEMO_PORTAL_PORT ?? 8081), host: '127.0.0.1' });
  const gw = await startGateway({ configPath: file }).catch(async (err: unknown) => {
    await portal.close();
    throw configFailure(file, err);
  });
  io.stderr.write(demoBanner(gw.current().config, portal.port));
  await stopSignal();
  await Promise.allSettled([gw.close(), portal.close()]);
  return EXIT.OK;
}

/** Where the demo's emails go: a newcomer enrolling email codes must know where to read them. */
function outboxLine(config: Config): string {
  const n = config.notifier;
  if (n.kind === 'file') {
    const push = config.factors.push
      ? '\n    "Approve on your phone" (push) writes its approval link there too: open it in another browser\n      (or a private window) and tap the number the sign-in page shows.'
      : '';
    return `Emails (sign-in codes, notices) are not sent: they are written to ${n.path}\n      (watch it with: tail -f ${n.path})${push}`;
  }
  return n.kind === 'smtp' ? `Emails are sent through ${n.kind} (notifier in the config).` : 'Emails go to the notifier webhook (notifier in the config).';
}

/** The risk section as the demo runs it: the rollout guide's first step, report mode. */
function riskLine(config: Config): string {
  const r = config.risk;
  if (!r.enabled) return '';
  const what = r.mode === 'report'
    ? 'Adaptive MFA (risk) runs in report mode: what it would ask or deny is only logged\n      (decision "report", rule "risk" in the request log); every sign-in\'s score is in the audit log.'
    : 'Adaptive MFA (risk) is enforced: a risky sign-in is asked for a fresh second factor or denied.';
  return `    ${what}\n      Try: gatehouse explain --user alice --method GET --url / --ip 81.2.69.142 --device new;\n      gatehouse report counts the signals.\n`;
}

/** What `gatehouse demo` prints at start (pure, for the test). */
export function demoBanner(config: Config, portalPort: number): string {
  const url = config.server.public_url;
  return `
  gatehouse demo is running.

    Open ${url}/ in a browser (the demo portal on 127.0.0.1:${portalPort} sits behind it).

    Demo users (from config/users.yaml):
${DEMO_USERS.map(([u, p, g]) => `      ${u.padEnd(6)} password ${p.padEnd(16)} groups: ${g}`).join('\n')}

    ${outboxLine(config)}

    Try: /billing (step-up with passkey or authenticator app), /export, /settings/api-keys (passkey only).
    Right after enrolling your check is fresh, so Billing -> Pay goes through. To see the step-up:
    wait 5 minutes, or at a later second-factor page tick "Trust this browser", sign out and in again
    (a trusted browser skips the routine check but never a step-up), then Billing -> Pay.
${riskLine(config)}    Stop with Ctrl-C.

`;
}
