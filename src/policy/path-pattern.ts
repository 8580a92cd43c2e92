// Rule path patterns, parsed once at compile time.
//
//   /a/b     exactly /a/b
//   /a/*     /a plus exactly one more non-empty segment (/a/x, not /a, not /a/x/y)
//   /a/**    /a itself and everything under it (/a, /a/, /a/x, /a/x/y)
//   /a/*/c   a one-segment wildcard anywhere; `**` only as the last segment
//
// Wildcards are whole segments only (`/a/b*` is an error). Paths handed to the
// matcher are already normalized by the request pipeline (decoded, no dot
// segments, no `//`). One trailing slash is not significant, on either side:
// `/billing/pay/` is matched as `/billing/pay`, because most apps route the two
// alike and a rule must not be bypassed by appending a slash.
//
// Case: when a route is case-insensitive the pipeline lower-cases the path; the
// caller then parses the patterns with `caseInsensitive: true`, which lower-cases
// their literal segments (compilePolicy takes the flag and compiles one index
// per flag value).

import { pathPatternProblem } from '../config/path-pattern-check.ts';
import { foldPathCase } from './normalize.ts';

export type PatternSegment = { kind: 'literal'; value: string } | { kind: 'one' } | { kind: 'rest' };

/** How a pattern can be indexed by its leading literal segments. */
export type PatternShape =
  | 'exact'    // only literals
  | 'one'      // literals, then a final `*`
  | 'prefix'   // literals, then a final `**`
  | 'complex'; // a `*` before the end: checked segment by segment

export interface PathPattern {
  source: string;
  shape: PatternShape;
  /** Leading literal segments (before the first wildcard). */
  literal: string[];
  segments: PatternSegment[];
}

export class PathPatternError extends Error {
  readonly pattern: string;
  constructor(pattern: string, problem: string) {
    super(`invalid path pattern ${JSON.stringify(pattern)}: ${problem}`);
    this.name = 'PathPatternError';
    this.pattern = pattern;
  }
}

/** Splits an absolute path into segments; '/' is [], one trailing slash is dropped. */
export function pathSegments(path: string): string[] {
  if (path === '/' || path === '') return [];
  const segs = path.slice(1).split('/');
  if (segs.length > 0 && segs[segs.length - 1] === '') segs.pop();
  return segs;
}

export function parsePathPattern(pattern: string, opts: { caseInsensitive?: boolean } = {}): PathPattern {
  const problem = pathPatternProblem(pattern);
  if (problem !== undefined) throw new PathPatternError(String(pattern), problem);
  const raw = pathSegments(pattern);
  const segments: PatternSegment[] = [];
  for (const seg of raw) {
    // Validated above: '**' is last, '*' is a whole segment.
    if (seg === '**') {
      segments.push({ kind: 'rest' });
    } else if (seg === '*') {
      segments.push({ kind: 'one' });
    } else {
      segments.push({ kind: 'literal', value: opts.caseInsensitive ? foldPathCase(seg) : seg });
    }
  }

  const firstWild = segments.findIndex((s) => s.kind !== 'literal');
  const literal = (firstWild === -1 ? segments : segments.slice(0, firstWild)).map(
    (s) => (s as { kind: 'literal'; value: string }).value,
  );
  let shape: PatternShape;
  if (firstWild === -1) shape = 'exact';
  else if (firstWild === segments.length - 1) shape = segments[firstWild].kind === 'rest' ? 'prefix' : 'one';
  else shape = 'complex';
  return { source: pattern, shape, literal, segments };
}

/** Whether a parsed pattern matches a path given as segments (see pathSegments). */
export function matchPathSegments(p: PathPattern, segs: readonly string[]): boolean {
  const pat = p.segments;
  for (let i = 0; i < pat.length; i++) {
    const s = pat[i];
    if (s.kind === 'rest') return true; // the prefix itself and anything below
    if (i >= segs.length) return false;
    if (s.kind === 'one') {
      if (segs[i] === '') return false;
    } else if (segs[i] !== s.value) {
      return false;
    }
  }
  return segs.length === pat.length;
}

/** Convenience for tests and `gatehouse explain`: match a pattern string against a path. */
export function matchPath(pattern: string, path: string, opts: { caseInsensitive?: boolean } = {}): boolean {
  return matchPathSegments(parsePathPattern(pattern, opts), pathSegments(path));
}
