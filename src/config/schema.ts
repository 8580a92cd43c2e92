// JSON Schema of gatehouse.yaml as the operator writes it (before defaults,
// durations still as text). Every object forbids unknown keys so typos are
// errors. Kind-specific keys are checked with if/then on `kind` / `source`
// rather than oneOf, so an error names the one key that is wrong instead of
// listing every alternative. `errorHint` (an annotation we register) replaces
// ajv's generic message for the keyword beside it.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const nonEmpty: Schema = { type: 'string', minLength: 1 };
const bool: Schema = { type: 'boolean' };
const strList: Schema = { type: 'array', items: nonEmpty };
const duration: Schema = { type: ['string', 'integer'], description: 'duration: 500ms, 30s, 5m, 12h, 30d, 2w, 1h30m, or 0' };
const byteSize: Schema = { type: ['string', 'integer'], description: 'bytes: 16384, 512KiB, 1MiB, 10MB' };
const isoDate: Schema = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', errorHint: 'must be a date written YYYY-MM-DD' };

function obj(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', properties, required, additionalProperties: false, ...extra };
}

/** A key that must be absent unless `why` holds. */
function onlyWhen(why: string): Schema {
  return { not: {}, errorHint: `only allowed when ${why}` };
}

/** if `field` equals `value` then `then` (with a hint naming the condition). */
function when(field: string, value: string, then: Schema): Schema {
  return {
    if: { properties: { [field]: { const: value } }, required: [field] },
    then: { ...then, errorHint: `required when ${field} is ${value}` },
  };
}

const FACTOR_KINDS = ['totp', 'webauthn', 'email', 'sms', 'recovery', 'phishing_resistant'];

const server = obj({
  listen: nonEmpty,
  public_url: nonEmpty,
  trusted_proxies: strList,
  header_timeout: duration,
  body_timeout: duration,
  keep_alive_timeout: duration,
  max_header_bytes: byteSize,
  max_header_count: { type: 'integer', minimum: 1 },
  max_body_bytes: byteSize,
  shutdown_timeout: duration,
  metrics_allow: strList,
  admin_listen: nonEmpty,
  metrics_listen: nonEmpty,
  instance_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', errorHint: 'must be 1-64 letters, digits, dots, dashes or underscores' },
  log_level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
});

const branding = obj({ product_name: nonEmpty, logo_url: nonEmpty, support_contact: nonEmpty });

const route = obj(
  {
    host: nonEmpty,
    path: nonEmpty,
    upstream: nonEmpty,
    websocket: bool,
    timeout: duration,
    case_insensitive: bool,
    path_params: { enum: ['reject', 'allow'] },
    preserve_host: bool,
    method_override: { enum: ['evaluate', 'reject', 'pass'] },
    params_style: { enum: ['plain', 'php'] },
    strip_headers: strList,
  },
  ['path', 'upstream'],
);

const paramValues: Schema = { type: 'object', additionalProperties: str, minProperties: 1 };
const formMatch = obj({ query: paramValues, params: paramValues, fields: strList }, [], { minProperties: 1, errorHint: 'must name at least one of query, params, fields' });

const identity = obj(
  {
    source: { enum: ['file', 'oidc', 'upstream_form'] },
    file: obj({ path: nonEmpty }),
    break_glass: obj({ user: nonEmpty, password: nonEmpty, password_file: nonEmpty, groups: strList, enabled: bool }, ['user']),
    oidc: obj(
      {
        issuer: nonEmpty,
        client_id: nonEmpty,
        client_secret: nonEmpty,
        client_secret_file: nonEmpty,
        scopes: strList,
        groups_claim: nonEmpty,
        username_claim: nonEmpty,
        trust_idp_mfa: strList,
      },
      ['issuer', 'client_id'],
    ),
    upstream_form: obj(
      {
        login_path: nonEmpty,
        logout_path: nonEmpty,
        login_match: formMatch,
        logout_match: formMatch,
        username_field: nonEmpty,
        username_case: { enum: ['fold', 'exact'] },
        allow_unicode: bool,
        whoami: obj({ path: nonEmpty, pattern: nonEmpty }, ['path', 'pattern']),
        app_cookies: strList,
        success: obj(
          { status: { type: 'integer', minimum: 100, maximum: 599 }, location: nonEmpty, set_cookie: nonEmpty, user_header: nonEmpty },
          [],
          { minProperties: 1, errorHint: 'must name at least one of status, location, set_cookie' },
        ),
      },
      ['login_path', 'success'],
    ),
  },
  [],
  { allOf: [when('source', 'oidc', { required: ['oidc'] }), when('source', 'upstream_form', { required: ['upstream_form'] })] },
);

const session = obj({
  secret: nonEmpty,
  secret_file: nonEmpty,
  cookie_name: nonEmpty,
  max_age: duration,
  idle_timeout: duration,
  remember_device: duration,
});

const otp = obj({ ttl: duration, length: { type: 'integer', minimum: 4, maximum: 10 } });

const factors = obj({
  encryption_key: nonEmpty,
  encryption_key_file: nonEmpty,
  totp: obj({ issuer: nonEmpty }),
  webauthn: obj({ rp_name: nonEmpty }),
  email_otp: otp,
  sms_otp: otp,
  recovery_codes: obj({ count: { type: 'integer', minimum: 1, maximum: 100 } }),
});

// A rule's query / params: each name takes a pattern, a list of patterns, or `present` / `absent`.
const ruleParams: Schema = { type: 'object', minProperties: 1, additionalProperties: { type: ['string', 'array'], items: str, minItems: 1 } };

const rule = obj(
  {
    id: nonEmpty,
    match: obj({
      host: nonEmpty,
      path: { type: ['string', 'array'], items: nonEmpty, minItems: 1 },
      methods: { type: 'array', items: nonEmpty, minItems: 1 },
      groups: strList,
      not_groups: strList,
      networks: strList,
      query: ruleParams,
      params: ruleParams,
      ignore_case: bool,
    }),
    require: { enum: ['none', 'login', 'mfa', 'deny'] },
    max_age: duration,
    factors: { type: 'array', items: { enum: FACTOR_KINDS }, minItems: 1 },
    mode: { enum: ['enforce', 'report'] },
    rollout: { enum: ['follow'] },
  },
  ['id', 'require'],
);

const exception = obj(
  { user: nonEmpty, group: nonEmpty, rule: nonEmpty, reason: nonEmpty, owner: nonEmpty, expires: isoDate },
  ['rule', 'reason', 'owner', 'expires'],
);

const policy = obj({
  default: { enum: ['none', 'login', 'mfa'] },
  rules: { type: 'array', items: rule },
  stash_max_body: byteSize,
  stash_total_max: byteSize,
  inspect_body_max: byteSize,
  privileged_groups: strList,
  exceptions: { type: 'array', items: exception },
});

const rollout = obj({
  enforce_for: strList,
  grace_until: isoDate,
  max_deferrals: { type: 'integer', minimum: 0 },
});

const store = obj(
  { kind: { enum: ['sqlite', 'postgres'] }, path: nonEmpty, url: nonEmpty, url_file: nonEmpty },
  ['kind'],
  {
    allOf: [
      when('kind', 'sqlite', { properties: { url: onlyWhen('kind is postgres'), url_file: onlyWhen('kind is postgres') } }),
      when('kind', 'postgres', { required: ['url'], properties: { path: onlyWhen('kind is sqlite') } }),
    ],
  },
);

const sharedState = obj(
  { kind: { enum: ['memory', 'redis'] }, url: nonEmpty, url_file: nonEmpty, prefix: nonEmpty },
  ['kind'],
  {
    allOf: [
      when('kind', 'memory', {
        properties: { url: onlyWhen('kind is redis'), url_file: onlyWhen('kind is redis'), prefix: onlyWhen('kind is redis') },
      }),
      when('kind', 'redis', { required: ['url'] }),
    ],
  },
);

const notifier = obj(
  {
    kind: { enum: ['file', 'smtp', 'webhook'] },
    path: nonEmpty,
    url: nonEmpty,
    url_file: nonEmpty,
    from: nonEmpty,
    headers: { type: 'object', additionalProperties: str },
    body_template: nonEmpty,
  },
  ['kind'],
  {
    allOf: [
      when('kind', 'file', {
        properties: {
          url: onlyWhen('kind is smtp or webhook'),
          url_file: onlyWhen('kind is smtp or webhook'),
          from: onlyWhen('kind is smtp'),
          headers: onlyWhen('kind is webhook'),
          body_template: onlyWhen('kind is webhook'),
        },
      }),
      when('kind', 'smtp', {
        required: ['url', 'from'],
        properties: { path: onlyWhen('kind is file'), headers: onlyWhen('kind is webhook'), body_template: onlyWhen('kind is webhook') },
      }),
      when('kind', 'webhook', {
        required: ['url'],
        properties: { path: onlyWhen('kind is file'), from: onlyWhen('kind is smtp') },
      }),
    ],
  },
);

const auditSyslog = obj({ address: nonEmpty, tls: bool, ca_file: nonEmpty, app_name: nonEmpty }, ['address']);
const auditHttpSink = obj({
  url: nonEmpty,
  format: { enum: ['ndjson', 'splunk', 'elastic', 'loki'] },
  headers: { type: 'object', additionalProperties: { type: 'string' } },
}, ['url']);
const audit = obj({
  path: nonEmpty,
  max_bytes: byteSize,
  alert_email: nonEmpty,
  sync: { enum: ['group', 'always'] },
  key: nonEmpty,
  key_file: nonEmpty,
  checkpoint: obj({ lines: { type: 'integer', minimum: 1 }, every: duration, webhook: nonEmpty, email: bool }),
  forward: obj({ queue_max: byteSize, retry_max: duration, syslog: auditSyslog, http: auditHttpSink }),
});

const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", errorHint: 'must be a valid HTTP header name' };
const headers = obj({
  prefix: headerName,
  jwt: bool,
  names: obj({
    user: headerName,
    email: headerName,
    groups: headerName,
    auth_methods: headerName,
    auth_time: headerName,
    assertion: headerName,
  }),
});

/** The whole file. Every top-level section is optional; defaults fill the rest. */
export const configSchema: Schema = obj({
  server,
  branding,
  routes: { type: 'array', items: route },
  identity,
  session,
  factors,
  policy,
  rollout,
  store,
  shared_state: sharedState,
  notifier,
  audit,
  headers,
});

let compiled: ValidateFunction | undefined;

/** The compiled validator (built once). Errors carry `parentSchema` so messages can use `errorHint`. */
export function configValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true, strictRequired: false });
    ajv.addKeyword({ keyword: 'errorHint', schemaType: 'string' });
    compiled = ajv.compile(configSchema);
  }
  return compiled;
}

export type SchemaError = ErrorObject;
