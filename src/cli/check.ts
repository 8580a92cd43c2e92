// `gatehouse check [--config FILE]`: validates the config (and the users file
// when identity.source is file), prints every problem as file:line key.path:
// message, and summarizes a good config. Exit 0 ok, 1 invalid, 2 usage.

import { ConfigError, formatIssues, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { validateUsersFile } from '../identity/users-file.ts';
import { extraCatalogProblems } from '../identity/translate.ts';
import { signInOverrides } from '../policy/compile.ts';
import { paramRuleHints } from '../policy/param-hints.ts';
import {
  CONFIG_OPTION, configPath, DEFAULT_CONFIG, EXIT, parseOptions, plural, printUsage, runCommand, STD_IO,
  type CommandInfo, type Streams,
} from './operator.ts';

export const CHECK: CommandInfo = {
  label: 'gatehouse check',
  usage: `usage: gatehouse check [--config FILE]   (default ${DEFAULT_CONFIG})`,
};
const DAY_MS = 86_400_000;

/** check's clock gives a Date (the loader's and the summary's). */
export interface CheckIO extends Streams {
  now?: () => Date;
}

export async function runCheck(args: string[], io: CheckIO = STD_IO): Promise<number> {
  return runCommand(CHECK, io, () => check(args, io));
}

async function check(args: string[], io: CheckIO): Promise<number> {
  const { values } = parseOptions(args, CONFIG_OPTION);
  if (values.help) return printUsage(CHECK, io);
  const file = configPath(values);
  const now = io.now ?? (() => new Date());

  let config: Config;
  try {
    // Never creates dev-secrets.json: checking must not change anything.
    config = loadConfig(file, { persistDevSecrets: false, now });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`${formatIssues(file, err.issues)}\n${file}: ${plural(err.issues.length, 'error')}\n`);
    return EXIT.FAILED;
  }

  if (config.identity.source === 'file' && config.identity.file) {
    const usersFile = config.identity.file.path;
    const issues = await validateUsersFile(usersFile);
    if (issues.length > 0) {
      // users-file.ts may already prefix its paths with the file name; print it once.
      const local = issues.map((i) => ({ ...i, path: i.path.startsWith(`${usersFile}: `) ? i.path.slice(usersFile.length + 2) : i.path === usersFile ? '' : i.path }));
      io.stderr.write(`${formatIssues(usersFile, local)}\n${usersFile}: ${plural(issues.length, 'error')}\n`);
      return EXIT.FAILED;
    }
  }

  const catalogIssues = extraCatalogProblems(config.ui.catalogs);
  if (catalogIssues.length > 0) {
    io.stderr.write(`${catalogIssues.map((p) => `${file}: ${p}`).join('\n')}\n${file}: ${plural(catalogIssues.length, 'error')}\n`);
    return EXIT.FAILED;
  }

  io.stdout.write(`ok: ${file}\n`);
  for (const w of [...config.warnings, ...signInOverrides(config.policy)]) io.stdout.write(`warning: ${w}\n`);
  // Advice, not problems: settings the parameter rules likely need for the app behind them.
  for (const h of paramRuleHints(config)) io.stdout.write(`hint: ${h}\n`);
  io.stdout.write(summary(config, now()));
  return EXIT.OK;
}

/** The human summary of a valid config (pure: easy to test with a fixed clock). */
export function summary(config: Config, now: Date): string {
  const lines: string[] = [];
  const rules = config.policy.rules;
  const reportOnly = rules.filter((r) => r.mode === 'report').length;
  lines.push(`routes: ${config.routes.length}`);
  for (const r of config.routes) lines.push(`  ${r.host ?? '*'}${r.path} -> ${r.upstream}`);
  lines.push(`rules: ${rules.length}${reportOnly ? ` (${reportOnly} report-only)` : ''}; default: ${config.policy.default}`);
  const source = config.identity.source;
  const where = source === 'file' ? config.identity.file?.path : source === 'oidc' ? config.identity.oidc?.issuer : config.identity.upstream_form?.login_path;
  lines.push(`identity: ${source}${where ? ` (${where})` : ''}`);
  lines.push(`rollout: enforce for ${config.rollout.enforce_for.join(', ') || 'nobody'}${config.rollout.grace_until ? `, grace until ${config.rollout.grace_until}` : ''}`);
  const exceptions = config.policy.exceptions;
  lines.push(`policy exceptions: ${exceptions.length}`);
  for (const e of exceptions) {
    const who = e.user !== undefined ? `user ${e.user}` : `group ${e.group}`;
    const daysLeft = Math.ceil((Date.parse(`${e.expires}T00:00:00Z`) + DAY_MS - now.getTime()) / DAY_MS);
    const soon = daysLeft <= 14 ? `  warning: expires in ${plural(daysLeft, 'day')}` : '';
    lines.push(`  ${who}  rule ${e.rule}  owner ${e.owner}  expires ${e.expires}${soon}  (${e.reason})`);
  }
  return `${lines.join('\n')}\n`;
}
