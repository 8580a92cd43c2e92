// `gatehouse check [--config FILE]`: validates the config (and the users file
// when identity.source is file), prints every problem as file:line key.path:
// message, and summarizes a good config. Exit 0 ok, 1 invalid, 2 usage.

import type { Writable } from 'node:stream';
import { ConfigError, formatIssues, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { validateUsersFile } from '../identity/users-file.ts';
import { signInOverrides } from '../policy/compile.ts';

export const DEFAULT_CONFIG = 'config/gatehouse.yaml';
const USAGE = 'usage: gatehouse check [--config FILE]   (default config/gatehouse.yaml)';
const DAY_MS = 86_400_000;

export interface CheckIO {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
  now?: () => Date;
}

export async function runCheck(args: string[], io: CheckIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseArgs(args);
  if ('error' in parsed) {
    io.stderr.write(`${parsed.error}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const file = parsed.config;
  const now = io.now ?? (() => new Date());

  let config: Config;
  try {
    // Never creates dev-secrets.json: checking must not change anything.
    config = loadConfig(file, { persistDevSecrets: false, now });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`${formatIssues(file, err.issues)}\n${file}: ${countOf(err.issues.length, 'error')}\n`);
    return 1;
  }

  if (config.identity.source === 'file' && config.identity.file) {
    const usersFile = config.identity.file.path;
    const issues = await validateUsersFile(usersFile);
    if (issues.length > 0) {
      // users-file.ts may already prefix its paths with the file name; print it once.
      const local = issues.map((i) => ({ ...i, path: i.path.startsWith(`${usersFile}: `) ? i.path.slice(usersFile.length + 2) : i.path === usersFile ? '' : i.path }));
      io.stderr.write(`${formatIssues(usersFile, local)}\n${usersFile}: ${countOf(issues.length, 'error')}\n`);
      return 1;
    }
  }

  io.stdout.write(`ok: ${file}\n`);
  for (const w of [...config.warnings, ...signInOverrides(config.policy)]) io.stdout.write(`warning: ${w}\n`);
  io.stdout.write(summary(config, now()));
  return 0;
}

function parseArgs(args: string[]): { config: string; help: boolean } | { error: string } {
  let config = DEFAULT_CONFIG;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--config' || a === '-c') {
      const v = args[++i];
      if (v === undefined || v.startsWith('-')) return { error: `${a} needs a file` };
      config = v;
    } else if (a.startsWith('--config=')) {
      config = a.slice('--config='.length);
      if (!config) return { error: '--config needs a file' };
    } else if (a === '--help' || a === '-h') {
      help = true;
    } else {
      return { error: `unknown argument: ${a}` };
    }
  }
  return { config, help };
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
    const soon = daysLeft <= 14 ? `  warning: expires in ${countOf(daysLeft, 'day')}` : '';
    lines.push(`  ${who}  rule ${e.rule}  owner ${e.owner}  expires ${e.expires}${soon}  (${e.reason})`);
  }
  return `${lines.join('\n')}\n`;
}

function countOf(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
