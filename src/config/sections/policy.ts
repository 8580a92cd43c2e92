// policy: the default requirement, the rules, their time-limited exceptions,
// and the limits of the request stash.

import type { Millis } from '../duration.ts';
import type { PathSegment } from '../interpolate.ts';
import { pathPatternProblem } from '../path-pattern-check.ts';
import { isObject, type Obj, type Reader } from '../reader.ts';
import { bool, byteSize, choice, duration, isoDate, nonEmpty, obj, str, strList, type PropertiesOf, type Schema } from '../schema-kit.ts';
import { DAY_MS, ISO_DATE, TOKEN, checkHostname, dateEnd, normalizeCidr } from '../value-checks.ts';
import type { FormRequestMatch } from './upstream-form.ts';

/** The second-factor kinds a rule may name. */
export const RULE_FACTOR_KINDS = ['totp', 'webauthn', 'push', 'email', 'sms', 'recovery'] as const;
export type FactorKind = (typeof RULE_FACTOR_KINDS)[number];
/** Written in a rule's factors, it means webauthn. */
const PHISHING_RESISTANT = 'phishing_resistant';
export const REQUIREMENTS = ['none', 'login', 'mfa', 'deny'] as const;
export type Requirement = (typeof REQUIREMENTS)[number];
/** policy.default: every requirement but deny (a gateway that denies everything is a mistake). */
export const DEFAULT_REQUIREMENTS = ['none', 'login', 'mfa'] as const;
export const RULE_MODES = ['enforce', 'report'] as const;

// A rule's query / params: each name takes a pattern, a list of patterns, or `present` / `absent`.
const ruleParams: Schema = { type: 'object', minProperties: 1, additionalProperties: { type: ['string', 'array'], items: str, minItems: 1 } };

const ruleSchema = obj(
  {
    id: nonEmpty,
    match: obj({
      host: nonEmpty,
      path: { type: ['string', 'array'], items: nonEmpty, minItems: 1 },
      methods: { type: 'array', items: nonEmpty, minItems: 1 },
      groups: strList,
      not_groups: strList,
      networks: strList,
      query: ruleParams,
      params: ruleParams,
      ignore_case: bool,
    } satisfies PropertiesOf<RuleMatch>),
    require: choice(REQUIREMENTS),
    max_age: duration,
    factors: { type: 'array', items: choice([...RULE_FACTOR_KINDS, PHISHING_RESISTANT]), minItems: 1 },
    mode: choice(RULE_MODES),
    rollout: choice(['follow']),
  } satisfies PropertiesOf<RuleConfig>,
  ['id', 'require'],
);

const exceptionSchema = obj(
  { user: nonEmpty, group: nonEmpty, rule: nonEmpty, reason: nonEmpty, owner: nonEmpty, expires: isoDate } satisfies PropertiesOf<PolicyException>,
  ['rule', 'reason', 'owner', 'expires'],
);

export const policySchema = obj({
  default: choice(DEFAULT_REQUIREMENTS),
  rules: { type: 'array', items: ruleSchema },
  stash_max_body: byteSize,
  stash_total_max: byteSize,
  inspect_body_max: byteSize,
  privileged_groups: strList,
  exceptions: { type: 'array', items: exceptionSchema },
} satisfies PropertiesOf<PolicyConfig, never, 'sign_in'>);

export interface RuleMatch {
  host?: string;
  path?: string[];                // patterns: /a/b exact, /a/* one segment, /a/** prefix; always an array after loading
  methods?: string[];             // upper-case; absent = all
  groups?: string[];
  not_groups?: string[];
  networks?: string[];            // CIDRs
  /** URL query parameters (policy/request-match.ts): a pattern, a list of patterns, `present` or `absent`. */
  query?: Record<string, string | string[]>;
  /** The same over the query and a urlencoded / multipart form body (PHP's $_REQUEST). */
  params?: Record<string, string | string[]>;
  /** query / params values compared case-insensitively; default false. */
  ignore_case?: boolean;
}
export interface RuleConfig {
  id: string;
  match: RuleMatch;
  require: Requirement;
  max_age?: Millis;               // freshness of the second factor (step-up)
  factors?: FactorKind[];         // allowed kinds ('phishing_resistant' expanded to webauthn)
  mode: (typeof RULE_MODES)[number]; // default enforce
  /** 'follow': rollout and grace apply to this rule as to policy.default; absent: the rule binds every user. */
  rollout?: 'follow';
}
export interface PolicyException {
  user?: string;
  group?: string;
  rule: string;
  reason: string;
  owner: string;
  expires: string;                // ISO date
}
export interface PolicyConfig {
  default: (typeof DEFAULT_REQUIREMENTS)[number];
  rules: RuleConfig[];
  stash_max_body: number;         // bytes; default 1 MiB
  stash_total_max: number;        // bytes of stashed bodies one instance holds; default 64 MiB
  /** Bytes of a form body read to decide rules with `params` conditions; default 1 MiB. */
  inspect_body_max: number;
  privileged_groups: string[];    // default [admins]
  exceptions: PolicyException[];
  /** Derived (identity.source upstream_form): the app's login page and sign-in, implicitly open. */
  sign_in?: { path: string; match?: FormRequestMatch };
}

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/**
 * The ids the gateway decides under itself (logs, audit, metrics, explain),
 * and what each names: a declared rule may never take one, whichever sections
 * are on (policy/compile.ts SIGN_IN_RULE, policy/risk.ts RISK_RULE).
 */
export const RESERVED_RULE_IDS: ReadonlyMap<string, string> = new Map([
  ['default', 'policy.default'],
  ['upstream_form-login', 'the implicit rule that keeps the login page and sign-in of identity.upstream_form open'],
  ['risk', 'the decisions of the risk section'],
]);

export function buildPolicy(r: Reader, p: Obj, warnings: string[], now: Date): PolicyConfig {
  const ids = new Map<string, number>();
  const rules = r.items(p, 'rules').flatMap((o, i) => (isObject(o) ? [buildRule(r, o, i, ids, warnings)] : []));
  const exceptions = r.items(p, 'exceptions').flatMap((o, i) => (isObject(o) ? buildException(r, o, i, ids, warnings, now) : []));
  return {
    default: r.oneOf(p, 'default', DEFAULT_REQUIREMENTS, 'mfa'),
    rules,
    stash_max_body: r.bytes(p, 'stash_max_body', ['policy'], '1MiB'),
    stash_total_max: r.bytes(p, 'stash_total_max', ['policy'], '64MiB'),
    inspect_body_max: r.bytes(p, 'inspect_body_max', ['policy'], '1MiB'),
    privileged_groups: r.list(p, 'privileged_groups') ?? ['admins'],
    exceptions,
  };
}

/** policy.rules[i]; `ids` collects the rule ids (exceptions refer to them). */
function buildRule(r: Reader, o: Obj, i: number, ids: Map<string, number>, warnings: string[]): RuleConfig {
  const at = ['policy', 'rules', i];
  const id = r.str(o, 'id') ?? '';
  if (id !== '' && !RULE_ID.test(id)) r.fail([...at, 'id'], 'must be letters, digits, ".", "_" or "-" (it appears in logs and metrics)');
  const reserved = RESERVED_RULE_IDS.get(id);
  if (reserved !== undefined) r.fail([...at, 'id'], `"${id}" is reserved for ${reserved}; choose another id`);
  const dup = ids.get(id);
  if (id !== '' && dup !== undefined) r.fail([...at, 'id'], `duplicate rule id "${id}" (also policy.rules[${dup}])`);
  else ids.set(id, i);

  const require = r.oneOf(o, 'require', REQUIREMENTS, 'mfa');
  const max_age = r.optionalDuration(o, 'max_age', at);
  const factors = ruleFactors(r.list(o, 'factors'));
  if (require !== 'mfa' && (max_age !== undefined || factors !== undefined)) {
    warnings.push(`policy.rules[${i}] (${id}): max_age and factors only apply to require: mfa; ignored for require: ${require}`);
  }
  return {
    id,
    match: buildMatch(r, r.section(o, 'match'), [...at, 'match']),
    require,
    ...(max_age !== undefined ? { max_age } : {}),
    ...(factors !== undefined ? { factors } : {}),
    mode: r.oneOf(o, 'mode', RULE_MODES, 'enforce'),
    ...(r.str(o, 'rollout') === 'follow' ? { rollout: 'follow' as const } : {}),
  };
}

/** A rule's factor kinds, phishing_resistant read as webauthn, each once (unknown names are the schema's to report). */
function ruleFactors(kinds: string[] | undefined): FactorKind[] | undefined {
  if (kinds === undefined) return undefined;
  const named = kinds.map((k) => (k === PHISHING_RESISTANT ? 'webauthn' : k));
  return RULE_FACTOR_KINDS.filter((k) => named.includes(k)).sort((a, b) => named.indexOf(a) - named.indexOf(b));
}

function buildException(r: Reader, o: Obj, i: number, ids: Map<string, number>, warnings: string[], now: Date): PolicyException[] {
  const at = ['policy', 'exceptions', i];
  const user = r.str(o, 'user');
  const group = r.str(o, 'group');
  if ((user === undefined) === (group === undefined)) r.fail(at, 'give exactly one of user or group');
  const rule = r.str(o, 'rule') ?? '';
  if (rule && !ids.has(rule)) r.fail([...at, 'rule'], `no rule with id "${rule}" in policy.rules`);
  const expires = r.str(o, 'expires') ?? '';
  const end = dateEnd(expires);
  if (ISO_DATE.test(expires) && end === undefined) r.fail([...at, 'expires'], `"${expires}" is not a valid date (YYYY-MM-DD)`);
  const who = user !== undefined ? `user ${user}` : `group ${group}`;
  if (end !== undefined && end <= now.getTime()) {
    warnings.push(`policy.exceptions[${i}] (${who}, rule ${rule}) expired on ${expires}: ignored`);
    return [];
  }
  if (end !== undefined && end - now.getTime() <= 14 * DAY_MS) {
    warnings.push(`policy.exceptions[${i}] (${who}, rule ${rule}) expires on ${expires}, within 14 days`);
  }
  return [{
    ...(user !== undefined ? { user } : {}),
    ...(group !== undefined ? { group } : {}),
    rule,
    reason: r.str(o, 'reason') ?? '',
    owner: r.str(o, 'owner') ?? '',
    expires,
  }];
}

function buildMatch(r: Reader, m: Obj, at: PathSegment[]): RuleMatch {
  const out: RuleMatch = {};
  const host = r.str(m, 'host')?.toLowerCase();
  if (host !== undefined) {
    checkHostname(r, host, [...at, 'host']);
    out.host = host;
  }
  const path = typeof m.path === 'string' ? [m.path] : r.list(m, 'path');
  if (path) {
    path.forEach((p, i) => {
      const problem = pathPatternProblem(p);
      if (problem) r.fail(typeof m.path === 'string' ? [...at, 'path'] : [...at, 'path', i], `${JSON.stringify(p)}: ${problem}`);
    });
    out.path = path;
  }
  const methods = r.list(m, 'methods');
  if (methods) {
    methods.forEach((x, i) => {
      if (!TOKEN.test(x)) r.fail([...at, 'methods', i], `"${x}" is not an HTTP method`);
    });
    out.methods = [...new Set(methods.map((x) => x.toUpperCase()))];
  }
  for (const key of ['groups', 'not_groups'] as const) {
    const v = r.list(m, key);
    if (v) out[key] = v;
  }
  const networks = r.list(m, 'networks');
  if (networks) out.networks = networks.map((c, i) => normalizeCidr(r, c, [...at, 'networks', i]));
  for (const key of ['query', 'params'] as const) {
    if (!isObject(m[key])) continue;
    const conditions: Record<string, string | string[]> = {};
    for (const [name, v] of Object.entries(m[key])) {
      const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
      if (list.length > 1 && list.some((x) => x === 'present' || x === 'absent')) r.fail([...at, key, name], 'present / absent stand alone, not in a list');
      conditions[name] = typeof v === 'string' ? v : list.map(String);
    }
    out[key] = conditions;
  }
  if (m.ignore_case !== undefined) out.ignore_case = r.bool(m, 'ignore_case', false);
  return out;
}
