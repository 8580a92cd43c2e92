// JSON Schema of gatehouse.yaml as the operator writes it (before defaults,
// durations still as text), assembled from the section files (sections/*.ts,
// where each section's schema sits beside its loaded type and builder).

import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, ValidateFunction } from 'ajv';
import { obj, type Schema } from './schema-kit.ts';
import { auditSchema } from './sections/audit.ts';
import { brandingSchema } from './sections/branding.ts';
import { factorsSchema } from './sections/factors.ts';
import { headersSchema } from './sections/headers.ts';
import { identitySchema } from './sections/identity.ts';
import { notifierSchema } from './sections/notifier.ts';
import { policySchema } from './sections/policy.ts';
import { riskSchema } from './sections/risk.ts';
import { rolloutSchema } from './sections/rollout.ts';
import { routesSchema } from './sections/routes.ts';
import { serverSchema } from './sections/server.ts';
import { sessionSchema } from './sections/session.ts';
import { sharedStateSchema } from './sections/shared-state.ts';
import { storeSchema } from './sections/store.ts';
import { uiSchema } from './sections/ui.ts';
import { cachedValidator } from './validator-cache.ts';

/** The whole file. Every top-level section is optional; defaults fill the rest. */
export const configSchema: Schema = obj({
  server: serverSchema,
  branding: brandingSchema,
  ui: uiSchema,
  routes: routesSchema,
  identity: identitySchema,
  session: sessionSchema,
  factors: factorsSchema,
  policy: policySchema,
  rollout: rolloutSchema,
  store: storeSchema,
  shared_state: sharedStateSchema,
  notifier: notifierSchema,
  audit: auditSchema,
  headers: headersSchema,
  risk: riskSchema,
});

let compiled: ValidateFunction | undefined;

// optimize: false halves the compile (about 0.2 s of CPU at every start, and in every test
// process); a config is validated a handful of times, so the faster code would never pay back.
const AJV_OPTIONS = { allErrors: true, verbose: true, allowUnionTypes: true, strict: true, strictRequired: false, code: { optimize: false } } as const;

function compile(source: boolean): { ajv: AjvClass; validate: ValidateFunction } {
  // ajv is required here, not imported: a validator read from the cache needs none of it.
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { ...AJV_OPTIONS.code, source } });
  ajv.addKeyword({ keyword: 'errorHint', schemaType: 'string' });
  return { ajv, validate: ajv.compile(configSchema) };
}

/** The compiled validator (built once). Errors carry `parentSchema` so messages can use `errorHint`. */
export function configValidator(): ValidateFunction {
  if (!compiled) {
    const cacheDir = process.env.GATEHOUSE_VALIDATOR_CACHE;
    compiled = cacheDir ? cachedValidator(cacheDir, configSchema, AJV_OPTIONS, compile) : compile(false).validate;
  }
  return compiled;
}

export type SchemaError = ErrorObject;
