// THE decision point: every step between a raw request-target and what the
// gateway does with it lives here, once. The HTTP pipeline and WebSocket
// upgrades (http/gateway.ts), forward-auth (http/forward-auth.ts), the stash
// replay, the upstream_form login and `gatehouse explain` are adapters: they
// build the facts, call these functions and act on the answer; none repeats
// a step.
//
//   resolveTarget: normalization → absolute-form authority vs Host → (forward-
//     auth: dot segments) → reserved paths → route → path parameters →
//     case-blind check and case folding
//   judge: rule evaluation (path, host, method, client address, query and a
//     form read before deciding; rollout and grace are inside evaluate) →
//     method overrides (per route) → risk rules (risk.ts: the subject's
//     signals are facts like any other) → break-glass
//   decide = resolveTarget + judge, for adapters with no I/O in between;
//   decideAfterAppSignIn = decide plus what an upstream_form sign-in owes.
//
// The gateway needs the session only after the target is resolved (a bad
// target is refused without touching the store), so it calls the two halves.
// Pure: no I/O, the clock is an argument.

import type { Decision, RequestFacts, SubjectFacts } from './types.ts';
import type { ParamList } from './param-match.ts';
import type { CompiledPolicy } from './compile.ts';
import { evaluate, RANK, readsBody, routineMfaDue } from './evaluate.ts';
import type { RequestBody } from './form-fields.ts';
import { hasDotSegment, normalizeTarget, type NormalizedTarget } from './normalize.ts';
import { queryOverrides, joinOverrides, UNREADABLE_OVERRIDE } from './method-override.ts';
import { selectRoute, type Route } from './route-table.ts';
import { applyRisk, type CompiledRisk } from './risk.ts';

export const RESERVED_PREFIX = '/.gatehouse';

/** What decide needs of a config snapshot (web/context.ts Snapshot has it all). */
export interface DecisionSnapshot {
  routes: readonly Route[];
  policy: CompiledPolicy;
  /** The same rules compiled for case-insensitive routes (patterns folded). */
  policyFolded: CompiledPolicy;
  anyRouteAllowsParams: boolean;
  /** The risk section compiled (null or absent: off). */
  risk?: CompiledRisk | null;
}

export interface TargetFacts {
  /** The raw request-target as received (origin- or absolute-form). */
  target: string;
  /** Host asked for: lower-case, without port (Host header; forward-auth: the proxy's X-Forwarded-Host). */
  host: string;
  /**
   * proxy: the gateway forwards its canonical target; no route is a 404.
   * forward-auth: the app gets the proxy's raw target, so dot segments are refused,
   * and a request no route describes is still judged by the policy.
   */
  via: 'proxy' | 'forward-auth';
}

export interface DecideFacts extends TargetFacts {
  method: string;                 // upper-case, the real method
  /** Methods claimed by override headers or a form body's `_method` (the query's are read here). */
  overrides: readonly string[];
  ip: string;                     // resolved client address, '' when unknown
  /** The form fields, when the adapter read a small urlencoded body before deciding (upstream_form login/logout paths). */
  form?: ParamList;
  /** The body for rules with `params` conditions (see needsBody): absent = none, 'unread' = present but not read. */
  body?: RequestBody;
}

export interface Refusal { kind: 'refused'; status: 400 | 404; reason: string; route: Route | null; path: string }
export interface Reserved { kind: 'reserved'; path: string; query: string }
export interface Resolved {
  kind: 'resolved';
  route: Route | null;            // null only via forward-auth
  /** Normalized decoded path (for logs and path comparisons), not case-folded. */
  path: string;
  /** The path as rules see it: folded on case-insensitive routes. */
  rulePath: string;
  /** Canonical path the upstream receives (`;params` kept when allowed). */
  forwardPath: string;
  query: string;
}
export type Resolution = Refusal | Reserved | Resolved;

export interface Decided {
  kind: 'decided';
  route: Route | null;
  decision: Decision;
  /** The facts rules were evaluated on (the real method). */
  facts: RequestFacts;
}
export type Judgement = Refusal | Decided;
export type Verdict = Refusal | Reserved | (Decided & { target: Resolved });

const METHOD = /^[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,31}$/;

function refuse(status: 400 | 404, reason: string, route: Route | null, path: string): Refusal {
  return { kind: 'refused', status, reason, route, path };
}

/** The host of a Host header or authority: lower-case, without port ('' when absent); [IPv6] keeps its brackets. */
export function hostOnly(host: string | undefined): string {
  if (!host) return '';
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** Normalizes once with the strict default; retries allowing ';' only when some route allows it. */
function normalizeFor(snap: DecisionSnapshot, target: string): NormalizedTarget {
  const n = normalizeTarget(target, { pathParams: 'reject', caseInsensitive: false });
  if (!n.ok && n.reason === 'path parameters' && snap.anyRouteAllowsParams) {
    return normalizeTarget(target, { pathParams: 'allow', caseInsensitive: false });
  }
  return n;
}

export function resolveTarget(snap: DecisionSnapshot, f: TargetFacts): Resolution {
  const norm = normalizeFor(snap, f.target);
  if (!norm.ok) return refuse(400, `bad target: ${norm.reason}`, null, f.target.slice(0, 200));
  const path = norm.matchPath;
  // Absolute-form names its own host (RFC 9112 §3.2.2): routing by it while host rules see Host would let one bypass the other.
  if (norm.authority !== undefined && hostOnly(norm.authority) !== f.host) return refuse(400, 'bad target: authority differs from Host', null, path);
  if (f.via === 'forward-auth' && hasDotSegment(f.target)) {
    return refuse(400, 'bad target: dot segment (the app behind the proxy may not resolve it as gatehouse does)', null, path);
  }
  if (path === RESERVED_PREFIX || path.startsWith(`${RESERVED_PREFIX}/`)) return { kind: 'reserved', path, query: norm.query };
  const route = selectRoute(snap.routes, f.host, path) ?? null;
  if (route === null && f.via === 'proxy') return refuse(404, 'no route', null, path);
  if (norm.forwardPath.includes(';') && route?.path_params !== 'allow') return refuse(400, 'bad target: path parameters', route, path);
  let rulePath = path;
  if (route?.case_insensitive) {
    // Case-blind apps (IIS) serve /BILLING as /billing and drop trailing dots ('/admin.' is /admin):
    // normalized again the case-blind way, which refuses such names and folds the path rules see.
    const folded = normalizeTarget(f.target, { pathParams: route.path_params, caseInsensitive: true });
    if (!folded.ok) return refuse(400, `bad target: ${folded.reason} on a case-insensitive route`, route, path);
    rulePath = folded.matchPath;
  }
  return { kind: 'resolved', route, path, rulePath, forwardPath: norm.forwardPath, query: norm.query };
}


export function judge(
  snap: DecisionSnapshot,
  t: Resolved,
  f: Pick<DecideFacts, 'host' | 'method' | 'overrides' | 'ip' | 'form' | 'body'>,
  subject: SubjectFacts | null,
  now: number,
): Judgement {
  const route = t.route;
  const policy = route?.case_insensitive ? snap.policyFolded : snap.policy;
  // Parameters only matter to rules that match them (the implicit upstream_form sign-in rule).
  // One facts object, no spreads: this runs for every request.
  const facts: RequestFacts = { host: f.host, method: f.method, path: t.rulePath, ip: f.ip, query: t.query.length > 1 ? t.query.slice(1) : '' };
  if (f.form) facts.form = f.form;
  if (f.body !== undefined) facts.body = f.body;
  if (route?.params_style === 'php') facts.params_style = 'php';
  let decision = evaluate(facts, subject, policy, now);

  const mode = route?.method_override ?? 'evaluate';
  if (mode !== 'pass') {
    const claimed = joinOverrides(f.overrides, queryOverrides(t.query));
    if (claimed.length > 0) {
      if (mode === 'reject') return refuse(400, 'method override refused on this route (method_override: reject)', route, t.path);
      for (const m of claimed) {
        if (m === UNREADABLE_OVERRIDE) return refuse(400, 'a method override field (_method) that cannot be read', route, t.path);
        if (!METHOD.test(m)) return refuse(400, `bad method override ${JSON.stringify(m.slice(0, 40))}`, route, t.path);
        if (m === f.method) continue;
        // The app may run the overriding method: its rules must hold too; the stricter answer stands.
        const other = evaluate({ ...facts, method: m }, subject, policy, now);
        if (RANK[other.action] > RANK[decision.action]) decision = { ...other, reason: `${other.reason} (as ${m}, the method override)` };
      }
    }
  }

  if (snap.risk) decision = applyRisk(decision, snap.risk, subject, f.ip);

  if (subject?.breakglass && decision.action === 'challenge') {
    // The emergency account skips second factors (never deny rules); the adapter shouts about every such request.
    decision = { action: 'allow', rule: decision.rule, reason: `break-glass (would: ${decision.reason})`, breakglass: true };
  }
  return { kind: 'decided', route, decision, facts };
}

/**
 * Whether the adapter must read the body before deciding: some rule that could
 * decide this request has `params` conditions. Requests on paths without such
 * rules pay one trie walk here and nothing in evaluate.
 */
export function needsBody(snap: DecisionSnapshot, t: Resolved, f: Pick<DecideFacts, 'host' | 'method' | 'ip' | 'overrides'>): boolean {
  const policy = t.route?.case_insensitive ? snap.policyFolded : snap.policy;
  // The methods judge evaluates: the real one and, unless the route passes them, the claimed overrides.
  const methods = t.route?.method_override === 'pass' ? [f.method] : [f.method, ...joinOverrides(f.overrides, queryOverrides(t.query))];
  return methods.some((method) => method !== 'GET' && method !== 'HEAD' && readsBody({ host: f.host, method, path: t.rulePath, ip: f.ip }, policy));
}

export function decide(snap: DecisionSnapshot, f: DecideFacts, subject: SubjectFacts | null, now: number): Verdict {
  const t = resolveTarget(snap, f);
  if (t.kind !== 'resolved') return t;
  const j = judge(snap, t, f, subject, now);
  return j.kind === 'refused' ? j : { ...j, target: t };
}

/**
 * upstream_form: what a user who has just signed in on the app's own form owes
 * before the app's cookies go out, `f` being a GET of the app's redirect
 * target. The target's own decision, and when that allows (the app often
 * redirects to an open page, such as its own login script), the routine
 * second factor (evaluate.ts routineMfaDue): the held cookies must not slip
 * out through an open page.
 */
export function decideAfterAppSignIn(snap: DecisionSnapshot, f: DecideFacts, subject: SubjectFacts | null, now: number): Verdict {
  const v = decide(snap, f, subject, now);
  if (v.kind !== 'decided' || subject === null || subject.breakglass) return v;
  const a = v.decision.action;
  if (a === 'challenge' || a === 'deny') return v;
  const routine = routineMfaDue(subject, v.route?.case_insensitive ? snap.policyFolded : snap.policy, now);
  return { ...v, decision: snap.risk ? applyRisk(routine, snap.risk, subject, f.ip) : routine };
}
