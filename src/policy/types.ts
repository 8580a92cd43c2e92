// What the policy decides from, and what it answers. Evaluation is a pure
// function of these values (no clock, no I/O): evaluate(request, subject, policy, now).

import type { FactorKind, RiskSignal } from '../config/types.ts';
import type { ParamList, ParamsStyle } from './param-match.ts';
import type { RequestBody } from './form-fields.ts';

/** Facts about the request, after normalization. */
export interface RequestFacts {
  host: string;            // lower-case, without port
  method: string;          // upper-case
  /** Decoded, normalized path used for matching; already lower-cased when the route is case_insensitive, path params already removed. */
  path: string;
  ip: string;              // client address (after trusted-proxy resolution)
  /** The raw URL query (without '?'), for rules that match parameters; absent = none. */
  query?: string;
  /** The form fields, when the gateway has read a small urlencoded body; absent = not read. */
  form?: ParamList;
  /** The body for rules with `params` conditions: absent = none, 'unread' = one the gateway did not read. */
  body?: RequestBody;
  /** How the route's app names parameters (routes[].params_style); absent = plain. */
  params_style?: ParamsStyle;
}

/** One passed second-factor check, as recorded in the session. */
export interface FactorCheck {
  kind: FactorKind;        // totp | webauthn | email | sms | recovery
  amr: string;             // RFC 8176 value: otp, hwk, swk, sms, mail, ...
  phishing_resistant: boolean;
  at: number;              // unix ms
}

/** Facts about who is asking. Anonymous requests pass `null` as the subject. */
export interface SubjectFacts {
  user: string;
  groups: string[];
  /** Second factors passed in this session (newest last). */
  factors: FactorCheck[];
  /** This browser is a remembered device for the user: satisfies routine MFA, never a step-up rule (max_age or factors). */
  remembered_device: boolean;
  /** Factor kinds the user has enrolled (to tell 'enroll' from 'challenge'). */
  enrolled: FactorKind[];
  /** Whether the rollout (enforce_for) covers this user. Users outside are never asked for routine MFA. */
  in_rollout: boolean;
  /** The user chose "set up later" within the grace period in this session. */
  deferred: boolean;
  /** The emergency (break-glass) account: challenges are waived, deny rules still hold. */
  breakglass?: boolean;
  /** What the sign-in's risk assessment found (risk section on); absent for a session signed in without one. */
  risk?: RiskFacts;
}

/**
 * Risk signals observed at sign-in by the edge (session/risk-observer.ts: the
 * store's history, GeoIP, failure counts). The live signals (new_device from
 * `remembered_device`, risky_network from the request's address) are judged
 * by the policy on every decision, so a list here never carries them.
 */
export interface RiskFacts {
  /** When they were observed (unix ms): a risk rule's max_age counts back from here. */
  at: number;
  signals: RiskSignal[];
}

export type ChallengeKind =
  | 'login'      // no session: sign in first
  | 'mfa'        // routine second factor
  | 'step_up'    // rule needs a fresher or stronger factor
  | 'enroll';    // user has no factor that satisfies the rule: enroll one

export type Decision =
  | { action: 'allow'; rule: string; reason: string; /** a challenge waived for the break-glass account */ breakglass?: true }
  | { action: 'deny'; rule: string; reason: string }
  | {
      action: 'challenge';
      kind: ChallengeKind;
      rule: string;
      reason: string;
      /** Factor kinds that satisfy the rule (empty = any second factor). */
      factors: FactorKind[];
      /** Required freshness in ms, when the rule has max_age. */
      max_age?: number;
    }
  | {
      /** mode: report: allowed, but logged as a would-be challenge/deny. */
      action: 'report';
      rule: string;
      reason: string;
      would: 'challenge' | 'deny';
      kind?: ChallengeKind;
    };
