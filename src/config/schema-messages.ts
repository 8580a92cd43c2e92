// ajv's schema errors rewritten for an operator: the key path, a message in
// plain words (or the schema's `errorHint`), and a "did you mean" for typos.

import type { LocatedIssue, PathSegment } from './interpolate.ts';
import { isObject } from './reader.ts';
import type { SchemaError } from './schema.ts';

export function schemaIssues(errors: SchemaError[], raw: unknown): LocatedIssue[] {
  const out: LocatedIssue[] = [];
  for (const e of errors) {
    if (e.keyword === 'if') continue; // the failing `then` keyword is reported on its own
    const segments = pointerToSegments(e.instancePath, raw);
    const parent = isObject(e.parentSchema) ? e.parentSchema : {};
    const hint = typeof parent.errorHint === 'string' ? parent.errorHint : undefined;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(e.params.additionalProperty);
        const known = Object.keys(isObject(parent.properties) ? parent.properties : {});
        const guess = closest(key, known);
        out.push({
          segments: [...segments, key],
          message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; allowed here: ${known.join(', ')}`,
        });
        break;
      }
      case 'required':
        out.push({ segments: [...segments, String(e.params.missingProperty)], message: hint ?? 'is required' });
        break;
      case 'type': {
        const types: string[] = [e.params.type].flat().map(String);
        const described = typeof parent.description === 'string' ? parent.description : undefined;
        out.push({ segments, message: described ? `must be a ${described}` : `must be ${types.map(article).join(' or ')}` });
        break;
      }
      case 'enum':
        out.push({ segments, message: `must be one of: ${[e.params.allowedValues].flat().join(', ')}` });
        break;
      case 'minLength':
        out.push({ segments, message: 'must not be empty' });
        break;
      case 'minItems':
        out.push({ segments, message: `must list at least ${e.params.limit}` });
        break;
      default:
        out.push({ segments, message: hint ?? e.message ?? 'is invalid' });
    }
  }
  return out;
}

function article(type: string): string {
  return { string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', array: 'a list', object: 'a mapping' }[type] ?? type;
}

function pointerToSegments(pointer: string, raw: unknown): PathSegment[] {
  if (pointer === '') return [];
  const segments: PathSegment[] = [];
  let node = raw;
  for (const part of pointer.slice(1).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(node) ? Number(key) : key;
    segments.push(seg);
    node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return segments;
}

/** The known key nearest to a typo (edit distance ≤ 2), if any; the CLI uses it for option names too. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // A plural or extended form (policies → policy, route → routes) is a typo too.
  if (!best) {
    best = candidates.find((c) => {
      let common = 0;
      while (common < Math.min(word.length, c.length) && word[common].toLowerCase() === c[common].toLowerCase()) common++;
      return common >= 4 && common >= Math.min(word.length, c.length) - 1;
    });
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
