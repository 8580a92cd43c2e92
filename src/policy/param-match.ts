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
