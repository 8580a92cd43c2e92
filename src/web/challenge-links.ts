// Where a challenge sends the browser: sign-in, the factor challenge or
// enrollment, each carrying a safe return target (validated again on use);
// and what an API client is told instead.

import type { ChallengeKind, Decision } from '../policy/types.ts';

type Challenge = Extract<Decision, { action: 'challenge' }>;

export function challengeUrl(d: Challenge, returnTo: string, stash?: string): string {
  const q = new URLSearchParams({ rd: returnTo });
  if (d.kind === 'login') return `/.gatehouse/login?${q}`;
  if (d.rule !== 'default') q.set('rule', d.rule);
  if (stash) q.set('stash', stash);
  return `/.gatehouse/${d.kind === 'enroll' ? 'enroll' : 'challenge'}?${q}`;
}

/**
 * The `error` of an API client's 401 (README "Request handling", step 7):
 * `mfa_required` for every second-factor challenge (routine, step-up,
 * enrollment: the body's `challenge` says which), `login_required` when there
 * is no session at all.
 */
export function apiChallengeError(kind: ChallengeKind): 'login_required' | 'mfa_required' {
  return kind === 'login' ? 'login_required' : 'mfa_required';
}

/** The 401 JSON body an API client gets for a challenge (the gateway and forward-auth alike). */
export function apiChallengeBody(d: Challenge, absoluteUrl: string) {
  return { error: apiChallengeError(d.kind), challenge: d.kind, challenge_url: absoluteUrl, rule: d.rule, factors: d.factors };
}
