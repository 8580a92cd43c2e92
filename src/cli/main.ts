#!/usr/bin/env node
// The `gatehouse` command. Exit codes: 0 ok, 1 a failure the user can fix,
// 2 usage.

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`gatehouse needs Node.js 24 or newer (this is ${process.version}); run it through npm (npm start / npm test use the Node 24 from node_modules) or install Node 24.\n`);
  process.exit(1);
}

const USAGE = `usage: gatehouse <command> [options]

  serve   [--config FILE]                 run the gateway (default config/gatehouse.yaml)
  demo                                    run the demo portal and the gateway in front of it (npm start)
  check   [--config FILE]                 validate the config and users files
  explain --user U --method M --url URL [--ip IP] [--config FILE]
                                          dry-run the policy for one request
  user    add|passwd|disable|enable|list  manage the users file
  mfa     list|reset USER                 show or reset a user's factors
  audit   verify [FILE...] [options]      check the audit chain (MACs under the audit key, checkpoints)
  report  [--since 30d] [--json]          rollout figures
`;

const commands: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  serve: async () => (await import('./serve.ts')).runServe,
  demo: async () => (await import('./demo.ts')).runDemo,
  check: async () => (await import('./check.ts')).runCheck,
  user: async () => (await import('./user.ts')).runUser,
  audit: async () => (await import('./audit.ts')).runAudit,
  explain: async () => (await import('./explain.ts')).runExplain,
  mfa: async () => (await import('./mfa.ts')).runMfa,
  report: async () => (await import('./report.ts')).runReport,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`gatehouse: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  return (await load())(args);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`gatehouse: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
