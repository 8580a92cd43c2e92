// From a session to what the policy and the upstream are told about the user.

import { signedInUser, type UserDirectory } from './current-user.ts';
import type { Config, HeadersConfig } from '../config/types.ts';
import type { AssertionSigner } from '../identity/assertion.ts';
import type { SubjectFacts } from '../policy/types.ts';
import { isInRollout } from '../policy/rollout.ts';
import type { SessionData } from './session-data.ts';
import type { UserRecord } from '../identity/types.ts';

export function subjectFor(identity: UserDirectory, s: SessionData | null, rollout: Config['rollout']): SubjectFacts | null {
  if (!s?.user) return null;
  const user = signedInUser(identity, s);
  if (!user) return null;
  const subject: SubjectFacts = {
    user: user.id,
    groups: user.groups,
    factors: s.factors,
    remembered_device: s.device !== undefined,
    enrolled: s.enrolled ?? [],
    in_rollout: isInRollout(user.groups, rollout),
    deferred: s.deferred === true,
    breakglass: s.breakglass === true,
  };
  if (s.risk) subject.risk = s.risk;
  return subject;
}

/** amr values of a session: the first factor's, then each passed second factor's. */
export function sessionAmr(s: SessionData): string[] {
  const amr = [...(s.amr ?? [])];
  for (const f of s.factors) if (!amr.includes(f.amr)) amr.push(f.amr);
  if (s.device !== undefined && s.factors.length === 0) amr.push('device');
  return amr;
}

/** Unix seconds of the newest second-factor check (or the sign-in when there is none). */
export function authTime(s: SessionData): number {
  let t = s.pwd_at ?? s.created;
  for (const f of s.factors) if (f.at > t) t = f.at;
  return Math.floor(t / 1000);
}

/** What the identity headers are made of: the session, its user, the header settings, the signer of the assertion and the time. */
export interface IdentityHeaderSource {
  identity: UserDirectory;
  session: SessionData | null;
  headers: HeadersConfig;
  signer: Pick<AssertionSigner, 'assertion'>;
  now: number;
}

/**
 * How long one session's identity headers (and the assertion in them) are
 * reused. Shorter than the assertion's re-sign margin, so a reused assertion
 * always has time left.
 */
const REUSE_MS = 30_000;

interface Made {
  basis: object;          // the user record (file users) or the session's profile
  headers: HeadersConfig;
  signer: object;
  audience: string;
  assertion: boolean;
  until: number;
  out: readonly string[];
}

/**
 * Per session object: sessions are immutable (every change is a new object),
 * so a changed session, user record, header settings or signer never meets an
 * old entry, and one session's headers can never be another's.
 */
const made = new WeakMap<SessionData, Made>();

/**
 * The identity headers injected upstream, as flat [name, value] pairs; empty
 * when anonymous. `assertion`: whether the signed assertion goes with them.
 */
export function identityHeaders(src: IdentityHeaderSource, upstreamOrigin: string, assertion: boolean): readonly string[] {
  const s = src.session;
  if (!s?.user) return [];
  const user = signedInUser(src.identity, s);
  if (!user) return [];
  const basis = s.profile ?? user;
  const hit = made.get(s);
  if (hit !== undefined && hit.basis === basis && hit.headers === src.headers && hit.signer === src.signer
    && hit.audience === upstreamOrigin && hit.assertion === assertion && src.now < hit.until) return hit.out;
  const out = makeIdentityHeaders(src, s, user, upstreamOrigin, assertion);
  made.set(s, { basis, headers: src.headers, signer: src.signer, audience: upstreamOrigin, assertion, until: src.now + REUSE_MS, out });
  return out;
}

/** The identity headers built afresh (no reuse): what `identityHeaders` does on a miss. */
export function makeIdentityHeaders(src: IdentityHeaderSource, s: SessionData, user: UserRecord, upstreamOrigin: string, assertion: boolean): string[] {
  const names = src.headers.names;
  const amr = sessionAmr(s);
  const at = authTime(s);
  const out = [
    names.user, user.id,
    names.email, user.email,
    names.groups, user.groups.join(','),
    names.auth_methods, amr.join(' '),
    names.auth_time, String(at),
  ];
  if (assertion) {
    const strong = s.factors.some((f) => f.phishing_resistant);
    out.push(names.assertion, src.signer.assertion({
      sub: user.id, email: user.email, groups: user.groups, amr,
      acr: strong ? 'phr' : s.factors.length > 0 ? 'mfa' : 'pwd',
      auth_time: at, sid: s.sid,
    }, upstreamOrigin));
  }
  return out;
}
