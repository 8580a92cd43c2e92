// The explanation `gatehouse explain` prints (pure): one request run through
// the gateway's one decision function (policy/decide.ts) with a clock passed
// in, and the words that say which rule matched, what the gateway decides, why,
// and what it answers. Explain adds words here, never steps: a request the
// gateway would treat differently from its explanation is a bug in decide.ts's
// callers, not something to patch here.
//
// The session is hypothetical (HypotheticalSession): the command (explain.ts)
// builds it from its options, the store and the users file.

import type { Config, FactorKind, RuleConfig } from '../config/types.ts';
import type { Snapshot } from '../web/context.ts';
import { decide, judge, RESERVED_PREFIX } from '../policy/decide.ts';
import { compilePolicy } from '../policy/compile.ts';
import { formatDuration, paramSources } from '../policy/evaluate.ts';
import { parseParams } from '../policy/param-match.ts';
import { describeParamMatch } from '../policy/request-match.ts';
import { isInRollout } from '../policy/rollout.ts';
import type { Decision, FactorCheck, SubjectFacts } from '../policy/types.ts';
import { factorCheck } from '../factors/types.ts';
import type { Route } from '../policy/route-table.ts';
import { decisionSignals, describeRisk, RISK_RULE, riskRuleFor, scoreSignals } from '../policy/risk.ts';
import { apiChallengeError, challengeUrl } from '../web/challenge-links.ts';


export interface ExplainRequest {
  method: string;      // upper-case
  target: string;      // the raw request-target (path and query), as the gateway receives it
  host: string;        // lower-case, without port
  ip: string;          // '' when not given
  /** Methods claimed by an override header or a `_method` form field (--override). */
  overrides?: string[];
  /** A urlencoded form body (--form 'a=b&c=d'), as rules with `params` read it. */
  form?: string;
  /** How the request reaches the gateway: through its own proxy (default), or described by a proxy asking /authz. */
  via?: 'proxy' | 'forward-auth';
}

export interface HypotheticalSession {
  /** Kinds of the second factors passed in the session. */
  factors: FactorKind[];
  /** How long ago they were passed (ms). */
  freshMs: number;
  remembered: boolean;
  deferred: boolean;
}

export interface RuleView {
  id: string;
  /** Position in policy.rules; -1 for the default policy. */
  index: number;
  match?: RuleConfig['match'];
  require: string;
  max_age?: string;
  factors?: FactorKind[];
  mode: 'enforce' | 'report';
}

export type Outcome = 'allow' | 'challenge' | 'deny' | 'report' | 'bad_target' | 'reserved' | 'no_route';

export interface Explanation {
  request: ExplainRequest & { path: string | null };
  route: { id: string; upstream: string; case_insensitive: boolean; path_params: string; method_override: string } | null;
  subject: (Omit<SubjectFacts, 'factors'> & { factors: Array<{ kind: FactorKind; age: string }> }) | null;
  outcome: Outcome;
  /** One line: `challenge (step_up)`, `report-only: would challenge (mfa); allowed`, ... */
  summary: string;
  reason: string;
  /** The rule the decision names (the report rule for a report-only decision). */
  rule: RuleView | null;
  decision: Decision | null;
  /** For a report-only decision: what is enforced (the request goes through on this). */
  enforced: { rule: RuleView; decision: Decision } | null;
  /** What the gateway answers. */
  answer: string;
  /** The deciding rule's query / params conditions: what each read and whether it matched. */
  params: string[];
  /** The risk score of the request (risk section on, signed in): policy/risk.ts, as decide judged it. */
  risk: { score: number; signals: string[]; words: string; rule: string | null } | null;
  notes: string[];
}

/** The subject a hypothetical session gives the policy. */
export function hypotheticalSubject(
  user: { id: string; groups: string[] },
  session: HypotheticalSession,
  enrolled: FactorKind[],
  config: Pick<Config, 'rollout'>,
  now: number,
): SubjectFacts {
  const factors: FactorCheck[] = [...new Set(session.factors)].map((k) => factorCheck(k, now - session.freshMs));
  return {
    user: user.id,
    groups: user.groups,
    factors,
    remembered_device: session.remembered,
    enrolled,
    in_rollout: isInRollout(user.groups, config.rollout),
    deferred: session.deferred,
  };
}

/** Runs the request through the gateway's steps and the policy, with a clock passed in. */
export function explainRequest(snap: Snapshot, req: ExplainRequest, subject: SubjectFacts | null, now: number): Explanation {
  const config = snap.config;
  const base = {
    request: { ...req, path: null as string | null },
    route: null as Explanation['route'],
    subject: subject && {
      ...subject,
      factors: subject.factors.map((f) => ({ kind: f.kind, age: now === f.at ? '0s' : formatDuration(now - f.at) })),
    },
    rule: null,
    decision: null,
    enforced: null,
    params: [] as string[],
    risk: riskView(snap, subject, req.ip),
    notes: [] as string[],
  };

  // The one decision the gateway makes (policy/decide.ts): explain adds words, never steps.
  const via = req.via ?? 'proxy';
  // A proxy asking /authz never sends the body: forward-auth decides one as unread (http/forward-auth.ts).
  const body = via === 'forward-auth'
    ? (req.method === 'GET' || req.method === 'HEAD' ? undefined : 'unread' as const)
    : req.form === undefined ? undefined : { contentType: 'application/x-www-form-urlencoded', bytes: Buffer.from(req.form, 'latin1') };
  const verdict = decide(snap, {
    target: req.target, host: req.host, via, method: req.method, overrides: req.overrides ?? [], ip: req.ip,
    ...(via === 'proxy' && req.form !== undefined ? { form: parseParams(req.form) } : {}),
    ...(body !== undefined ? { body } : {}),
  }, subject, now);
  const rejected = '400 error page; nothing is proxied and no rule is evaluated';
  if (verdict.kind === 'reserved') {
    base.request.path = verdict.path;
    return { ...base, outcome: 'reserved', summary: 'reserved: the gateway\'s own endpoint', reason: `${RESERVED_PREFIX}/ paths are the gateway's own pages and APIs; never proxied, not subject to policy rules`, answer: 'handled by the gateway itself' };
  }
  const route = verdict.route;
  if (route) base.route = { id: route.id, upstream: route.upstream, case_insensitive: route.case_insensitive, path_params: route.path_params, method_override: route.method_override };
  if (verdict.kind === 'refused') {
    if (verdict.status === 404) {
      base.request.path = verdict.path;
      return { ...base, outcome: 'no_route', summary: 'no route: 404 Not Found', reason: `no route matches host ${JSON.stringify(req.host)} and path ${verdict.path}`, answer: '404 error page' };
    }
    if (verdict.route) base.request.path = verdict.path;
    const why = verdict.reason.replace(/^bad target: /, '');
    const reason = verdict.reason.startsWith('bad target: path parameters') && route
      ? `the request-target has ;path parameters and route ${route.id} does not allow them (path_params: reject)`
      : verdict.reason.startsWith('bad target: ') ? `the request-target is rejected by normalization: ${why}` : why;
    return { ...base, outcome: 'bad_target', summary: 'rejected: 400 Bad Request', reason, answer: rejected };
  }
  const { decision, facts } = verdict;
  base.request.path = facts.path;
  const rule = ruleView(config, decision.rule);

  let enforced: Explanation['enforced'] = null;
  if (decision.action === 'report' && decision.rule === RISK_RULE) {
    // Risk in report mode never changes what happens: the outcome without it is what is enforced.
    const j = judge({ ...snap, risk: null }, verdict.target, { ...facts, overrides: req.overrides ?? [] }, subject, now);
    if (j.kind === 'decided') enforced = { rule: ruleView(config, j.decision.rule), decision: j.decision };
  } else if (decision.action === 'report') {
    // Report rules never change what happens: the outcome without them is what is enforced.
    const enforcing = config.policy.rules.filter((r) => r.mode !== 'report');
    const ids = new Set(enforcing.map((r) => r.id));
    const withoutReport = compilePolicy(
      { ...config.policy, rules: enforcing, exceptions: config.policy.exceptions.filter((e) => ids.has(e.rule)) },
      config.rollout,
      { caseInsensitive: route?.case_insensitive === true },
    );
    const j = judge({ ...snap, policy: withoutReport, policyFolded: withoutReport }, verdict.target, { ...facts, overrides: req.overrides ?? [] }, subject, now);
    if (j.kind === 'decided') enforced = { rule: ruleView(config, j.decision.rule), decision: j.decision };
  }

  const compiled = (route?.case_insensitive ? snap.policyFolded : snap.policy).rules.find((r) => r.id === decision.rule);
  const params = compiled?.params ? describeParamMatch(compiled.params, paramSources(facts)) : [];

  const notes: string[] = [];
  if (req.form !== undefined && (req.method === 'GET' || req.method === 'HEAD')) notes.push(`--form with ${req.method}: the body is not read for rules (give --method POST)`);
  if (req.ip === '' && config.policy.rules.some((r) => r.match.networks !== undefined)) {
    const ids = config.policy.rules.filter((r) => r.match.networks !== undefined).map((r) => r.id);
    notes.push(`no --ip given: rules matching by network (${ids.join(', ')}) were treated as not matching`);
  }
  if (subject) {
    for (const e of config.policy.exceptions) {
      const applies = (e.user === undefined || e.user === subject.user) && (e.group === undefined || subject.groups.includes(e.group));
      if (applies) notes.push(`exception: ${e.user !== undefined ? `user ${e.user}` : `group ${e.group}`} is exempt from rule ${e.rule} until ${e.expires} (${e.reason}; owner ${e.owner})`);
    }
  }

  return {
    ...base,
    outcome: decision.action,
    summary: summarize(decision),
    reason: decision.reason,
    rule,
    decision,
    enforced,
    answer: answerFor(decision, route, req, subject !== null),
    params,
    notes: [...base.notes, ...notes],
  };
}

/** The score decide saw (the same functions, so the words cannot disagree with the decision). */
function riskView(snap: Snapshot, subject: SubjectFacts | null, ip: string): Explanation['risk'] {
  const c = snap.risk;
  if (!c || subject === null) return null;
  const s = scoreSignals(c.weights, decisionSignals(c, subject, ip));
  const rule = riskRuleFor(c, s.score);
  const applies = rule === null
    ? (s.score < c.relaxBelow ? `below relax_routine_below ${c.relaxBelow}: the routine second factor may be skipped` : null)
    : `above ${rule.above}: ${rule.require === 'deny' ? 'deny' : `a second factor ${rule.max_age ? `within ${formatDuration(rule.max_age)} before` : 'since'} the sign-in`}`;
  return { score: s.score, signals: s.signals, words: describeRisk(c.weights, s), rule: applies === null ? null : `${applies}${c.mode === 'report' ? ' (mode report: logged only)' : ''}` };
}

function ruleView(config: Config, id: string): RuleView {
  if (id === RISK_RULE && config.risk.enabled) return { id, index: -1, require: 'risk', mode: config.risk.mode };
  const index = config.policy.rules.findIndex((r) => r.id === id);
  if (index === -1) return { id: 'default', index: -1, require: config.policy.default, mode: 'enforce' };
  const r = config.policy.rules[index];
  return {
    id: r.id,
    index,
    match: r.match,
    require: r.require,
    ...(r.max_age !== undefined ? { max_age: formatDuration(r.max_age) } : {}),
    ...(r.factors !== undefined ? { factors: r.factors } : {}),
    mode: r.mode,
  };
}

function summarize(d: Decision): string {
  switch (d.action) {
    case 'allow': return 'allow';
    case 'deny': return 'deny: 403 Forbidden';
    case 'challenge': return `challenge (${d.kind})`;
    case 'report': return `report-only: would ${d.would}${d.kind ? ` (${d.kind})` : ''}; allowed`;
  }
}

function answerFor(d: Decision, route: Route | null, req: ExplainRequest, signedIn: boolean): string {
  if (req.via === 'forward-auth') return forwardAuthAnswer(d, req, signedIn);
  switch (d.action) {
    case 'allow':
    case 'report':
      return `proxied to ${route!.upstream}${signedIn ? ' with identity headers' : ' (anonymous: no identity headers)'}${reportWords(d)}`;
    case 'deny':
      return '403 error page';
    case 'challenge': {
      const safe = req.method === 'GET' || req.method === 'HEAD';
      if (!safe && signedIn) {
        // The gateway keeps the request and sends the browser back to it afterwards (http/stash.ts).
        const url = challengeUrl(d, req.target, 'ID');
        return `a browser is redirected (302) to ${url}; the ${req.method} is stashed and completed after the challenge (same-origin requests only, within the stash limits; else the user submits again); other clients get 401 {"error":"${apiChallengeError(d.kind)}","challenge":"${d.kind}"}`;
      }
      const url = challengeUrl(d, safe ? req.target : '/');
      return `a browser is redirected (302) to ${url}${safe ? '' : ' (rd: the referring page)'}; other clients get 401 {"error":"${apiChallengeError(d.kind)}","challenge":"${d.kind}"}`;
    }
  }
}

/** A report-mode decision is allowed and counted: what the answer adds for it. */
function reportWords(d: Extract<Decision, { action: 'allow' | 'report' }>): string {
  return d.action === 'report' ? `; counted as a would-be ${d.would} of rule ${d.rule} in the audit log` : '';
}

/** What /.gatehouse/authz answers the proxy that asked (http/forward-auth.ts). */
function forwardAuthAnswer(d: Decision, req: ExplainRequest, signedIn: boolean): string {
  switch (d.action) {
    case 'allow':
    case 'report':
      return `200 to the proxy${signedIn ? ', with the identity headers for it to pass on' : ' (anonymous: no identity headers)'}: it forwards the request${reportWords(d)}`;
    case 'deny':
      return '403 to the proxy, which shows it';
    case 'challenge': {
      const url = challengeUrl(d, req.method === 'GET' || req.method === 'HEAD' ? req.target : '/');
      return `401 {"error":"${apiChallengeError(d.kind)}","challenge":"${d.kind}"} to the proxy, with Location ${url} for nginx's error_page (Traefik and Caddy: a 302 there for a browser); a non-GET is not kept across the challenge (the proxy never sends the body)`;
    }
  }
}

export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  const r = e.request;
  out.push(`request:   ${r.method} ${r.target}  (host ${r.host || '-'}${r.ip ? `, ip ${r.ip}` : ''})`);
  if (r.path !== null && r.path !== r.target) out.push(`path:      ${r.path}  (as rules see it)`);
  if (e.route) out.push(`route:     ${e.route.id} -> ${e.route.upstream}${e.route.case_insensitive ? '  (case-insensitive)' : ''}`);
  if (e.subject) {
    const s = e.subject;
    out.push(`user:      ${s.user}  groups ${s.groups.join(',') || '-'}  ${s.in_rollout ? 'in rollout' : 'not in rollout'}  enrolled ${s.enrolled.join(',') || 'nothing'}`);
    const passed = s.factors.length ? s.factors.map((f) => `${f.kind} ${f.age} ago`).join(', ') : 'no second factor yet (fresh sign-in)';
    out.push(`session:   ${passed}${s.remembered_device ? '; remembered device' : ''}${s.deferred ? '; enrollment deferred' : ''}`);
  } else {
    out.push('user:      anonymous (not signed in)');
  }
  if (e.risk) out.push(`risk:      ${e.risk.words}${e.risk.rule ? `; ${e.risk.rule}` : '; no risk rule applies'}`);
  if (e.rule) out.push(...formatRule('rule:', e.rule));
  for (const p of e.params) out.push(`params:    ${p}`);
  out.push(`decision:  ${e.summary}`);
  out.push(`reason:    ${e.reason}`);
  if (e.enforced) {
    out.push(`enforced:  ${summarize(e.enforced.decision)}: ${e.enforced.decision.reason}`);
  }
  out.push(`answer:    ${e.answer}`);
  for (const n of e.notes) out.push(`note:      ${n}`);
  return `${out.join('\n')}\n`;
}

function formatRule(label: string, v: RuleView): string[] {
  const pad = (s: string) => s.padEnd(11);
  if (v.require === 'risk') return [`${pad(label)}risk (a risk.rules entry: the score above)`];
  if (v.index === -1) return [`${pad(label)}default (no rule matched; policy.default: ${v.require})`];
  const m = v.match ?? {};
  const match = [
    m.host !== undefined ? `host ${m.host}` : '',
    m.path !== undefined ? `path ${m.path.join(' ')}` : '',
    m.methods !== undefined ? `methods ${m.methods.join(',')}` : '',
    m.groups !== undefined ? `groups ${m.groups.join(',')}` : '',
    m.not_groups !== undefined ? `not_groups ${m.not_groups.join(',')}` : '',
    m.networks !== undefined ? `networks ${m.networks.join(',')}` : '',
    ...(['query', 'params'] as const).map((k) => (m[k] !== undefined ? `${k} ${Object.entries(m[k]).map(([n, v]) => `${n}=${([] as string[]).concat(v).join('|')}`).join(' ')}` : '')),
    m.ignore_case ? 'ignore_case' : '',
  ].filter(Boolean).join('  ') || 'everything';
  const require = [
    v.require,
    v.max_age !== undefined ? `max_age ${v.max_age}` : '',
    v.factors !== undefined ? `factors ${v.factors.join(',')}` : '',
    `mode ${v.mode}`,
  ].filter(Boolean).join('  ');
  return [`${pad(label)}${v.id}  (policy.rules[${v.index}])`, `${pad('')}match:   ${match}`, `${pad('')}require: ${require}`];
}
