// `gatehouse check [--config FILE]`: validates the config (and the users file
// when identity.source is file), prints every problem as file:line key.path:
// message, and summarizes a good config. Exit 0 ok, 1 invalid, 2 usage.

import { ConfigError, formatIssues, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { validateUsersFile } from '../identity/users-file.ts';
import { extraCatalogProblems } from '../identity/translate.ts';
import { signInOverrides } from '../policy/compile.ts';
import { paramRuleHints } from '../policy/param-hints.ts';
import { BUNDLED_GEOIP_DB, openGeoLocator, type GeoLocator } from '../session/geo-locator.ts';
import {
  DEFAULT_CONFIG, EXIT, plural, runConfigCommand, STD_IO,
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
  return runConfigCommand(CHECK, args, io, (file) => check(file, io));
}

async function check(file: string, io: CheckIO): Promise<number> {
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
    const unreadable = issues.find((i) => i.path === usersFile);
    if (unreadable) {
      // A file that is not there is the config's problem: name the key that points at it.
      io.stderr.write(`${formatIssues(file, [{ path: 'identity.file.path', message: unreadable.message }])}\n${file}: ${plural(1, 'error')}\n`);
      return EXIT.FAILED;
    }
    if (issues.length > 0) {
      // users-file.ts already prefixes its paths with the file name; print it once.
      const local = issues.map((i) => ({ ...i, path: i.path.startsWith(`${usersFile}: `) ? i.path.slice(usersFile.length + 2) : i.path }));
      io.stderr.write(`${formatIssues(usersFile, local)}\n${usersFile}: ${plural(issues.length, 'error')}\n`);
      return EXIT.FAILED;
    }
  }

  const catalogIssues = extraCatalogProblems(config.ui.catalogs);
  if (catalogIssues.length > 0) {
    io.stderr.write(`${catalogIssues.map((p) => `${file}: ${p}`).join('\n')}\n${file}: ${plural(catalogIssues.length, 'error')}\n`);
    return EXIT.FAILED;
  }

  let geo: GeoLocator | null = null;
  if (config.risk.enabled) {
    try {
      geo = openGeoLocator(config.risk);
    } catch (err) {
      io.stderr.write(`${file}: risk.geoip_db: cannot read ${config.risk.geoip_db ?? BUNDLED_GEOIP_DB} as a MaxMind database: ${(err as Error).message}\n`);
      return EXIT.FAILED;
    }
  }

  io.stdout.write(`ok: ${file}\n`);
  for (const w of [...config.warnings, ...signInOverrides(config.policy), ...riskWarnings(config, geo)]) io.stdout.write(`warning: ${w}\n`);
  // Advice, not problems: settings the parameter rules likely need for the app behind them.
  for (const h of paramRuleHints(config)) io.stdout.write(`hint: ${h}\n`);
  io.stdout.write(summary(config, now()));
  return EXIT.OK;
}

/** What the risk signals cannot see with this database: said before the gateway runs. */
export function riskWarnings(config: Config, geo: Pick<GeoLocator, 'db' | 'coordinates'> | null): string[] {
  if (geo === null || geo.coordinates || config.risk.signals.impossible_travel === 0) return [];
  const db = geo.db === BUNDLED_GEOIP_DB ? 'the bundled DB-IP country database' : geo.db;
  const places = config.risk.places.length;
  return [places === 0
    ? `risk: ${db} has no coordinates and risk.locations names no range: impossible_travel is unavailable (never raised); give a city database (risk.geoip_db) or a locations file`
    : `risk: ${db} has no coordinates: impossible_travel is judged only between addresses in risk.locations (${plural(places, 'range')})`];
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
  const risk = config.risk;
  if (risk.enabled) {
    const rulesText = risk.rules.map((r) => `above ${r.above} ${r.require}`).join(', ') || 'no rules';
    lines.push(`risk: mode ${risk.mode}; ${rulesText}${risk.relax_routine_below > 0 ? `; routine factor skipped below ${risk.relax_routine_below}` : ''}; ${plural(risk.risky_cidrs.length, 'risky network')}; ${plural(risk.places.length, 'located range')}`);
  }
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
