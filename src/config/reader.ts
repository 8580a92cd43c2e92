// Reads the raw (schema-checked) config tree for the section builders. The
// readers tolerate values of the wrong type (the schema has already reported
// them) so that one pass finds every semantic problem too; a builder's result
// is only used when no issue was found at all.

import { parseByteSize, parseDuration } from './duration.ts';
import type { LocatedIssue, PathSegment } from './interpolate.ts';

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message of a thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Reader {
  issues: LocatedIssue[];
  constructor(issues: LocatedIssue[]) {
    this.issues = issues;
  }
  fail(segments: PathSegment[], message: string): void {
    this.issues.push({ segments, message });
  }
  section(o: Obj, key: string): Obj {
    const v = o[key];
    return isObject(v) ? v : {};
  }
  items(o: Obj, key: string): unknown[] {
    const v = o[key];
    return Array.isArray(v) ? v : [];
  }
  str(o: Obj, key: string): string | undefined {
    const v = o[key];
    return typeof v === 'string' ? v : undefined;
  }
  bool(o: Obj, key: string, fallback: boolean): boolean {
    const v = o[key];
    return typeof v === 'boolean' ? v : fallback;
  }
  int(o: Obj, key: string, fallback: number): number {
    return this.optionalInt(o, key) ?? fallback;
  }
  optionalInt(o: Obj, key: string): number | undefined {
    const v = o[key];
    return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  }
  /** One of the schema's `enum` values (the same list types the result), else the fallback. */
  oneOf<const T extends readonly string[]>(o: Obj, key: string, values: T, fallback: T[number]): T[number] {
    return values.find((x) => x === o[key]) ?? fallback;
  }
  list(o: Obj, key: string): string[] | undefined {
    const v = o[key];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  }
  /** A string-to-string mapping (non-string values are the schema's to report). */
  stringMap(o: Obj, key: string): Record<string, string> {
    return Object.fromEntries(Object.entries(this.section(o, key)).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  duration(o: Obj, key: string, at: PathSegment[], fallback: string): number {
    return this.parsed(o, key, at, fallback, parseDuration);
  }
  optionalDuration(o: Obj, key: string, at: PathSegment[]): number | undefined {
    return o[key] === undefined ? undefined : this.duration(o, key, at, '0');
  }
  bytes(o: Obj, key: string, at: PathSegment[], fallback: string): number {
    return this.parsed(o, key, at, fallback, parseByteSize);
  }
  private parsed(o: Obj, key: string, at: PathSegment[], fallback: string, parse: (v: string | number) => number): number {
    const v = o[key];
    if (typeof v !== 'string' && typeof v !== 'number') return parse(fallback);
    try {
      return parse(v);
    } catch (err) {
      this.fail([...at, key], messageOf(err));
      return 0;
    }
  }
}
