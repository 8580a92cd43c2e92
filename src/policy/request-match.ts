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

import { compileParamCondition, conditionHolds, parseParams, valuesOf, type ParamCondition, type ParamConditionSpec, type ParamList } from './param-match.ts';

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
