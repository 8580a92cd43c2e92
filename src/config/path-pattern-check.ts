// The one validator of rule path patterns: `gatehouse check` (via the config
// loader) and the policy compiler (policy/path-pattern.ts) both ask it, so a
// pattern check accepts always compiles.
//
//   /a/b exact, /a/* one more segment, /a/** the prefix and below; wildcards
//   are whole segments, `**` only last; no `//`, no `.`/`..` (a normalized
//   request path never holds them, so such a rule could never match), no
//   query, fragment or control characters.

/** Why a rule path pattern is invalid (a phrase without the pattern), or undefined. */
export function pathPatternProblem(pattern: string): string | undefined {
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) return "must start with '/'";
  if (/[?#]/.test(pattern)) return 'patterns match the path only (no ? or #)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'control characters are not allowed';
  const segments = pattern.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg === '' && i < segments.length - 1) return 'empty segment (//)';
    if (seg === '.' || seg === '..') return 'dot segments (. and ..) never match a normalized path';
    if (seg === '**' && i !== segments.length - 1) return '** is only allowed as the last segment';
    if (seg.includes('*') && seg !== '*' && seg !== '**') return "wildcards must be whole segments ('*' or '**', like /a/* or /a/**)";
  }
  return undefined;
}
