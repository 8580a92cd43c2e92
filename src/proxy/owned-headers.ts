// Headers the gateway owns (identity, assertion, anything under the prefix) must
// never reach the upstream from a client, under any spelling an app reads as
// one of them (policy/app-field-names.ts canonicalHeaderName).

import type { HeadersConfig } from '../config/types.ts';
import { canonicalHeaderName } from '../policy/app-field-names.ts';

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
