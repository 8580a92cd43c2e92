// risk: adaptive MFA (README "Risk signals"). Signal weights add up to a score
// per sign-in and decision; rules raise the requirement above a score; a low
// score may skip the routine second factor. The operator's files (risky
// networks, known places) are read here, at load, so `gatehouse check` reports
// a bad line and a reload swaps them with the rest of the config.

import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PathSegment } from '../interpolate.ts';
import { isObject, messageOf, type Obj, type Reader } from '../reader.ts';
import { choice, duration, int, nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';
import { normalizeCidr } from '../value-checks.ts';

export const RISK_SIGNALS = ['new_device', 'new_network', 'new_country', 'impossible_travel', 'recent_failures', 'risky_network'] as const;
export type RiskSignal = (typeof RISK_SIGNALS)[number];
export const RISK_REQUIREMENTS = ['mfa', 'deny'] as const;
export const RISK_MODES = ['enforce', 'report'] as const;

/** The default weights (also the bundled config's): a new device and network alone stay below the first rule. */
export const DEFAULT_WEIGHTS: Readonly<Record<RiskSignal, number>> = {
  new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60,
};

const weight = int(0, 1000);
const signalsSchema = obj(Object.fromEntries(RISK_SIGNALS.map((s) => [s, weight])) as Record<RiskSignal, typeof weight>);

export const riskRuleSchema = obj({
  above: int(0, 100_000),
  require: choice(RISK_REQUIREMENTS),
  max_age: duration,
} satisfies PropertiesOf<RiskRuleConfig>, ['above', 'require']);

export const riskSchema = obj({
  signals: signalsSchema,
  rules: { type: 'array', items: riskRuleSchema },
  relax_routine_below: int(0, 100_000),
  mode: choice(RISK_MODES),
  geoip_db: nonEmpty,
  locations: nonEmpty,
  risky_networks: strList,
  remember_networks: duration,
} satisfies PropertiesOf<RiskConfig, never, 'enabled' | 'risky_cidrs' | 'places'>);

export interface RiskRuleConfig {
  above: number;                  // the rule applies when the score is above this
  require: (typeof RISK_REQUIREMENTS)[number];
  /** mfa: how long before the risky sign-in a passed factor may be (ms); default 0 = passed since. */
  max_age?: number;
}

/** One line of the `locations` file: where an address range is (lat/lon in degrees), and optionally its country. */
export interface RiskPlace {
  cidr: string;
  lat: number;
  lon: number;
  country?: string;               // ISO 3166 alpha-2, upper-case
}

export interface RiskConfig {
  /** Derived: the section is present. Without it no signal is gathered and nothing changes. */
  enabled: boolean;
  signals: Record<RiskSignal, number>;   // default DEFAULT_WEIGHTS; a signal left out keeps its default
  rules: RiskRuleConfig[];               // default none
  relax_routine_below: number;           // default 0 (never skip the routine second factor)
  mode: (typeof RISK_MODES)[number];     // default enforce
  geoip_db?: string;                     // a MaxMind-format .mmdb; default the bundled DB-IP country database
  locations?: string;                    // file: CIDR LAT LON [COUNTRY] per line
  risky_networks: string[];              // files: one CIDR per line
  remember_networks: number;             // ms a network stays known after a sign-in from it; default 90d
  /** Derived: the CIDRs of every risky_networks file. */
  risky_cidrs: string[];
  /** Derived: the lines of the locations file. */
  places: RiskPlace[];
}

export function buildRisk(r: Reader, raw: Obj): RiskConfig {
  const present = isObject(raw.risk);
  const s = r.section(raw, 'risk');
  const given = r.section(s, 'signals');
  const signals = { ...DEFAULT_WEIGHTS };
  for (const name of RISK_SIGNALS) signals[name] = r.int(given, name, DEFAULT_WEIGHTS[name]);
  const rules: RiskRuleConfig[] = [];
  r.items(s, 'rules').forEach((item, i) => {
    if (!isObject(item) || typeof item.above !== 'number') return; // the schema names it
    const rule: RiskRuleConfig = { above: item.above, require: r.oneOf(item, 'require', RISK_REQUIREMENTS, 'mfa') };
    const maxAge = r.optionalDuration(item, 'max_age', ['risk', 'rules', i]);
    if (maxAge !== undefined) {
      if (rule.require === 'deny') r.fail(['risk', 'rules', i, 'max_age'], 'only meaningful with require: mfa');
      rule.max_age = maxAge;
    }
    rules.push(rule);
  });
  const geoip_db = r.str(s, 'geoip_db');
  if (geoip_db !== undefined && !existsSync(geoip_db)) r.fail(['risk', 'geoip_db'], `no file ${geoip_db}`);
  const locations = r.str(s, 'locations');
  const risky_networks = r.list(s, 'risky_networks') ?? [];
  const risky_cidrs: string[] = [];
  risky_networks.forEach((file, i) => risky_cidrs.push(...readCidrFile(r, file, ['risk', 'risky_networks', i])));
  return {
    enabled: present,
    signals,
    rules,
    relax_routine_below: r.int(s, 'relax_routine_below', 0),
    mode: r.oneOf(s, 'mode', RISK_MODES, 'enforce'),
    ...(geoip_db !== undefined ? { geoip_db } : {}),
    ...(locations !== undefined ? { locations } : {}),
    risky_networks,
    remember_networks: r.duration(s, 'remember_networks', ['risk'], '90d'),
    risky_cidrs,
    places: locations === undefined ? [] : readPlaces(r, locations),
  };
}

/** The meaningful lines of an operator's list file: `#` starts a comment, blank lines are skipped. */
function listLines(r: Reader, file: string, at: PathSegment[]): Array<{ text: string; line: number }> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    r.fail(at, `cannot read ${file}: ${messageOf(err)}`);
    return undefined;
  }
  const out: Array<{ text: string; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line) out.push({ text: line, line: i + 1 });
  });
  return out;
}

function readCidrFile(r: Reader, file: string, at: PathSegment[]): string[] {
  const out: string[] = [];
  for (const l of listLines(r, file, at) ?? []) {
    const cidr = cidrOnLine(r, l.text, `${file} line ${l.line}`, at);
    if (cidr !== undefined) out.push(cidr);
  }
  return out;
}

/** The CIDR check of the config keys, its message naming the file's line too; undefined when it failed. */
function cidrOnLine(r: Reader, text: string, where: string, at: PathSegment[]): string | undefined {
  const before = r.issues.length;
  const cidr = normalizeCidr(r, text, at);
  if (r.issues.length === before) return cidr;
  const issue = r.issues[r.issues.length - 1];
  issue.message = `${where}: ${issue.message}`;
  return undefined;
}

const COUNTRY = /^[A-Za-z]{2}$/;

function readPlaces(r: Reader, file: string): RiskPlace[] {
  const at: PathSegment[] = ['risk', 'locations'];
  const out: RiskPlace[] = [];
  for (const l of listLines(r, file, at) ?? []) {
    const [cidr, latText, lonText, country, extra] = l.text.split(/[\s,]+/);
    const lat = Number(latText);
    const lon = Number(lonText);
    const addr = cidr.split('/')[0];
    const problem = isIP(addr) === 0 ? `"${cidr}" is not an IP address or CIDR`
      : !(latText && Number.isFinite(lat) && lat >= -90 && lat <= 90) ? `latitude "${latText ?? ''}" must be a number from -90 to 90`
      : !(lonText && Number.isFinite(lon) && lon >= -180 && lon <= 180) ? `longitude "${lonText ?? ''}" must be a number from -180 to 180`
      : country !== undefined && !COUNTRY.test(country) ? `country "${country}" must be a two-letter ISO 3166 code`
      : extra !== undefined ? 'expected CIDR LAT LON [COUNTRY]' : undefined;
    if (problem !== undefined) {
      r.fail(at, `${file} line ${l.line}: ${problem}`);
      continue;
    }
    const normalized = cidrOnLine(r, cidr, `${file} line ${l.line}`, at);
    if (normalized === undefined) continue;
    out.push({ cidr: normalized, lat, lon, ...(country !== undefined ? { country: country.toUpperCase() } : {}) });
  }
  return out;
}
