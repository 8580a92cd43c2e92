// Reading the username from an app's login request the way the app will, pure.
//
// The gateway keys second factors on this username, so it must be the user the
// app signs in, not merely the first `username` the gateway parses:
// - a field repeated in the body is refused (PHP keeps the last value, most
//   other parsers the first);
// - the field also present in the URL query is refused (servlets read the
//   query first, PHP's $_REQUEST the body);
// - usernames are compared in one canonical form. `fold` (the default) is for
//   apps whose user table ignores case and accents (most SQL collations):
//   `Victim` and `vîctim` are the gateway user `victim`. `exact` is for apps
//   that tell them apart. Non-ASCII usernames are refused unless
//   `allow_unicode` (their folding differs between databases); surrounding
//   spaces and control characters are always refused.

import { parseParams, valuesOf, type ParamList } from '../policy/param-match.ts';

export const MAX_USERNAME_LENGTH = 128;

export interface UsernameRules {
  username_case: 'fold' | 'exact';
  allow_unicode: boolean;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * The raw username a login request carries in `field`: null when absent or
 * empty; refused when ambiguous (repeated, or also in the query).
 */
export function readLoginUsername(query: string, form: ParamList, field: string): Outcome<string | null> {
  if (valuesOf(parseParams(query), field).length > 0) return { ok: false, reason: `the ${field} field is also in the URL query` };
  const values = valuesOf(form, field);
  if (values.length > 1) return { ok: false, reason: `the ${field} field is repeated` };
  return { ok: true, value: values.length === 0 || values[0] === '' ? null : values[0] };
}

/** The gateway's user id for a username the app accepts, or why it cannot be one. */
export function canonicalUsername(raw: string, rules: UsernameRules): Outcome<string> {
  if (raw.length === 0 || raw.length > MAX_USERNAME_LENGTH) return { ok: false, reason: 'username empty or too long' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(raw)) return { ok: false, reason: 'username has control characters' };
  if (raw.trim() !== raw) return { ok: false, reason: 'username starts or ends with a space' };
  const ascii = /^[\x20-\x7e]*$/.test(raw);
  if (!ascii && !rules.allow_unicode) return { ok: false, reason: 'username has non-ASCII characters (identity.upstream_form.allow_unicode is off)' };
  if (rules.username_case === 'exact') return { ok: true, value: ascii ? raw : raw.normalize('NFC') };
  if (ascii) return { ok: true, value: raw.toLowerCase() };
  // Compatibility forms (ｆｕｌｌｗｉｄｔｈ), accents and case all fold away, as in an accent-insensitive collation.
  const folded = raw.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().normalize('NFKC');
  if (folded.length === 0 || folded.trim() !== folded) return { ok: false, reason: 'username folds to nothing usable' };
  return { ok: true, value: folded };
}

/** Whether the user the app names (a header, its whoami page) is `user`, compared canonically. */
export function namesSameUser(user: string, named: string | undefined | null, rules: UsernameRules): boolean {
  if (named === undefined || named === null) return false;
  const c = canonicalUsername(named.trim(), rules);
  return c.ok && c.value === user;
}

/** The user named by the app's whoami page: the pattern's first capture group (or whole match), HTML entities for &<>"' decoded. */
export function whoamiUser(body: string, pattern: RegExp): string | null {
  const m = pattern.exec(body);
  if (!m) return null;
  const raw = m[1] ?? m[0];
  return raw.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]!);
}
