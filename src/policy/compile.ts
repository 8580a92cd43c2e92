// Compiles the policy section of a loaded config into an index, once per config
// load, so that evaluating a request does not cost more as rules are added.
//
// Index: a trie over the literal leading segments of every path pattern. Each
// node holds the indexes (ascending = declared order) of rules whose pattern
// ends there:
//   exact   `/a/b`   matches when the path ends at this node
//   one     `/a/*`   matches when the path has exactly one more non-empty segment
//   prefix  `/a/**`  matches at this node and anywhere below
//   complex `/a/*/c` (a wildcard before the end) filed under its literal prefix
//           `/a` and checked segment by segment when the walk passes there
// Rules without a path go to `anyPath`. A request walks the trie once (O(path
// depth)); the lowest rule index among the candidates that also passes the
// non-path conditions wins (first match in declared order).
//
// Case: `caseInsensitive: true` lower-cases the literal path segments of every
// pattern; use it for routes with `case_insensitive: true` (whose request paths
// the pipeline lower-cases). Compile once per flag value that the routes use.

import net from 'node:net';
import type { FactorKind, PolicyConfig, Requirement, RolloutConfig, RuleConfig } from '../config/types.ts';
import { RESERVED_RULE_IDS } from '../config/sections/policy.ts';
import { matchPath, parsePathPattern, type PathPattern } from './path-pattern.ts';
import { isoDateEnd } from './rollout.ts';
import { compileParamMatch, compileRequestMatch, type CompiledParamMatch, type CompiledRequestMatch } from './request-match.ts';

/** The id of the implicit rule that keeps an upstream_form app's login page and sign-in open. */
export const SIGN_IN_RULE = 'upstream_form-login';

export interface CompiledException {
  user?: string;
  group?: string;
  /** First instant (unix ms) at which the exception no longer applies. */
  until: number;
  reason: string;
  owner: string;
}

export interface CompiledRule {
  id: string;
  index: number;          // position in policy.rules; -1 for the default pseudo-rule
  require: Requirement;
  mode: 'enforce' | 'report';
  max_age?: number;
  factors?: FactorKind[];
  /** Exact lower-case host, or a `.example.com` suffix for `*.example.com`. */
  host?: { exact: string } | { suffix: string };
  methods?: Set<string>;
  groups?: Set<string>;
  not_groups?: Set<string>;
  networks?: net.BlockList;
  /** Whether matching depends on who the user is (groups / not_groups). */
  identity_dependent: boolean;
  exceptions: CompiledException[];
  /** Conditions on the query / form parameters (implicit sign-in rule). */
  request?: CompiledRequestMatch;
  /** A declared rule's `query` / `params` conditions (three-valued: doubt lets the most demanding rule apply). */
  params?: CompiledParamMatch;
  /** No condition besides the path and no exceptions: a path match is a match. */
  unconditional: boolean;
  /** Rollout (enforce_for) and grace (deferral) apply: the default policy, and rules with `rollout: follow`. */
  follows_rollout: boolean;
  /** `rule billing`, or `default policy`: how reasons name the rule. */
  label: string;
  config: RuleConfig | null;
}

export interface TrieNode {
  /** null for leaves: most nodes of a large policy are leaves. */
  children: Map<string, TrieNode> | null;
  // Rules in declared order (ascending index), held directly (not as indexes)
  // so a lookup touches fewer objects.
  exact: CompiledRule[];
  one: CompiledRule[];
  prefix: CompiledRule[];
  complex: { rule: CompiledRule; pattern: PathPattern }[];
}

export interface CompiledPolicy {
  rules: CompiledRule[];
  /** The pseudo-rule `default` used when no rule matches. */
  default_rule: CompiledRule;
  root: TrieNode;
  /** Rules with no path condition (every path), ascending. */
  any_path: CompiledRule[];
  rollout: RolloutConfig;
  case_insensitive: boolean;
}

export class PolicyCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyCompileError';
  }
}

// Buckets start as this shared empty list and get their own array on first insert.
const EMPTY: never[] = [];

function newNode(): TrieNode {
  return { children: null, exact: EMPTY, one: EMPTY, prefix: EMPTY, complex: EMPTY };
}

function compileHost(rule: RuleConfig): CompiledRule['host'] {
  const host = rule.match.host;
  if (host === undefined) return undefined;
  const h = host.trim().toLowerCase();
  if (h === '' || h.includes('/') || (h.includes(':') && !h.startsWith('['))) {
    throw new PolicyCompileError(`rule ${rule.id}: match.host ${JSON.stringify(host)} must be a host name without port or path`);
  }
  if (h.startsWith('*.')) return { suffix: h.slice(1) };
  if (h.includes('*')) throw new PolicyCompileError(`rule ${rule.id}: match.host ${JSON.stringify(host)}: only a leading '*.' wildcard is allowed`);
  return { exact: h };
}

function compileNetworks(rule: RuleConfig): net.BlockList | undefined {
  const cidrs = rule.match.networks;
  if (cidrs === undefined) return undefined;
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [addr, bits, extra] = cidr.trim().split('/');
    const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : null;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (family === null || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new PolicyCompileError(`rule ${rule.id}: match.networks: ${JSON.stringify(cidr)} is not an IP address or CIDR`);
    }
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

function compileRule(rule: RuleConfig, index: number, caseInsensitive: boolean): CompiledRule {
  const m = rule.match;
  const compiled: CompiledRule = {
    id: rule.id,
    index,
    require: rule.require,
    mode: rule.mode ?? 'enforce',
    host: compileHost(rule),
    methods: m.methods ? new Set(m.methods.map((x) => x.toUpperCase())) : undefined,
    groups: m.groups ? new Set(m.groups) : undefined,
    not_groups: m.not_groups ? new Set(m.not_groups) : undefined,
    networks: compileNetworks(rule),
    identity_dependent: m.groups !== undefined || m.not_groups !== undefined,
    exceptions: [],
    unconditional: false, // set once exceptions are attached
    follows_rollout: rule.rollout === 'follow',
    label: `rule ${rule.id}`,
    config: rule,
  };
  if (rule.max_age !== undefined) compiled.max_age = rule.max_age;
  const params = compileRuleParams(rule, caseInsensitive);
  if (params !== undefined) compiled.params = params;
  if (rule.factors !== undefined && rule.factors.length > 0) compiled.factors = [...rule.factors];
  return compiled;
}

function compileRuleParams(rule: RuleConfig, foldNames: boolean): CompiledParamMatch | undefined {
  const m = rule.match;
  for (const key of ['query', 'params'] as const) {
    for (const [name, cond] of Object.entries(m[key] ?? {})) {
      const list = Array.isArray(cond) ? cond : [cond];
      if (name === '') throw new PolicyCompileError(`rule ${rule.id}: match.${key}: a parameter name is empty`);
      if (list.length === 0 || list.some((v) => typeof v !== 'string')) {
        throw new PolicyCompileError(`rule ${rule.id}: match.${key}.${name}: expected a value pattern, a list of them, present or absent`);
      }
      if (list.length > 1 && list.some((v) => v === 'present' || v === 'absent')) {
        throw new PolicyCompileError(`rule ${rule.id}: match.${key}.${name}: present / absent stand alone, not in a list`);
      }
    }
  }
  return compileParamMatch({ query: m.query, params: m.params, ignore_case: m.ignore_case, fold_names: foldNames });
}

function insertPattern(root: TrieNode, pattern: PathPattern, rule: CompiledRule): void {
  let node = root;
  for (const seg of pattern.literal) {
    node.children ??= new Map();
    let next = node.children.get(seg);
    if (!next) {
      next = newNode();
      node.children.set(seg, next);
    }
    node = next;
  }
  if (pattern.shape === 'complex') {
    if (node.complex === EMPTY) node.complex = [];
    node.complex.push({ rule, pattern });
  } else {
    if (node[pattern.shape] === EMPTY) node[pattern.shape] = [];
    node[pattern.shape].push(rule);
  }
}

export function compilePolicy(
  policy: PolicyConfig,
  rollout: RolloutConfig,
  opts: { caseInsensitive?: boolean } = {},
): CompiledPolicy {
  const caseInsensitive = opts.caseInsensitive === true;
  const root = newNode();
  const anyPath: CompiledRule[] = [];
  const byId = new Map<string, CompiledRule>();

  // Inserted first, so they come before every declared rule on their path.
  for (const implicit of signInRules(policy.sign_in)) insertPattern(root, parsePathPattern(policy.sign_in!.path, { caseInsensitive }), implicit);

  const rules = policy.rules.map((rule, i) => {
    if (!rule.id) throw new PolicyCompileError(`policy.rules[${i}]: missing id`);
    const reserved = RESERVED_RULE_IDS.get(rule.id);
    if (reserved !== undefined) throw new PolicyCompileError(`policy.rules[${i}]: the id "${rule.id}" is reserved for ${reserved}`);
    if (byId.has(rule.id)) throw new PolicyCompileError(`policy.rules[${i}]: duplicate rule id ${JSON.stringify(rule.id)}`);
    const compiled = compileRule(rule, i, caseInsensitive);
    byId.set(rule.id, compiled);
    const paths = rule.match.path;
    if (paths === undefined) {
      anyPath.push(compiled);
    } else {
      if (paths.length === 0) throw new PolicyCompileError(`rule ${rule.id}: match.path is an empty list`);
      for (const p of paths) {
        let parsed: PathPattern;
        try {
          parsed = parsePathPattern(p, { caseInsensitive });
        } catch (err) {
          throw new PolicyCompileError(`rule ${rule.id}: ${(err as Error).message}`);
        }
        insertPattern(root, parsed, compiled);
      }
    }
    return compiled;
  });

  for (const [i, ex] of policy.exceptions.entries()) {
    const where = `policy.exceptions[${i}]`;
    const rule = byId.get(ex.rule);
    if (!rule) throw new PolicyCompileError(`${where}: unknown rule ${JSON.stringify(ex.rule)}`);
    if (ex.user === undefined && ex.group === undefined) throw new PolicyCompileError(`${where}: needs a user or a group`);
    let until: number;
    try {
      until = isoDateEnd(ex.expires);
    } catch (err) {
      throw new PolicyCompileError(`${where}.expires: ${(err as Error).message}`);
    }
    const compiled: CompiledException = { until, reason: ex.reason, owner: ex.owner };
    if (ex.user !== undefined) compiled.user = ex.user;
    if (ex.group !== undefined) compiled.group = ex.group;
    rule.exceptions.push(compiled);
  }

  for (const r of rules) {
    r.unconditional =
      r.host === undefined && r.methods === undefined && r.networks === undefined && r.params === undefined && !r.identity_dependent && r.exceptions.length === 0;
  }

  const defaultRule: CompiledRule = {
    id: 'default',
    index: -1,
    require: policy.default,
    mode: 'enforce',
    identity_dependent: false,
    exceptions: [],
    unconditional: true,
    follows_rollout: true,
    label: 'default policy',
    config: null,
  };

  return { rules, default_rule: defaultRule, root, any_path: anyPath, rollout, case_insensitive: caseInsensitive };
}

/**
 * identity.source upstream_form: the app's login page (GET/HEAD of the login
 * path whose query matches login_match) and its sign-in (POST matching
 * login_match in full) are open to everyone, ahead of every declared rule:
 * without this, `policy.default: mfa` sends /login to /login. Negative indexes
 * sort them before the declared rules (index 0 and up).
 */
export function signInRules(signIn: PolicyConfig['sign_in']): CompiledRule[] {
  if (signIn === undefined) return [];
  const m = signIn.match ?? {};
  const base = {
    id: SIGN_IN_RULE, require: 'none' as const, mode: 'enforce' as const, identity_dependent: false, follows_rollout: false,
    exceptions: [], unconditional: false, label: `rule ${SIGN_IN_RULE} (implicit: identity.upstream_form.login_path)`, config: null,
  };
  return [
    { ...base, index: -3, methods: new Set(['GET']), request: compileRequestMatch({ query: m.query, params: m.params }) },
    { ...base, index: -2, methods: new Set(['POST']), request: compileRequestMatch({ query: m.query, params: m.params, fields: m.fields }) },
  ];
}

/**
 * Declared rules that would decide the login path otherwise than the implicit
 * sign-in rule (for `gatehouse check`): the implicit rule wins, so each is
 * named once with what it asks for.
 */
export function signInOverrides(policy: PolicyConfig): string[] {
  const signIn = policy.sign_in;
  if (signIn === undefined) return [];
  const out: string[] = [];
  for (const rule of policy.rules) {
    if (rule.require === 'none') continue;
    const m = rule.match;
    if (m.methods !== undefined && !m.methods.some((x) => ['GET', 'HEAD', 'POST'].includes(x))) continue;
    const hits = m.path === undefined || m.path.some((p) => {
      try {
        return matchPath(p, signIn.path);
      } catch {
        return false;
      }
    });
    if (hits) {
      out.push(`rule ${rule.id} (require: ${rule.require}) also matches identity.upstream_form.login_path ${signIn.path}: the app's login page and sign-in stay open there (implicit rule ${SIGN_IN_RULE})`);
    }
  }
  return out;
}
