// Matching a request by its parameters, pure: the URL query, the form fields
// (when the body is a small urlencoded form the gateway has read), or either.
//
//   query:  conditions on the URL query only
//   form:   conditions on the form body only
//   params: conditions on query and form together, the way PHP's $_REQUEST or
//           a servlet's getParameter sees them: the parameter must have exactly
//           one value across both (a name in both is ambiguous, so it fails)
//   fields: form fields that must be present (any value)
//
// A form the gateway did not read (`form: undefined`: not a form, too large,
// streamed) satisfies no form, params or fields condition.

import {
  compileParamCondition, compileValueCondition, conditionHolds, parseParams, sameName, UNREADABLE, valueConditionHolds, valuesOf,
  type DecodedParams, type ParamCondition, type ParamConditionSpec, type ParamList, type Tristate, type ValueCondition, type ValueConditionSpec,
} from './param-match.ts';

export interface RequestMatchSpec {
  query?: Record<string, ParamConditionSpec>;
  form?: Record<string, ParamConditionSpec>;
  params?: Record<string, ParamConditionSpec>;
  fields?: readonly string[];
}

export interface CompiledRequestMatch {
  query: readonly (readonly [string, ParamCondition])[];
  form: readonly (readonly [string, ParamCondition])[];
  params: readonly (readonly [string, ParamCondition])[];
  fields: readonly string[];
}

/** The parameters of one request: the raw query string (parsed on demand), and the form when read. */
export interface RequestParams {
  query: string;
  form?: ParamList;
}

function compileConditions(spec: Record<string, ParamConditionSpec> | undefined): [string, ParamCondition][] {
  return Object.entries(spec ?? {}).map(([name, c]) => [name, compileParamCondition(c)]);
}

export function compileRequestMatch(spec: RequestMatchSpec): CompiledRequestMatch {
  return {
    query: compileConditions(spec.query),
    form: compileConditions(spec.form),
    params: compileConditions(spec.params),
    fields: [...(spec.fields ?? [])],
  };
}

/** True when the match names no condition at all (every request matches). */
export function isEmptyMatch(m: CompiledRequestMatch): boolean {
  return m.query.length === 0 && m.form.length === 0 && m.params.length === 0 && m.fields.length === 0;
}

/** Whether the request's parameters satisfy every condition of the match. */
export function matchRequest(m: CompiledRequestMatch, p: RequestParams): boolean {
  if (isEmptyMatch(m)) return true;
  const needsForm = m.form.length > 0 || m.params.length > 0 || m.fields.length > 0;
  if (needsForm && p.form === undefined) return false;
  const query = m.query.length > 0 || m.params.length > 0 ? parseParams(p.query) : [];
  for (const [name, cond] of m.query) if (!conditionHolds(cond, valuesOf(query, name))) return false;
  const form = p.form ?? [];
  for (const [name, cond] of m.form) if (!conditionHolds(cond, valuesOf(form, name))) return false;
  for (const [name, cond] of m.params) {
    if (!conditionHolds(cond, [...valuesOf(query, name), ...valuesOf(form, name)])) return false;
  }
  for (const name of m.fields) if (!form.some(([k]) => k === name)) return false;
  return true;
}

// ---- Declared rules: `match.query` / `match.params` (three-valued) ----
//
//   query:  conditions on the URL query
//   params: the same over the query and the form body together (PHP's $_REQUEST)
// Each condition holds when every occurrence of the name matches (see
// param-match.ts valueConditionHolds); 'unsure' lets the caller apply the most
// demanding of the rules in doubt.

export interface ParamMatchSpec {
  query?: Record<string, ValueConditionSpec>;
  params?: Record<string, ValueConditionSpec>;
  /** Values compared case-insensitively (DokuWiki takes do=ADMIN as do=admin). */
  ignore_case?: boolean;
  /** Names compared case-insensitively: the route is case_insensitive (IIS, ASP.NET read ?ACTION= as action). */
  fold_names?: boolean;
}

export interface CompiledParamMatch {
  query: readonly (readonly [string, ValueCondition])[];
  params: readonly (readonly [string, ValueCondition])[];
  /** Whether a body the gateway could not read puts this match in doubt. */
  readsBody: boolean;
  /** Names compared case-blind (the condition names above are then lower-case). */
  foldNames: boolean;
}

/** The request's parameters as the app reads them, decoded on first use. */
export interface ParamSources {
  query(): DecodedParams;
  body(): DecodedParams;
}

export function compileParamMatch(spec: ParamMatchSpec): CompiledParamMatch | undefined {
  const foldNames = spec.fold_names === true;
  const compile = (s: Record<string, ValueConditionSpec> | undefined) =>
    Object.entries(s ?? {}).map(([name, c]) => [foldNames ? name.toLowerCase() : name, compileValueCondition(c, spec.ignore_case === true)] as const);
  const query = compile(spec.query);
  const params = compile(spec.params);
  if (query.length === 0 && params.length === 0) return undefined;
  return { query, params, readsBody: params.length > 0, foldNames };
}

export function matchParams(m: CompiledParamMatch, src: ParamSources): Tristate {
  let result: Tristate = 'yes';
  for (const [name, cond] of m.query) {
    const r = valueConditionHolds(cond, name, [src.query()], m.foldNames);
    if (r === 'no') return 'no';
    if (r === 'unsure') result = 'unsure';
  }
  for (const [name, cond] of m.params) {
    const r = valueConditionHolds(cond, name, [src.query(), src.body()], m.foldNames);
    if (r === 'no') return 'no';
    if (r === 'unsure') result = 'unsure';
  }
  return result;
}

/**
 * For `gatehouse explain`: each condition of the match, the occurrences it
 * read (where from, the decoded value) and its verdict, one line each.
 */
export function describeParamMatch(m: CompiledParamMatch, src: ParamSources): string[] {
  const lines: string[] = [];
  const one = (key: 'query' | 'params', name: string, cond: ValueCondition, sources: [string, DecodedParams][]) => {
    const verdict = valueConditionHolds(cond, name, sources.map(([, s]) => s), m.foldNames);
    const seen: string[] = [];
    for (const [where, s] of sources) {
      for (const [k, v] of s.pairs) if (sameName(k, name, m.foldNames)) seen.push(`${where} ${k}=${v === null ? '(unreadable)' : JSON.stringify(v)}`);
      if (s.doubtful) seen.push(`${where}: ${s === UNREADABLE ? 'not read (or not a form)' : 'a name that cannot be decoded'}`);
      if (s.ambiguous?.some((a) => sameName(a, name, m.foldNames))) seen.push(`${where}: a pair holding ';' (some platforms split there)`);
    }
    const want = cond.kind === 'values' ? `${cond.written.join(' | ')}${cond.ignoreCase ? ' (any case)' : ''}` : cond.kind;
    const said = verdict === 'yes' ? 'matched' : verdict === 'no' ? 'no match' : 'in doubt (the most demanding rule applies)';
    lines.push(`${key}.${name} ${want}: ${said}; ${seen.length > 0 ? seen.join(', ') : 'not in the request'}`);
  };
  for (const [name, cond] of m.query) one('query', name, cond, [['query', src.query()]]);
  for (const [name, cond] of m.params) one('params', name, cond, [['query', src.query()], ['body', src.body()]]);
  return lines;
}
