// Adaptive MFA (README "Risk signals"): the risk score of a decision and what
// the risk rules make of the policy's answer. Pure: the signals are facts (the
// sign-in's, kept in the session, plus two judged here on every decision); no
// clock: a rule's max_age counts back from the sign-in. Called from decide.ts
// only, after the rules.
//
// - Score: the sum of the weights (risk.signals) of the raised signals.
// - Live signals: new_device = the browser carries no remembered device of
//   the user (SubjectFacts.remembered_device); risky_network = the request's
//   address is in an operator's risky-network file. The others come from the
//   sign-in (SubjectFacts.risk).
// - Rules: the one with the highest `above` that the score exceeds applies
//   (a deny before an mfa rule at the same bar).
//   - deny → deny, whatever the policy said.
//   - mfa → satisfied by a second factor passed no earlier than `max_age`
//     before the sign-in's assessment (max_age 0: passed since). A remembered
//     device never satisfies it. Not satisfied: a challenge the policy already
//     gives stands (passing it satisfies this too); an allow becomes a
//     step-up challenge (rule `risk`), or enrollment for a user with no factor.
// - relax_routine_below: with no rule applying and a score below the bar, the
//   routine second-factor challenge (kind `mfa`, never a step-up or
//   enrollment) becomes an allow.
// - mode: report changes nothing: an allow the rules would have changed is
//   answered `report` (logged, request passes); a relaxation is only named
//   in the reason.
// - Anonymous requests and policy denials are left alone.

import net from 'node:net';
import { RISK_SIGNALS, type RiskConfig, type RiskRuleConfig, type RiskSignal } from '../config/sections/risk.ts';
import { formatDuration, ipInList } from './evaluate.ts';
import type { Decision, SubjectFacts } from './types.ts';

/** The rule id of a risk decision (logs, metrics, the challenge URL, the audit). */
export const RISK_RULE = 'risk';

/** Signals judged on every decision rather than taken from the sign-in. */
export const LIVE_SIGNALS: readonly RiskSignal[] = ['new_device', 'risky_network'];

export interface CompiledRisk {
  weights: Readonly<Record<RiskSignal, number>>;
  /** Highest `above` first; at the same bar a deny first. */
  rules: readonly RiskRuleConfig[];
  relaxBelow: number;
  mode: RiskConfig['mode'];
  risky: net.BlockList | null;
}

export function compileRisk(cfg: RiskConfig): CompiledRisk | null {
  if (!cfg.enabled) return null;
  let risky: net.BlockList | null = null;
  for (const cidr of cfg.risky_cidrs) {
    risky ??= new net.BlockList();
    const [addr, bits] = cidr.split('/');
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    risky.addSubnet(addr, bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits), family);
  }
  const rules = [...cfg.rules].sort((a, b) => b.above - a.above || (a.require === 'deny' ? -1 : 0) - (b.require === 'deny' ? -1 : 0));
  return { weights: cfg.signals, rules, relaxBelow: cfg.relax_routine_below, mode: cfg.mode, risky };
}

export interface RiskScore {
  score: number;
  /** Raised signals, in RISK_SIGNALS order. */
  signals: RiskSignal[];
}

/** The score of a set of raised signals (duplicates count once). */
export function scoreSignals(weights: Readonly<Record<RiskSignal, number>>, raised: Iterable<RiskSignal>): RiskScore {
  const set = new Set(raised);
  const signals = RISK_SIGNALS.filter((s) => set.has(s));
  return { score: signals.reduce((sum, s) => sum + weights[s], 0), signals };
}

/** Every signal raised for this decision: the sign-in's and the live ones. */
export function decisionSignals(c: CompiledRisk, subject: Pick<SubjectFacts, 'remembered_device' | 'risk'>, ip: string): RiskSignal[] {
  // A list the session cannot carry (the live signals) is judged here, never taken from it.
  const out = (subject.risk?.signals ?? []).filter((s) => !LIVE_SIGNALS.includes(s));
  if (!subject.remembered_device) out.push('new_device');
  if (c.risky !== null && ipInList(c.risky, ip)) out.push('risky_network');
  return out;
}

/** The rule that applies to a score, or null. */
export function riskRuleFor(c: CompiledRisk, score: number): RiskRuleConfig | null {
  return c.rules.find((r) => score > r.above) ?? null;
}

/** What the rules make of a score before any session fact: the sign-in's audit line and `gatehouse report` count it. */
export type RiskOutcome = 'deny' | 'mfa' | 'relax' | 'none';

export function riskOutcome(c: CompiledRisk, score: number): RiskOutcome {
  const rule = riskRuleFor(c, score);
  if (rule !== null) return rule.require;
  return score < c.relaxBelow ? 'relax' : 'none';
}

/** `risk 70 (new_country 40, new_device 20, new_network 10)`: the words of reasons and `explain`. */
export function describeRisk(weights: Readonly<Record<RiskSignal, number>>, s: RiskScore): string {
  if (s.signals.length === 0) return `risk ${s.score} (no signal)`;
  const parts = [...s.signals].sort((a, b) => weights[b] - weights[a]).map((name) => `${name} ${weights[name]}`);
  return `risk ${s.score} (${parts.join(', ')})`;
}

/**
 * The score without building the signal list (every request of a signed-in
 * user comes here; the list and the words are built only when a rule or the
 * relaxation has something to say).
 */
function scoreOf(c: CompiledRisk, subject: SubjectFacts, ip: string): number {
  let score = 0;
  for (const s of subject.risk?.signals ?? []) if (!LIVE_SIGNALS.includes(s)) score += c.weights[s];
  if (!subject.remembered_device) score += c.weights.new_device;
  if (c.risky !== null && ipInList(c.risky, ip)) score += c.weights.risky_network;
  return score;
}

/** The policy's decision as the risk rules leave it (see the top of this file). */
export function applyRisk(d: Decision, c: CompiledRisk | null, subject: SubjectFacts | null, ip: string): Decision {
  if (c === null || subject === null || d.action === 'deny') return d;
  const score = scoreOf(c, subject, ip);
  const rule = riskRuleFor(c, score);
  if (rule === null) {
    if (score >= c.relaxBelow || d.action !== 'challenge' || d.kind !== 'mfa') return d;
    return relaxed(d, c, scoreSignals(c.weights, decisionSignals(c, subject, ip)));
  }
  if (rule.require === 'mfa') {
    const since = (subject.risk?.at ?? 0) - (rule.max_age ?? 0);
    if (subject.factors.some((f) => f.at >= since)) return d;
    if (d.action === 'challenge' && c.mode === 'report') return d;
  }
  const what = `${describeRisk(c.weights, scoreSignals(c.weights, decisionSignals(c, subject, ip)))} above ${rule.above}`;
  if (rule.require === 'deny') return enforce(d, c, { action: 'deny', rule: RISK_RULE, reason: `${what}: denied` });
  if (d.action === 'challenge') return { ...d, reason: `${d.reason}; ${what}` };
  const when = rule.max_age ? `within ${formatDuration(rule.max_age)} before the sign-in` : 'since the sign-in';
  const ask: Decision = subject.enrolled.length === 0
    ? { action: 'challenge', kind: 'enroll', rule: RISK_RULE, reason: `${what}: needs a second factor; user has none enrolled`, factors: [] }
    : { action: 'challenge', kind: 'step_up', rule: RISK_RULE, reason: `${what}: needs a second factor ${when}${subject.remembered_device ? ' (a remembered device does not count)' : ''}`, factors: [] };
  return enforce(d, c, ask);
}

/** In enforce mode the risk answer; in report mode an allow becomes `report` naming it, anything else stands. */
function enforce(d: Decision, c: CompiledRisk, risk: Decision): Decision {
  if (c.mode === 'enforce') return risk;
  if (d.action !== 'allow' || (risk.action !== 'deny' && risk.action !== 'challenge')) return d;
  const out: Decision = { action: 'report', rule: RISK_RULE, reason: `${risk.reason} [report only; enforced: ${d.reason}]`, would: risk.action };
  if (risk.action === 'challenge') out.kind = risk.kind;
  return out;
}

function relaxed(d: Decision, c: CompiledRisk, s: RiskScore): Decision {
  if (d.action !== 'challenge' || d.kind !== 'mfa') return d;
  const why = `${describeRisk(c.weights, s)} below relax_routine_below ${c.relaxBelow}`;
  if (c.mode === 'report') return { ...d, reason: `${d.reason} [report only: would skip it, ${why}]` };
  return { action: 'allow', rule: d.rule, reason: `routine second factor skipped, ${why} (was: ${d.reason})` };
}
