#!/usr/bin/env node
// The `gatehouse` command. Exit codes: 0 ok, 1 a failure the user can fix,
// 2 usage.

// The Node version check is in bin/gatehouse.js: an older Node cannot parse this file.

import { closest } from '../config/schema-messages.ts';

// One line per command for `gatehouse --help`; each command prints its own
// usage with `gatehouse COMMAND --help` (or `gatehouse help COMMAND`).
// Commands are loaded on demand: `check` need not load the gateway.
const COMMANDS: Record<string, { synopsis: string; load: () => Promise<(args: string[]) => Promise<number>> }> = {
  serve: { synopsis: '[--config FILE]                 run the gateway (default config/gatehouse.yaml)', load: async () => (await import('./serve.ts')).runServe },
  demo: { synopsis: '[--config FILE]                 run the demo portal and the gateway in front of it (npm start)', load: async () => (await import('./demo.ts')).runDemo },
  check: { synopsis: '[--config FILE]                 validate the config and users files', load: async () => (await import('./check.ts')).runCheck },
  explain: {
    synopsis: '--user U --method M --url URL [--ip IP] [--config FILE]\n                                          dry-run the policy for one request',
    load: async () => (await import('./explain.ts')).runExplain,
  },
  user: { synopsis: 'add|passwd|disable|enable|list|locked|unlock\n                                          manage the users file; account locks', load: async () => (await import('./user.ts')).runUser },
  mfa: { synopsis: 'list|reset USER                 show or reset a user\'s factors', load: async () => (await import('./mfa.ts')).runMfa },
  audit: { synopsis: 'verify [FILE...] [options]      check the audit chain (MACs under the audit key, checkpoints)', load: async () => (await import('./audit.ts')).runAudit },
  report: { synopsis: '[--since 30d] [--json]          rollout figures', load: async () => (await import('./report.ts')).runReport },
};

const USAGE = `usage: gatehouse <command> [options]

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(7)} ${c.synopsis}`.trimEnd()).join('\n')}

  gatehouse <command> --help shows the command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const asksHelp = first === '--help' || first === '-h' || first === 'help';
  if (!first || (asksHelp && rest.length === 0)) {
    process.stdout.write(USAGE);
    return first ? 0 : 2;
  }
  const [name, args] = asksHelp ? [rest[0], ['--help']] : [first, rest];
  const command = COMMANDS[name];
  if (!command) {
    const guess = closest(name, Object.keys(COMMANDS));
    process.stderr.write(`gatehouse: unknown command '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}\n\n${USAGE}`);
    return 2;
  }
  return (await command.load())(args);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`gatehouse: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
