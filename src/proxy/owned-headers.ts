// Headers the gateway owns (identity, assertion, anything under the prefix) must
// never reach the upstream from a client. Node lower-cases names; upstream stacks
// read other spellings as the same header: CGI, PHP and many Java/Python
// frameworks treat '_' as '-', lighttpd's CGI/FastCGI turns every character
// other than a letter or digit into '_', and PHP turns '.' into '_'. So every
// such character counts as '-'.

import type { HeadersConfig } from '../config/types.ts';

const OTHER_THAN_ALNUM = /[^a-z0-9-]/;
const EVERY_OTHER_THAN_ALNUM = /[^a-z0-9]/g;

/** The canonical comparison form: lower case, every character but a letter or digit read as '-'. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return OTHER_THAN_ALNUM.test(lower) ? lower.replace(EVERY_OTHER_THAN_ALNUM, '-') : lower;
}

/**
 * Owned whatever the config says: IIS URL Rewrite, ASP.NET, Symfony, Zend and
 * others route by these instead of the request line, so a client's copy would
 * reach a path the policy never judged.
 */
export const ALWAYS_OWNED: readonly string[] = ['x-original-url', 'x-rewrite-url'];

/** Returns a predicate over header names (any case, any punctuation read as '-'). */
export function ownedHeaderMatcher(cfg: HeadersConfig): (name: string) => boolean {
  const isCanonicalOwned = ownedCanonicalMatcher(cfg);
  return (name) => isCanonicalOwned(canonicalHeaderName(name));
}

/** The same predicate over names already in canonical form (a caller that lower-cased once). */
export function ownedCanonicalMatcher(cfg: HeadersConfig): (canonical: string) => boolean {
  const prefix = canonicalHeaderName(cfg.prefix);
  const exact = new Set([...Object.values(cfg.names).map(canonicalHeaderName), ...ALWAYS_OWNED]);
  return (c) => exact.has(c) || (prefix.length > 0 && c.startsWith(prefix));
}
