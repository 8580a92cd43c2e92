// Conditions on named request parameters (URL query or form fields), pure.
// A parameter condition is a value pattern (`*` matches any run of characters,
// everything else literally, case-sensitive), or presence / absence.
//
// Ambiguity fails closed: a value pattern holds only when the parameter has
// exactly one value. Apps disagree about repeated parameters (PHP keeps the
// last, servlets the first), so a request that names one twice cannot be
// said to mean any single value.

/** Decoded name/value pairs in their order in the request. */
export type ParamList = readonly (readonly [string, string])[];

export type ParamCondition =
  | { kind: 'value'; pattern: string; regex: RegExp | null }
  | { kind: 'present' }
  | { kind: 'absent' };

/** How a condition is written in the config: a value pattern, or `{ present: true|false }`. */
export type ParamConditionSpec = string | { present: boolean };

/** Parses application/x-www-form-urlencoded text (a query without its '?', or a form body). */
export function parseParams(encoded: string): [string, string][] {
  const text = encoded.startsWith('?') ? encoded.slice(1) : encoded;
  if (text === '') return [];
  return [...new URLSearchParams(text)];
}

export function compileParamCondition(spec: ParamConditionSpec): ParamCondition {
  if (typeof spec === 'object') return spec.present ? { kind: 'present' } : { kind: 'absent' };
  if (!spec.includes('*')) return { kind: 'value', pattern: spec, regex: null };
  const source = spec.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return { kind: 'value', pattern: spec, regex: new RegExp(`^${source}$`, 's') };
}

/** Every value the parameter `name` has in `params`, in order. */
export function valuesOf(params: ParamList, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of params) if (k === name) out.push(v);
  return out;
}

/** Whether the values a parameter has satisfy the condition. */
export function conditionHolds(cond: ParamCondition, values: readonly string[]): boolean {
  switch (cond.kind) {
    case 'present':
      return values.length > 0;
    case 'absent':
      return values.length === 0;
    case 'value':
      if (values.length !== 1) return false;
      return cond.regex === null ? values[0] === cond.pattern : cond.regex.test(values[0]);
  }
}

// ---- Parameters as an app reads them (declared rules' `query` / `params`) ----
//
// Declared rules are decided on what the app may see, and doubt fails closed:
// a condition is 'yes', 'no' or 'unsure'. Names and values are compared after
// one percent-decoding ('+' is a space, in the query too, as PHP reads it); a
// value that is not UTF-8 or holds a control character is unreadable (null),
// and an unreadable name puts every condition on that source in doubt.

export type Tristate = 'yes' | 'no' | 'unsure';

/** How the app's platform names parameters: `php` reads `name[key]` as `name` with value `key`, `name[]` as `name`. */
export type ParamsStyle = 'plain' | 'php';

/** One parameter as the app reads it; value null when it cannot be read the way the app would. */
export type DecodedParam = readonly [string, string | null];

export interface DecodedParams {
  pairs: DecodedParam[];
  /** Some name could not be decoded: no condition on this source can be answered with certainty. */
  doubtful: boolean;
  /**
   * Names that platforms read differently here, so a condition on them is in
   * doubt: a pair holding ';' (Rack 2 and Perl's CGI split pairs there too;
   * its pieces are also in `pairs`). Absent when there is none.
   */
  ambiguous?: string[];
}

/** A source the gateway could not read (a body over the limit, of another type, not seen at all). */
export const UNREADABLE: DecodedParams = Object.freeze({ pairs: [], doubtful: true }) as DecodedParams;

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Control characters: a value holding one is unreadable (apps strip or trim them before comparing). */
export const CONTROL = /[\u0000-\u001f\u007f]/;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Whether a component needs no decoding: no '%', no '+', nothing outside printable ASCII (the common case). */
function plain(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 || c === 43 || c < 32 || c > 126) return false;
  }
  return true;
}

/** One percent-decoding of a latin1 string of bytes ('+' as a space); null when not UTF-8 or a control character results. */
export function decodeComponent(raw: string, plusIsSpace = true): string | null {
  if (plain(raw)) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    // IIS and ASP.NET read %uXXXX as a UTF-16 unit, PHP and servlets as text: the app's reading is unknown.
    if (c === 37 && (raw.charCodeAt(i + 1) | 0x20) === 117 && /^[0-9a-f]{4}$/i.test(raw.slice(i + 2, i + 6))) return null;
    if (c === 37 && i + 2 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    if (c > 255) return null; // not a byte string: the caller passed decoded text
    bytes[n++] = c === 43 && plusIsSpace ? 32 : c;
  }
  let text: string;
  try {
    text = UTF8.decode(bytes.subarray(0, n));
  } catch {
    return null;
  }
  return CONTROL.test(text) ? null : text;
}

/**
 * The name PHP registers a parameter under: cut at NUL, leading spaces dropped,
 * ' ' and '.' made '_' (an unclosed '[' too); `a[k]…` and `a[]` are the array `a`
 * (`key`: what is between the first brackets).
 */
export function phpName(name: string): { base: string; key?: string } {
  const n = name.split('\0', 1)[0].replace(/^ +/, '');
  const open = n.indexOf('[');
  const close = open > 0 ? n.indexOf(']', open) : -1;
  if (open <= 0 || close === -1) return { base: n.replace(/[ .[]/g, '_') };
  return { base: n.slice(0, open).replace(/[ .]/g, '_'), key: n.slice(open + 1, close) };
}

/** PHP's reading of a parameter: `a[k]…` is `a` with value `k`, `a[]` is `a`. */
export function phpParam(name: string, value: string | null): DecodedParam {
  const { base, key } = phpName(name);
  return key === undefined || key === '' ? [base, value] : [base, key];
}

/** Decodes urlencoded text (a query without '?', or a form body read as latin1) the way the app's platform does. */
export function decodeParams(encoded: string, style: ParamsStyle = 'plain'): DecodedParams {
  const out: DecodedParams = { pairs: [], doubtful: false };
  const text = encoded;
  // A scan with indexOf, not split: this runs for every request a parameter rule looks at.
  for (let start = text.startsWith('?') ? 1 : 0; start < text.length;) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      const first = out.pairs.length;
      addPair(out, text, start, end, style);
      const semi = text.indexOf(';', start);
      if (semi !== -1 && semi < end) {
        // Read as Rack 2 and Perl's CGI do as well: the pieces count as occurrences, and every name involved is in doubt.
        for (let s = start; s <= end;) {
          let e = text.indexOf(';', s);
          if (e === -1 || e > end) e = end;
          if (e > s) addPair(out, text, s, e, style);
          s = e + 1;
        }
        out.ambiguous ??= [];
        for (let i = first; i < out.pairs.length; i++) out.ambiguous.push(out.pairs[i][0]);
      }
    }
    start = end + 1;
  }
  return out;
}

/** Decodes the pair text[start, end) into `out` (an undecodable name makes the source doubtful). */
function addPair(out: DecodedParams, text: string, start: number, end: number, style: ParamsStyle): void {
  const eq = text.indexOf('=', start);
  const split = eq === -1 || eq > end ? end : eq;
  const name = decodeComponent(text.slice(start, split));
  const value = split === end ? '' : decodeComponent(text.slice(split + 1, end));
  if (name === null) out.doubtful = true;
  else out.pairs.push(style === 'php' ? phpParam(name, value) : [name, value]);
}

/** A condition of a declared rule: one of several value patterns, or presence / absence. */
export type ValueCondition =
  | { kind: 'values'; patterns: (string | RegExp)[]; ignoreCase: boolean; written: readonly string[] }
  | { kind: 'present' }
  | { kind: 'absent' };

/** As written in the config: a pattern, a list of patterns, or the keywords `present` / `absent` (alone). */
export type ValueConditionSpec = string | readonly string[];

export function compileValueCondition(spec: ValueConditionSpec, ignoreCase = false): ValueCondition {
  if (spec === 'present') return { kind: 'present' };
  if (spec === 'absent') return { kind: 'absent' };
  const list = typeof spec === 'string' ? [spec] : spec;
  const patterns = list.map((p) => {
    const c = compileParamCondition(ignoreCase ? p.toLowerCase() : p);
    return c.kind === 'value' && c.regex !== null ? c.regex : ignoreCase ? p.toLowerCase() : p;
  });
  return { kind: 'values', patterns, ignoreCase, written: list };
}

function valueMatches(cond: Extract<ValueCondition, { kind: 'values' }>, value: string): boolean {
  const v = cond.ignoreCase ? value.toLowerCase() : value;
  for (const p of cond.patterns) if (typeof p === 'string' ? p === v : p.test(v)) return true;
  return false;
}

/** A parameter's name against a condition's (`name` already lower-case when folding). */
export function sameName(k: string, name: string, fold: boolean): boolean {
  return k === name || (fold && k.length === name.length && k.toLowerCase() === name);
}

/**
 * Whether the occurrences of `name` in the sources satisfy the condition. A
 * value condition is 'yes' when every occurrence matches (the app may read any
 * of them: PHP the last, servlets the first), 'no' when none does, and
 * 'unsure' otherwise: the caller then lets the most demanding rule apply.
 * `foldNames`: the app reads names case-blind (ASP.NET); `name` is given in lower case.
 */
export function valueConditionHolds(cond: ValueCondition, name: string, sources: readonly DecodedParams[], foldNames = false): Tristate {
  let found = 0;
  let hits = 0;
  let unreadable = 0;
  let doubtful = false;
  let ambiguous = false;
  for (const s of sources) {
    if (s.doubtful) doubtful = true;
    if (s.ambiguous?.some((a) => sameName(a, name, foldNames))) ambiguous = true;
    for (const [k, v] of s.pairs) {
      if (!sameName(k, name, foldNames)) continue;
      found++;
      if (cond.kind !== 'values') continue;
      if (v === null) unreadable++;
      else if (valueMatches(cond, v)) hits++;
    }
  }
  switch (cond.kind) {
    case 'present':
      return ambiguous ? 'unsure' : found > 0 ? 'yes' : doubtful ? 'unsure' : 'no';
    case 'absent':
      return ambiguous ? 'unsure' : found > 0 ? 'no' : doubtful ? 'unsure' : 'yes';
    case 'values':
      if (doubtful || unreadable > 0) return 'unsure';
      if (found === 0 || hits === 0) return 'no';
      return hits === found ? 'yes' : 'unsure';
  }
}
