// Push approval with number matching: the pure part. A push request is a
// value; answering it, reading its status and the limits against push bombing
// are functions of that value, the answer and the time (passed in).

/** What the approval page shows about the sign-in it approves. */
export interface PushContext {
  /** The application (route) and what is done there: "GET /reports", "POST /billing/pay". */
  app: string;
  action: string;
  /** The client address the sign-in came from. */
  ip: string;
  /** Its country (ISO 3166 alpha-2), when the risk section's GeoIP knows it. */
  country?: string;
  /** The step-up rule, when one asked. */
  rule?: string;
}

/** Why the push was sent: a challenge, or the confirmation of a channel being enrolled. */
export type PushPurpose = 'challenge' | 'enroll';

export type PushStatus = 'pending' | 'approved' | 'denied' | 'not_me' | 'wrong_number' | 'expired';

export interface PushRequest {
  id: string;
  user: string;
  purpose: PushPurpose;
  /** The number the sign-in page shows; one of `choices`. */
  number: number;
  /** The three numbers the approval page offers, in the order shown. */
  choices: number[];
  created: number;
  expires: number;
  status: PushStatus;
  context: PushContext;
  /** enroll: the channel being confirmed (stored as the factor's data once approved). */
  channel?: Record<string, unknown>;
  answered_at?: number;
  /** The factor (channel) whose link or notification was answered. */
  answered_via?: string;
}

export const CHOICES = 3;

/**
 * Pure: the number to show and the three to offer, from `rand(n)` (an integer
 * in [0, n)). Two digits (10–99), all different, the right one at a random place.
 */
export function pickNumbers(rand: (n: number) => number): { number: number; choices: number[] } {
  const choices: number[] = [];
  while (choices.length < CHOICES) {
    const n = 10 + rand(90);
    if (!choices.includes(n)) choices.push(n);
  }
  return { number: choices[rand(CHOICES)], choices };
}

/** Pure: the status as of `now` (a pending request past its deadline has expired). */
export function statusAt(req: PushRequest, now: number): PushStatus {
  return req.status === 'pending' && now >= req.expires ? 'expired' : req.status;
}

export type PushAnswer = { choice: number } | { deny: 'denied' | 'not_me' };

/**
 * Pure: the request after the phone's answer, or why the answer changes
 * nothing (it was answered already, or it expired). A number that is not the
 * one shown refuses the request: no second try from the phone.
 */
export function answerPush(req: PushRequest, answer: PushAnswer, now: number, via?: string): { ok: true; req: PushRequest } | { ok: false; status: PushStatus } {
  const status = statusAt(req, now);
  if (status !== 'pending') return { ok: false, status };
  const next: PushStatus = 'deny' in answer ? answer.deny : answer.choice === req.number ? 'approved' : 'wrong_number';
  return { ok: true, req: { ...req, status: next, answered_at: now, ...(via ? { answered_via: via } : {}) } };
}

/** Pure: a status that counts against the user toward a push suspension. */
export function countsAsRefusal(status: PushStatus): boolean {
  return status === 'denied' || status === 'not_me' || status === 'wrong_number' || status === 'expired';
}

/** Pure: the wait after the `n`th push in the window before the next one may go out (backoff, doubling). */
export function backoffAfter(n: number, baseMs: number): number {
  if (n < 1 || baseMs <= 0) return 0;
  return baseMs * 2 ** Math.min(16, n - 1);
}

/** Pure: a request read back from shared state, or undefined when it is not one. */
export function parsePushRequest(raw: string | null): PushRequest | undefined {
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as PushRequest;
    const ok = typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.user === 'string'
      && Number.isInteger(v.number) && Array.isArray(v.choices) && typeof v.expires === 'number' && typeof v.status === 'string';
    return ok ? v : undefined;
  } catch {
    return undefined;
  }
}
