// The building blocks of the JSON Schema of gatehouse.yaml (see schema.ts),
// shared by the section files. Every object forbids unknown keys so typos are
// errors. Kind-specific keys are checked with if/then on `kind` / `source`
// rather than oneOf, so an error names the one key that is wrong instead of
// listing every alternative. `errorHint` (an annotation registered in
// schema.ts) replaces ajv's generic message for the keyword beside it.

export type Schema = Record<string, unknown>;

/**
 * The `properties` of the schema of a loaded shape `T`: one per key of `T` (of
 * every member, for a union), plus `Extra` (keys only the file has, such as
 * `secret_file`), minus `Derived` (keys the loader computes). Written as
 * `obj({...} satisfies PropertiesOf<T>)`, the compiler refuses a schema that
 * misses a key of the type or names one the type lacks, so each section's
 * shape is described once, by its type.
 */
export type PropertiesOf<T, Extra extends string = never, Derived extends string = never> =
  Record<Exclude<T extends unknown ? keyof T & string : never, Derived> | Extra, Schema>;

export const str: Schema = { type: 'string' };
export const nonEmpty: Schema = { type: 'string', minLength: 1 };
export const bool: Schema = { type: 'boolean' };
export const strList: Schema = { type: 'array', items: nonEmpty };
export const stringMap: Schema = { type: 'object', additionalProperties: str };
export const duration: Schema = { type: ['string', 'integer'], description: 'duration: 500ms, 30s, 5m, 12h, 30d, 2w, 1h30m, or 0' };
export const byteSize: Schema = { type: ['string', 'integer'], description: 'bytes: 16384, 512KiB, 1MiB, 10MB' };
export const isoDate: Schema = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', errorHint: 'must be a date written YYYY-MM-DD' };

export function int(minimum: number, maximum?: number): Schema {
  return { type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) };
}

/**
 * One of these values. The section files pass the same `as const` list to
 * `Reader.oneOf` and derive the loaded type from it, so the allowed values are
 * written once.
 */
export function choice(values: readonly string[]): Schema {
  return { enum: [...values] };
}

export function obj(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', properties, required, additionalProperties: false, ...extra };
}

/** A key that must be absent unless `why` holds. */
export function onlyWhen(why: string): Schema {
  return { not: {}, errorHint: `only allowed when ${why}` };
}

/** if `field` equals `value` then `then` (with a hint naming the condition). */
export function when(field: string, value: string, then: Schema): Schema {
  return {
    if: { properties: { [field]: { const: value } }, required: [field] },
    then: { ...then, errorHint: `required when ${field} is ${value}` },
  };
}
