// Pure mapping from what an OpenID provider says about a user (ID token and
// userinfo claims) to what the gateway keeps in the session: the user id, the
// profile, the IdP's authentication methods, and (when the operator trusts
// them) the IdP's second factor as a FactorCheck. No I/O, no clock: tested
// with tables. See oidc.ts for the design as a whole.

import type { FactorKind } from '../config/types.ts';
import type { FactorCheck } from '../policy/types.ts';

export type Claims = Record<string, unknown>;

/** What the session keeps about an OIDC user. */
export interface OidcProfile {
  user: string;
  email: string;
  display_name: string;
  groups: string[];
}

export interface IdpAuthentication {
  /** The IdP's amr values (RFC 8176), cleaned; [] when it sent none. */
  amr: string[];
  acr?: string;
  /** When the user last authenticated at the IdP (unix ms), when it said. */
  authTime?: number;
}

const MAX_ID = 128;
const MAX_TEXT = 256;
const MAX_GROUPS = 200;
// Control characters would let a claim split an injected header (CR LF) or a log line.
const CONTROL = /[\p{Cc}\p{Cf}]/u;

function cleanText(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '' || s.length > max || CONTROL.test(s)) return undefined;
  return s;
}

/**
 * Groups from a claim that is an array of strings, or one string of names
 * separated by spaces or commas (both shapes are common). Entries that are not
 * clean strings are dropped, duplicates removed, order kept.
 */
export function parseGroups(v: unknown): string[] {
  const raw = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  const out: string[] = [];
  for (const g of raw) {
    const s = cleanText(g, MAX_TEXT);
    // A comma inside a name would read as two groups in X-Gatehouse-Groups.
    if (s !== undefined && !s.includes(',') && !out.includes(s)) out.push(s);
    if (out.length >= MAX_GROUPS) break;
  }
  return out;
}

/** Reads a claim by name; a dotted name (`realm_access.roles`) walks nested objects when no flat claim has that name. */
export function claimAt(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Whether the IdP vouches for nothing about the email: `email_verified` is
 * present and not true (false, the string "false" some IdPs send, anything
 * else: fail closed). Absent is not unverified: many IdPs (Azure AD) omit it
 * and only let users have an email the directory gave them (README "Choosing
 * an identity source", `oidc`).
 */
export function emailUnverified(claims: Claims): boolean {
  if (!Object.hasOwn(claims, 'email_verified')) return false;
  const v = claims.email_verified;
  return v !== true && !(typeof v === 'string' && v.trim().toLowerCase() === 'true');
}

/**
 * The user and profile. The id is the `username_claim` claim, `sub` unless the
 * operator asked otherwise: sub is never reassigned and users cannot change it,
 * and the one configured issuer (the ID token's iss is checked against it)
 * scopes it. Never a fallback from one claim to another: a user without a
 * preferred_username would take an id someone else could then claim as theirs.
 * An email the IdP says is unverified is no id (refused) and no email (dropped):
 * anyone can type any address at an IdP's self-service sign-up, and the app
 * would take X-Gatehouse-Email as who the user is.
 */
export function profileFromClaims(claims: Claims, opts: { usernameClaim: string; groupsClaim: string }): OidcProfile | { error: string } {
  const user = cleanText(claimAt(claims, opts.usernameClaim), MAX_ID);
  if (user === undefined) return { error: `the identity provider sent no usable ${opts.usernameClaim} claim` };
  const unverified = emailUnverified(claims);
  if (opts.usernameClaim === 'email' && unverified) return { error: 'the identity provider says the email used as the username is not verified' };
  return {
    user,
    email: unverified ? '' : cleanText(claims.email, MAX_TEXT) ?? '',
    display_name: cleanText(claims.name, MAX_TEXT) ?? user,
    groups: parseGroups(claimAt(claims, opts.groupsClaim)),
  };
}

/** amr, acr and auth_time from the ID token; malformed values are ignored, never guessed. */
export function idpAuthentication(idToken: Claims): IdpAuthentication {
  const amr = Array.isArray(idToken.amr)
    ? [...new Set(idToken.amr.map((a) => cleanText(a, 64)).filter((a): a is string => a !== undefined && /^[\w.:-]+$/.test(a)))]
    : [];
  const out: IdpAuthentication = { amr };
  const acr = cleanText(idToken.acr, MAX_TEXT);
  if (acr !== undefined) out.acr = acr;
  if (typeof idToken.auth_time === 'number' && Number.isFinite(idToken.auth_time) && idToken.auth_time > 0) out.authTime = Math.floor(idToken.auth_time) * 1000;
  return out;
}

/** IdP amr values that prove a phishing-resistant key: RFC 8176 hwk, and phr/phrh (OpenID EAP ACR values used as amr by some IdPs). */
const PHISHING_RESISTANT_AMR = new Set(['hwk', 'phr', 'phrh']);

/**
 * The IdP's second factor as a gateway FactorCheck, when the operator trusts
 * one of the amr values it reported (`trust_idp_mfa`) and it said when the
 * user authenticated. Otherwise undefined (the gateway asks for its own).
 *
 * Mapping: a trusted hwk/phr/phrh → kind 'webauthn' (phishing-resistant, so a
 * `factors: [webauthn]` rule counts it); any other trusted value (otp, mfa,
 * swk, sms, …) → kind 'totp', so rules that accept an authenticator app count
 * it and rules that demand webauthn do not. `amr` keeps the IdP's own value
 * (the strongest trusted one) for headers and the assertion; `at` is the IdP's
 * auth_time, so a step-up's max_age measures the IdP sign-in's age. Without
 * auth_time the freshness is unknown: not counted (fail closed).
 */
export function idpFactorCheck(auth: IdpAuthentication, trusted: readonly string[]): FactorCheck | undefined {
  if (auth.authTime === undefined) return undefined;
  const hits = auth.amr.filter((a) => trusted.includes(a));
  if (hits.length === 0) return undefined;
  const strong = hits.find((a) => PHISHING_RESISTANT_AMR.has(a));
  const kind: FactorKind = strong !== undefined ? 'webauthn' : 'totp';
  return { kind, amr: strong ?? hits[0], phishing_resistant: strong !== undefined, at: auth.authTime };
}

/** Session amr for an OIDC sign-in: 'ext' (first factor done at an external IdP), then the IdP's own values. */
export function sessionAmrFor(auth: IdpAuthentication): string[] {
  return ['ext', ...auth.amr.filter((a) => a !== 'ext')];
}

/** Merges two check lists keeping the newest check per kind (a fresh IdP sign-in next to gateway factors already passed). */
export function mergeChecks(older: readonly FactorCheck[], newer: readonly FactorCheck[]): FactorCheck[] {
  const byKind = new Map<FactorKind, FactorCheck>();
  for (const c of [...older, ...newer]) {
    const seen = byKind.get(c.kind);
    if (seen === undefined || c.at >= seen.at) byKind.set(c.kind, c);
  }
  return [...byKind.values()].sort((a, b) => a.at - b.at);
}
