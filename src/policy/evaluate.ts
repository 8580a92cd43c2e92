// The policy decision: a pure function of the request, the subject,
// the compiled policy and the time. No I/O, no clock of its own.
//
// Which rule:
// - Rules are tried in declared order; the first whose conditions all hold wins
//   (path patterns, host, methods, groups, not_groups, networks). No match: the
//   pseudo-rule `default` with `require: policy.default`.
// - Path patterns: see path-pattern.ts; one trailing slash is not significant
//   (`/billing/pay/` matches like `/billing/pay`, so a slash cannot bypass a rule).
// - Host is compared case-insensitively, ignoring one trailing dot; `*.example.com`
//   matches any subdomain (not the apex).
// - `methods: [GET]` also matches HEAD, because most app frameworks run the GET
//   handler for HEAD: a GET-only rule must not be bypassed with HEAD.
// - Networks are checked with a per-rule net.BlockList; an IPv4-mapped IPv6
//   client (`::ffff:10.0.0.1`) matches IPv4 CIDRs and vice versa.
// - Exceptions: a user or group with an unexpired exception (`now` < end of its
//   `expires` day UTC) for a rule skips that rule; evaluation continues with the
//   next matching rule. An exception with both user and group needs both.
// - Anonymous requests and group conditions: who the user is is unknown, so a
//   rule with groups/not_groups whose other conditions hold asks for sign-in
//   (challenge 'login'), whatever it requires. Deciding it as "not a member"
//   would deny a signed-out admin, or skip a rule meant for them.
//
// What the rule requires:
// - `none` → allow. `deny` → deny. `login` → anonymous: challenge 'login'; else allow.
// - `mfa` → anonymous: challenge 'login'. Signed in:
//   - A qualifying check is a passed factor whose kind is in rule.factors (any
//     kind when absent).
//   - Step-up rule = one with max_age or factors. With max_age, the newest
//     qualifying check must satisfy `now - at <= max_age` (boundary inclusive);
//     with factors only, any qualifying check in the session will do. A
//     remembered device never satisfies a step-up rule.
//   - Routine MFA (neither): any check in the session, or a remembered device.
//   - Not satisfied, then in this order:
//     - Rollout and grace govern the default policy only (and a rule that says
//       `rollout: follow`): an explicit rule binds every user, so a user
//       outside enforce_for, or one who deferred, is asked like anyone else.
//     - not in rollout: routine MFA → allow ('not in rollout'); a step-up rule
//       still applies if the user has enrolled a qualifying kind, else allow.
//     - in rollout, nothing enrolled: challenge 'enroll' (the UI offers
//       deferral); with `deferred`, routine MFA is allowed ('deferred
//       enrollment') but a step-up rule still gives 'enroll'.
//     - enrolled kinds include none of rule.factors: challenge 'enroll'.
//     - otherwise challenge 'step_up' (step-up rule) or 'mfa' (routine).
//   - `factors` in a challenge = rule.factors or [] (any); `max_age` when set.
//
// Report mode: a `mode: report` rule never changes what happens. When it
// matches before the deciding rule, evaluation goes on as if it were absent;
// if the enforced outcome is allow and the report rule would have challenged or
// denied, the answer is `{ action: 'report', would, kind }` (request allowed)
// naming the report rule. If the enforced outcome is itself a challenge or deny,
// that stands. (So adding a report-only rule can never weaken enforcement:
// a report rule does not shadow an enforcing rule or the default behind it.)
//
// Reasons are short strings for `gatehouse explain` and the decision log, e.g.
// `rule billing: second factor older than 5m (last totp 7m12s ago)`.

import net from 'node:net';
import type { FactorKind } from '../config/types.ts';
import type { ChallengeKind, Decision, FactorCheck, RequestFacts, SubjectFacts } from './types.ts';
import type { CompiledPolicy, CompiledRule } from './compile.ts';
import { matchPathSegments, pathSegments } from './path-pattern.ts';
import { matchParams, matchRequest, type ParamSources } from './request-match.ts';
import { decodeParams, type DecodedParams } from './param-match.ts';
import { bodyParams } from './form-fields.ts';

interface Best {
  /** The first matching enforce-mode rule. */
  enforce: CompiledRule | null;
  /** The first matching report-mode rule (only meaningful if before `enforce`). */
  report: CompiledRule | null;
  /** Enforce-mode rules whose parameters are in doubt (ambiguous, unreadable): the most demanding of those before `enforce` applies. */
  unsure: CompiledRule[] | null;
  /** The request's parameters, decoded when a rule first needs them. */
  sources: ParamSources | null;
  /** Probe (readsBody): visit every candidate rule; only a rule that applies to everyone decides. */
  probe: boolean;
  /** The lowest index of a candidate rule that reads the body. */
  readsBodyAt: number;
}

/** A later rank is more demanding: a doubt never weakens the answer. */
export const RANK = { allow: 0, report: 1, challenge: 2, deny: 3 } as const;

export function evaluate(req: RequestFacts, subject: SubjectFacts | null, policy: CompiledPolicy, now: number): Decision {
  if (!req.path.startsWith('/')) {
    return { action: 'deny', rule: 'default', reason: `path ${JSON.stringify(req.path)} is not absolute` };
  }
  const best = findRules(req, subject, policy, now, false);
  let decision = decide(best.enforce ?? policy.default_rule, subject, now);
  if (best.unsure !== null) decision = mostDemanding(decision, best, subject, now);
  // A report rule found on an earlier trie level may come after the deciding rule.
  const report = best.report !== null && (best.enforce === null || best.report.index < best.enforce.index) ? best.report : null;
  if (report === null || decision.action !== 'allow') return decision;

  const would = decide(report, subject, now);
  const note = ` [report only; enforced: ${decision.reason}]`;
  if (would.action === 'challenge') {
    return { action: 'report', rule: would.rule, reason: would.reason + note, would: 'challenge', kind: would.kind };
  }
  if (would.action === 'deny') return { action: 'report', rule: would.rule, reason: would.reason + note, would: 'deny' };
  return decision;
}

/**
 * Rules whose parameters are in doubt and that come before the deciding rule
 * might be the app's reading: the most demanding answer among them and the
 * deciding rule's stands.
 */
function mostDemanding(decision: Decision, best: Best, subject: SubjectFacts | null, now: number): Decision {
  let out = decision;
  for (const rule of best.unsure!) {
    if (best.enforce !== null && rule.index > best.enforce.index) continue;
    const d = decide(rule, subject, now);
    if (RANK[d.action] > RANK[out.action]) out = { ...d, reason: `${d.reason} (its parameters are ambiguous or unread: the most demanding rule applies)` };
  }
  return out;
}

/**
 * Whether a rule that could decide this request reads its body (`params`
 * conditions): the gateway then reads the body before deciding. Every
 * candidate on the path counts, whoever the user is.
 */
export function readsBody(req: RequestFacts, policy: CompiledPolicy): boolean {
  if (!req.path.startsWith('/')) return false;
  const best = findRules({ ...req, body: 'unread' }, null, policy, 0, true);
  return best.readsBodyAt < (best.enforce?.index ?? Infinity);
}

/** The request's query and body as the app reads them, each decoded once on first use. */
export function paramSources(req: RequestFacts): ParamSources {
  let query: DecodedParams | undefined;
  let body: DecodedParams | undefined;
  const style = req.params_style ?? 'plain';
  return {
    query: () => (query ??= decodeParams(req.query ?? '', style)),
    // PHP fills $_POST for POST only, but other platforms read PUT/PATCH/DELETE forms: any method with a body counts.
    body: () => (body ??= req.method === 'GET' || req.method === 'HEAD' ? { pairs: [], doubtful: false } : bodyParams(req.body, style)),
  };
}

/** Finds the first matching enforce-mode rule, and the first report-mode rule before it. */
function findRules(req: RequestFacts, subject: SubjectFacts | null, policy: CompiledPolicy, now: number, probe: boolean): Best {
  const best: Best = { enforce: null, report: null, unsure: null, sources: null, probe, readsBodyAt: Infinity };
  // Walk the path segment by segment without splitting it (no array on the
  // common path); one trailing slash is not significant (see path-pattern.ts).
  const path = req.path;
  const end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
  let segs: string[] | undefined; // only built when a wildcard-in-the-middle pattern needs it
  let pos = 1;
  let node = policy.root;
  for (;;) {
    if (node.prefix.length > 0) scan(node.prefix, req, subject, now, best);
    for (const c of node.complex) {
      if (best.enforce !== null && c.rule.index >= best.enforce.index) break;
      segs ??= pathSegments(path);
      if (matchPathSegments(c.pattern, segs) && consider(c.rule, req, subject, now, best)) break;
    }
    if (pos >= end) {
      if (node.exact.length > 0) scan(node.exact, req, subject, now, best);
      break;
    }
    let slash = path.indexOf('/', pos);
    if (slash === -1 || slash > end) slash = end;
    if (slash === end && node.one.length > 0 && slash > pos) scan(node.one, req, subject, now, best);
    if (node.children === null) break;
    const next = node.children.get(path.slice(pos, slash));
    if (next === undefined) break;
    node = next;
    pos = slash + 1;
  }
  if (policy.any_path.length > 0) scan(policy.any_path, req, subject, now, best);
  return best;
}

function scan(list: CompiledRule[], req: RequestFacts, subject: SubjectFacts | null, now: number, best: Best): void {
  for (let k = 0; k < list.length; k++) {
    if (consider(list[k], req, subject, now, best)) return;
  }
}

/** Records the rule if it matches; true when the rest of an ascending list cannot win. */
function consider(rule: CompiledRule, req: RequestFacts, subject: SubjectFacts | null, now: number, best: Best): boolean {
  if (best.enforce !== null && rule.index >= best.enforce.index) return true;
  if (!rule.unconditional && !conditionsHold(rule, req, subject, now)) return false;
  if (rule.params !== undefined) {
    if (rule.params.readsBody && rule.index < best.readsBodyAt) best.readsBodyAt = rule.index;
    const r = matchParams(rule.params, (best.sources ??= paramSources(req)));
    if (r === 'no') return false;
    if (r === 'unsure') {
      if (rule.mode === 'enforce') (best.unsure ??= []).push(rule);
      return false;
    }
  }
  // A probe has no subject: only a rule that applies to everyone (no condition) certainly decides.
  if (best.probe && !(rule.unconditional && rule.mode === 'enforce')) return false;
  if (rule.mode === 'report') {
    if (best.report === null || rule.index < best.report.index) best.report = rule;
    return false;
  }
  best.enforce = rule;
  return true;
}

function conditionsHold(rule: CompiledRule, req: RequestFacts, subject: SubjectFacts | null, now: number): boolean {
  if (rule.host !== undefined && !hostMatches(rule.host, req.host)) return false;
  if (rule.methods !== undefined && !rule.methods.has(req.method) && !(req.method === 'HEAD' && rule.methods.has('GET'))) {
    return false;
  }
  if (rule.networks !== undefined && !ipInList(rule.networks, req.ip)) return false;
  if (rule.request !== undefined && !matchRequest(rule.request, { query: req.query ?? '', form: req.method === 'GET' || req.method === 'HEAD' ? [] : req.form })) return false;
  if (subject === null) return true; // group conditions unknown: decide() asks for sign-in
  if (rule.groups !== undefined && !subject.groups.some((g) => rule.groups!.has(g))) return false;
  if (rule.not_groups !== undefined && subject.groups.some((g) => rule.not_groups!.has(g))) return false;
  if (rule.exceptions.length > 0 && isExempt(rule, subject, now)) return false;
  return true;
}

function hostMatches(want: NonNullable<CompiledRule['host']>, host: string): boolean {
  let h = host;
  if (h.endsWith('.')) h = h.slice(0, -1);
  if ('exact' in want) return h === want.exact || h.toLowerCase() === want.exact;
  const lower = h.toLowerCase();
  return lower.length > want.suffix.length && lower.endsWith(want.suffix);
}

/** Whether a client address (bracketed, zoned or IPv4-mapped forms too) is in a list. */
export function ipInList(list: net.BlockList, ip: string): boolean {
  let addr = ip;
  if (addr.startsWith('[') && addr.endsWith(']')) addr = addr.slice(1, -1);
  const zone = addr.indexOf('%');
  if (zone !== -1) addr = addr.slice(0, zone);
  if (net.isIPv4(addr)) return list.check(addr, 'ipv4');
  if (net.isIPv6(addr)) return list.check(addr, 'ipv6');
  return false;
}

function isExempt(rule: CompiledRule, subject: SubjectFacts, now: number): boolean {
  return rule.exceptions.some(
    (ex) =>
      now < ex.until &&
      (ex.user === undefined || ex.user === subject.user) &&
      (ex.group === undefined || subject.groups.includes(ex.group)),
  );
}

/**
 * What a user who has just signed in on an upstream_form app's own form still
 * owes before the app's cookies may go out, whatever page the app sends them
 * to next (often an open one, like its own login script): the routine second
 * factor, when any enforced rule or the default requires MFA. Allow when
 * nothing requires it (or the user is outside the rollout, deferred, or on a
 * remembered device: routine MFA's usual answers).
 */
export function routineMfaDue(subject: SubjectFacts, policy: CompiledPolicy, now: number): Decision {
  const requiresMfa = policy.default_rule.require === 'mfa' || policy.rules.some((r) => r.require === 'mfa' && r.mode === 'enforce');
  if (!requiresMfa) return { action: 'allow', rule: 'default', reason: 'no rule requires a second factor' };
  return decideMfa({ ...policy.default_rule, require: 'mfa', label: 'routine second factor after the app sign-in' }, subject, now, 'routine second factor after the app sign-in');
}

// ---- what the winning rule requires ----

function decide(rule: CompiledRule, subject: SubjectFacts | null, now: number): Decision {
  const at = rule.label;
  if (subject === null && rule.identity_dependent) {
    return challenge(rule, 'login', `${at}: applies by group membership; sign in first`, false);
  }
  switch (rule.require) {
    case 'none':
      return { action: 'allow', rule: rule.id, reason: `${at}: no sign-in required` };
    case 'deny':
      return { action: 'deny', rule: rule.id, reason: `${at}: denied` };
    case 'login':
      if (subject === null) return challenge(rule, 'login', `${at}: sign-in required`, false);
      return { action: 'allow', rule: rule.id, reason: `${at}: signed in` };
    case 'mfa':
      if (subject === null) return challenge(rule, 'login', `${at}: sign-in required, then a second factor`, false);
      return decideMfa(rule, subject, now, at);
    default:
      // An unknown requirement means the config and code disagree: fail closed.
      return { action: 'deny', rule: rule.id, reason: `${at}: unknown requirement ${JSON.stringify(rule.require)}` };
  }
}

function challenge(rule: CompiledRule, kind: ChallengeKind, reason: string, withFactors: boolean): Decision {
  const d: Decision = {
    action: 'challenge',
    kind,
    rule: rule.id,
    reason,
    factors: withFactors && rule.factors ? [...rule.factors] : [],
  };
  if (withFactors && rule.max_age !== undefined) d.max_age = rule.max_age;
  return d;
}

function decideMfa(rule: CompiledRule, s: SubjectFacts, now: number, at: string): Decision {
  const allowed = rule.factors;
  const stepUp = rule.max_age !== undefined || allowed !== undefined;
  const qualifies = (k: FactorKind): boolean => allowed === undefined || allowed.includes(k);
  const what = allowed ? kindList(allowed, 'or') : 'second factor';

  // 1. Already satisfied?
  const newest = newestCheck(s.factors, qualifies);
  if (!stepUp) {
    if (newest) return { action: 'allow', rule: rule.id, reason: `${at}: ${newest.kind} passed in this session` };
    if (s.remembered_device) return { action: 'allow', rule: rule.id, reason: `${at}: remembered device` };
  } else if (newest) {
    if (rule.max_age === undefined) {
      return { action: 'allow', rule: rule.id, reason: `${at}: ${newest.kind} passed in this session` };
    }
    const age = now - newest.at;
    if (age <= rule.max_age) {
      return {
        action: 'allow',
        rule: rule.id,
        reason: `${at}: ${newest.kind} ${formatDuration(age)} ago (within ${formatDuration(rule.max_age)})`,
      };
    }
  }

  // 2. Rollout and enrollment: rollout and grace govern the default policy (and
  // rules that say `rollout: follow`); an explicit rule binds every user.
  const hasQualifying = s.enrolled.some(qualifies);
  if (!s.in_rollout && rule.follows_rollout) {
    if (!stepUp || !hasQualifying) return { action: 'allow', rule: rule.id, reason: `${at}: not in rollout` };
  } else if (s.enrolled.length === 0) {
    if (!stepUp && s.deferred && rule.follows_rollout) return { action: 'allow', rule: rule.id, reason: `${at}: deferred enrollment` };
    return challenge(rule, 'enroll', `${at}: needs ${allowed ? what : 'a second factor'}; user has none enrolled`, true);
  }
  if (!hasQualifying) {
    return challenge(rule, 'enroll', `${at}: needs ${what}; user has only ${kindList(s.enrolled, 'and')} enrolled`, true);
  }

  // 3. Enrolled but not satisfied: ask for it.
  if (!stepUp) {
    // Routine MFA is satisfied by any check, so the session has none.
    return challenge(rule, 'mfa', `${at}: second factor required; none in this session`, true);
  }
  const device = s.remembered_device ? ' (a remembered device does not count for step-up)' : '';
  if (newest && rule.max_age !== undefined) {
    return challenge(
      rule,
      'step_up',
      `${at}: ${what} older than ${formatDuration(rule.max_age)} (last ${newest.kind} ${formatDuration(now - newest.at)} ago)`,
      true,
    );
  }
  if (rule.max_age !== undefined) {
    return challenge(rule, 'step_up', `${at}: needs ${what} within ${formatDuration(rule.max_age)}; none in this session${device}`, true);
  }
  const others = s.factors.length > 0 ? ` (session has ${kindList(uniqueKinds(s.factors), 'and')})` : device;
  return challenge(rule, 'step_up', `${at}: needs ${what}; not used in this session${others}`, true);
}

function newestCheck(checks: readonly FactorCheck[], qualifies: (k: FactorKind) => boolean): FactorCheck | undefined {
  let newest: FactorCheck | undefined;
  for (const c of checks) {
    if (qualifies(c.kind) && (newest === undefined || c.at > newest.at)) newest = c;
  }
  return newest;
}

function uniqueKinds(checks: readonly FactorCheck[]): FactorKind[] {
  return [...new Set(checks.map((c) => c.kind))];
}

function kindList(kinds: readonly string[], joiner: 'or' | 'and'): string {
  const unique = [...new Set(kinds)];
  if (unique.length <= 1) return unique[0] ?? 'nothing';
  return `${unique.slice(0, -1).join(', ')} ${joiner} ${unique[unique.length - 1]}`;
}

/** 450ms, 30s, 5m, 7m12s, 1h30m, 2d3h: the units operators write in the config. */
export function formatDuration(ms: number): string {
  const v = Math.max(0, Math.floor(ms));
  if (v < 1000) return `${v}ms`;
  let rest = Math.floor(v / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const q = Math.floor(rest / size);
    rest -= q * size;
    if (q > 0) parts.push(`${q}${unit}`);
  }
  return parts.join('');
}
