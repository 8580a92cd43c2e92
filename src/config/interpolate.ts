// Environment interpolation (`${VAR}`, `${VAR:-default}`, `$${` for a literal)
// in the config's string values, and secrets read from `*_file` keys.
//
// Interpolation works on the parsed YAML tree, never on the text, so a value
// from the environment can never inject YAML structure.

import { isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';

export type PathSegment = string | number;
export interface LocatedIssue { segments: PathSegment[]; message: string }

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replaces `${VAR}` and `${VAR:-default}` in one string; `$${` stays a literal `${`. Throws with a readable message. */
export function interpolateString(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(REFERENCE, (whole, body: string | undefined) => {
    if (body === undefined) return '${';
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    if (!VAR_NAME.test(name)) {
      throw new Error(`invalid reference "${whole}": write \${NAME} or \${NAME:-default} (use $\${ for a literal \${)`);
    }
    const set = env[name];
    if (sep === -1) {
      if (set === undefined) throw new Error(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
      return set;
    }
    // Like the shell's :-, an empty variable also takes the default.
    return set === undefined || set === '' ? body.slice(sep + 2) : set;
  });
}

/**
 * Interpolates every string scalar value (not keys) of the document in place.
 * An unquoted value that was entirely a reference and now reads as a number or
 * boolean becomes one, so `port: ${PORT}` works like `port: 8080`.
 */
export function interpolateDocument(doc: Document, env: NodeJS.ProcessEnv): LocatedIssue[] {
  const issues: LocatedIssue[] = [];
  const walk = (node: unknown, segments: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...segments, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...segments, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      try {
        const out = interpolateString(node.value, env);
        node.value = node.type === 'PLAIN' ? retype(out) : out;
      } catch (err) {
        issues.push({ segments, message: (err as Error).message });
      }
    }
  };
  walk(doc.contents as Node | null, []);
  return issues;
}

function retype(s: string): string | number | boolean {
  if (/^-?\d+$/.test(s) && Number.isSafeInteger(Number(s))) return Number(s);
  if (s === 'true') return true;
  if (s === 'false') return false;
  return s;
}

/**
 * Secret keys that may instead be given as `<key>_file` (a path read at load time,
 * trimmed). Listed by the path of the object that holds them.
 */
export const SECRET_KEYS: ReadonlyArray<{ at: string[]; key: string }> = [
  { at: ['session'], key: 'secret' },
  { at: ['factors'], key: 'encryption_key' },
  { at: ['identity', 'oidc'], key: 'client_secret' },
  { at: ['identity', 'break_glass'], key: 'password' }, // the emergency account's hash
  { at: ['store'], key: 'url' },           // postgres URL with its password
  { at: ['shared_state'], key: 'url' },    // redis URL with its password
  { at: ['notifier'], key: 'url' },        // smtp URL with credentials, webhook URL with a token
  { at: ['audit'], key: 'key' },           // the audit chain's MAC key
  { at: ['audit', 'forward', 'http'], key: 'url' },   // a SIEM collector URL with a token (Splunk HEC, Loki)
  { at: ['audit', 'checkpoint'], key: 'webhook' },    // a checkpoint webhook URL with a token
];

/**
 * Moves each `<secret>_file` into `<secret>` by reading the file (relative to the
 * process cwd). Mutates `raw` (the plain object from the YAML); giving both is an error.
 */
export function resolveSecretFiles(raw: unknown, readFile: (path: string) => string): LocatedIssue[] {
  const issues: LocatedIssue[] = [];
  for (const { at, key } of SECRET_KEYS) {
    let holder: unknown = raw;
    for (const seg of at) holder = isPlainObject(holder) ? holder[seg] : undefined;
    if (!isPlainObject(holder)) continue;
    const fileKey = `${key}_file`;
    if (!(fileKey in holder)) continue;
    const filePath = holder[fileKey];
    const segments = [...at, fileKey];
    if (key in holder) {
      issues.push({ segments, message: `give either ${[...at, key].join('.')} or ${[...at, fileKey].join('.')}, not both` });
      continue;
    }
    if (typeof filePath !== 'string' || filePath === '') {
      issues.push({ segments, message: 'must be a file path' });
      continue;
    }
    try {
      const value = readFile(filePath).trim();
      if (value === '') {
        issues.push({ segments, message: `file ${filePath} is empty` });
        continue;
      }
      delete holder[fileKey];
      holder[key] = value;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      issues.push({ segments, message: `cannot read ${filePath}: ${code ?? (err as Error).message}` });
    }
  }
  return issues;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
