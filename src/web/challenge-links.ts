// Where a challenge sends the browser: sign-in, the factor challenge or
// enrollment, each carrying a safe return target (validated again on use).

import type { Decision } from '../policy/types.ts';

type Challenge = Extract<Decision, { action: 'challenge' }>;

export function challengeUrl(d: Challenge, returnTo: string, stash?: string): string {
  const q = new URLSearchParams({ rd: returnTo });
  if (d.kind === 'login') return `/.gatehouse/login?${q}`;
  if (d.rule !== 'default') q.set('rule', d.rule);
  if (stash) q.set('stash', stash);
  return `/.gatehouse/${d.kind === 'enroll' ? 'enroll' : 'challenge'}?${q}`;
}
