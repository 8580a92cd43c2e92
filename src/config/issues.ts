// Where a config problem is and how it reads: `file:line key.path: message`.
// Problems are collected as key paths (segments); the line is looked up in the
// parsed YAML document at the end, so every check only names the key.

import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { LocatedIssue, PathSegment } from './interpolate.ts';
import type { Config } from './types.ts';

export interface ConfigIssue { path: string; line?: number; message: string }

export class ConfigError extends Error {
  issues: ConfigIssue[];
  file: string;
  /**
   * The sections as the loader read them despite the issues (a default where a
   * value is at fault), when the file got that far. Only for a tool that needs
   * one setting no issue names (`gatehouse user` and identity.source); nothing
   * may run on it.
   */
  unchecked?: Omit<Config, 'source_path' | 'warnings'>;
  constructor(file: string, issues: ConfigIssue[], unchecked?: Omit<Config, 'source_path' | 'warnings'>) {
    super(formatIssues(file, issues));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
    if (unchecked) this.unchecked = unchecked;
  }
}

/** `config/gatehouse.yaml:12 routes[0].upstream: must be an http(s) URL`, one line per issue. */
export function formatIssues(file: string, issues: ConfigIssue[]): string {
  return issues
    .map((i) => `${file}${i.line ? `:${i.line}` : ''}${i.path ? ` ${i.path}` : ''}: ${i.message}`)
    .join('\n');
}

/** Located issues with their lines, one per key path and message, in file order. */
export function toIssues(located: LocatedIssue[], doc: Document, lc: LineCounter): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const { segments, message } of located) {
    const path = formatPath(segments);
    const dedupe = `${path}\0${message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    out.push({ path, line: lineOf(doc, lc, segments), message });
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** `['routes', 0, 'upstream']` → `routes[0].upstream`. */
export function formatPath(segments: PathSegment[]): string {
  let s = '';
  for (const seg of segments) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return s;
}

/**
 * Line of the key (or sequence item) the path names; when the path goes further
 * than the document (a missing key), the line of the deepest existing parent.
 * A secret given as `<key>_file` is found under that name.
 */
function lineOf(doc: Document, lc: LineCounter, segments: PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const seg of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const keyIs = (name: string) => (p: { key: unknown }) => isScalar(p.key) && String(p.key.value) === name;
      const pair = node.items.find(keyIs(String(seg))) ?? node.items.find(keyIs(`${String(seg)}_file`));
      if (!pair) return line;
      const at = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      if (at !== undefined) line = lc.linePos(at).line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (!isNode(item)) return line;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}
