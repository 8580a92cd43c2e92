// The loaded, validated configuration. It mirrors the YAML keys (snake_case) so
// an operator's file and the code read alike; every default is filled in and
// every duration is a number of milliseconds.

export type Millis = number;

export type FactorKind = 'totp' | 'webauthn' | 'email' | 'sms' | 'recovery';
export type Requirement = 'none' | 'login' | 'mfa' | 'deny';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ServerConfig {
  listen: string;                 // host:port, e.g. 127.0.0.1:8080
  public_url: string;             // origin users see (no trailing slash)
  trusted_proxies: string[];      // CIDRs (IPv4 or IPv6); a bare address is a /32 or /128
  header_timeout: Millis;         // default 10s
  body_timeout: Millis;           // a request body that stalls this long is cut off; default 10s
  keep_alive_timeout: Millis;     // default 5s
  max_header_bytes: number;       // default 16384
  max_header_count: number;       // default 100
  max_body_bytes: number;         // default 1 GiB (0 = unlimited)
  shutdown_timeout: Millis;       // default 10s
  /** CIDRs whose resolved client address may read /.gatehouse/metrics on the public listener; default loopback. */
  metrics_allow: string[];
  /** Optional second listener (host:port) serving only the operator endpoints (metrics, healthz, readyz). */
  admin_listen?: string;
  log_level: LogLevel;            // default info
  /** Names this instance in every audit line (one chain per instance); default the host name. */
  instance_id: string;
}

export interface BrandingConfig {
  product_name: string;           // default "gatehouse"
  logo_url?: string;              // same-origin path or data: URL (no external assets)
  support_contact?: string;       // shown on every page
}

export interface RouteConfig {
  host?: string;                  // lower-cased; optional
  path: string;                   // prefix, starts with '/'
  upstream: string;               // http://host:port[/base]
  websocket: boolean;             // default false
  timeout: Millis;                // upstream response headers; default 30s
  case_insensitive: boolean;      // default false
  path_params: 'reject' | 'allow';// default reject
  preserve_host: boolean;         // send the client's Host upstream; default false
  /** How method overrides (X-HTTP-Method-Override, `_method`, ...) are treated; default evaluate. */
  method_override: 'evaluate' | 'reject' | 'pass';
  /** How the app names parameters for rules' query/params: php reads `name[key]` as name=key; default plain. */
  params_style?: 'plain' | 'php';
  /** Request headers removed before the app sees them (headers an app reads as an action, e.g. X-DokuWiki-Do). */
  strip_headers?: string[];
}

export interface FileIdentityConfig { path: string }
export interface OidcIdentityConfig {
  issuer: string;
  client_id: string;
  client_secret?: string;
  scopes: string[];               // default [openid, profile, email]
  groups_claim: string;           // default groups
  username_claim: string;         // default sub (others warned: users may change them at the IdP)
  trust_idp_mfa: string[];        // amr values counted as a second factor; default []
}
/** Which requests to a login/logout path are the sign-in / sign-out (single-script apps): see policy/request-match.ts. */
export interface FormRequestMatch {
  query?: Record<string, string>; // URL query parameters with these values (`*` wildcards)
  params?: Record<string, string>; // the same, in the query or the form body
  fields?: string[];               // form fields that must be present
}
export interface UpstreamFormIdentityConfig {
  login_path: string;
  logout_path?: string;
  /** A request to login_path is the sign-in (POST) or login page (GET) only when it also matches this. */
  login_match?: FormRequestMatch;
  logout_match?: FormRequestMatch;
  username_field: string;         // default username
  /** How the app compares usernames: fold (case and accents, the default) or exact. */
  username_case: 'fold' | 'exact';
  allow_unicode: boolean;         // default false: non-ASCII usernames refused
  /** user_header: a header of the app's login answer that must name the same user. */
  success: { status?: number; location?: string; set_cookie?: string; user_header?: string };
  /** A page fetched with the new app cookies whose `pattern` (first group) must name the same user. */
  whoami?: { path: string; pattern: string };
  /** The app's session cookie names (a trailing * matches a prefix): tied to the gateway session that released them. */
  app_cookies: string[];
}
/** An emergency account declared in config (argon2id hash here, not in the users file). */
export interface BreakGlassConfig {
  user: string;
  password: string;               // argon2id PHC string
  groups: string[];
  /** false (default): usable only while the store or shared state is down. true: always (an incident is declared). */
  enabled: boolean;
}
export interface IdentityConfig {
  source: 'file' | 'oidc' | 'upstream_form';
  break_glass?: BreakGlassConfig;
  file?: FileIdentityConfig;
  oidc?: OidcIdentityConfig;
  upstream_form?: UpstreamFormIdentityConfig;
}

export interface SessionConfig {
  secret: string;                 // >= 32 chars
  cookie_name: string;            // default __gatehouse (or __Host-gatehouse on https)
  max_age: Millis;                // absolute; default 12h
  idle_timeout: Millis;           // default 30m
  remember_device: Millis;        // 0 disables; default 30d
}

export interface FactorsConfig {
  encryption_key: string;         // secret for TOTP seeds at rest (>= 32 chars)
  totp: { issuer: string };
  webauthn: { rp_name: string };
  email_otp: { ttl: Millis; length: number };
  sms_otp?: { ttl: Millis; length: number };
  recovery_codes: { count: number };
}

export interface RuleMatch {
  host?: string;
  path?: string[];                // patterns: /a/b exact, /a/* one segment, /a/** prefix; always an array after loading
  methods?: string[];             // upper-case; absent = all
  groups?: string[];
  not_groups?: string[];
  networks?: string[];            // CIDRs
  /** URL query parameters (policy/request-match.ts): a pattern, a list of patterns, `present` or `absent`. */
  query?: Record<string, string | string[]>;
  /** The same over the query and a urlencoded / multipart form body (PHP's $_REQUEST). */
  params?: Record<string, string | string[]>;
  /** query / params values compared case-insensitively; default false. */
  ignore_case?: boolean;
}
export interface RuleConfig {
  id: string;
  match: RuleMatch;
  require: Requirement;
  max_age?: Millis;               // freshness of the second factor (step-up)
  factors?: FactorKind[];         // allowed kinds ('phishing_resistant' expanded to webauthn)
  mode: 'enforce' | 'report';     // default enforce
  /** 'follow': rollout and grace apply to this rule as to policy.default; absent: the rule binds every user. */
  rollout?: 'follow';
}
export interface PolicyException {
  user?: string;
  group?: string;
  rule: string;
  reason: string;
  owner: string;
  expires: string;                // ISO date
}
export interface PolicyConfig {
  default: 'none' | 'login' | 'mfa';
  rules: RuleConfig[];
  stash_max_body: number;         // bytes; default 1 MiB
  /** Bytes of a form body read to decide rules with `params` conditions; default 1 MiB. */
  inspect_body_max?: number;
  stash_total_max: number;        // bytes of stashed bodies one instance holds; default 64 MiB
  privileged_groups: string[];    // default [admins]
  exceptions: PolicyException[];
  /** Derived (identity.source upstream_form): the app's login page and sign-in, implicitly open. */
  sign_in?: { path: string; match?: FormRequestMatch };
}

export interface RolloutConfig {
  enforce_for: string[];          // group names, or 'everyone'
  grace_until?: string;           // ISO date
  max_deferrals: number;          // default 3
}

export type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
export type SharedStateConfig = { kind: 'memory' } | { kind: 'redis'; url: string; prefix: string };
export type NotifierConfig =
  | { kind: 'file'; path: string }
  | { kind: 'smtp'; url: string; from: string }
  | { kind: 'webhook'; url: string; headers: Record<string, string>; body_template: string };

export interface AuditConfig {
  path: string;
  max_bytes: number;              // rotate past this size; default 64 MiB
  alert_email?: string;
  /** group: answers wait for a shared write + fdatasync (<= 5 ms batches); always: one per record. */
  sync: 'group' | 'always';
  /** The chain's MAC key (32+ characters); a generated development key when unset (single-instance only). */
  key: string;
  checkpoint: AuditCheckpointConfig;
  forward: AuditForwardConfig;
}

export interface AuditCheckpointConfig {
  lines: number;                  // a checkpoint after this many records; default 1000
  every: Millis;                  // or after this long with new records; default 5m
  webhook?: string;               // POST each checkpoint here (JSON)
  email: boolean;                 // mail each checkpoint to audit.alert_email through the notifier
}

export interface AuditSyslogSink {
  address: string;                // host:port (TCP, RFC 5424 with octet-counting framing)
  tls: boolean;
  ca_file?: string;
  app_name: string;               // default gatehouse
}

export interface AuditHttpSink {
  url: string;
  format: 'ndjson' | 'splunk' | 'elastic' | 'loki';
  headers: Record<string, string>;
}

export interface AuditForwardConfig {
  /** Unsent bytes past which an alert is raised (nothing is dropped: the audit files are the queue). */
  queue_max: number;
  retry_max: Millis;              // longest wait between retries; default 30s
  syslog?: AuditSyslogSink;
  http?: AuditHttpSink;
}

export interface HeaderNames {
  user: string;
  email: string;
  groups: string;
  auth_methods: string;
  auth_time: string;
  assertion: string;
}
export interface HeadersConfig {
  prefix: string;                 // default X-Gatehouse-
  jwt: boolean;                   // default true
  names: HeaderNames;             // built from prefix unless set: User, Email, Groups, Auth-Methods, Auth-Time, Assertion
}

export interface Config {
  server: ServerConfig;
  branding: BrandingConfig;
  routes: RouteConfig[];
  identity: IdentityConfig;
  session: SessionConfig;
  factors: FactorsConfig;
  policy: PolicyConfig;
  rollout: RolloutConfig;
  store: StoreConfig;
  shared_state: SharedStateConfig;
  notifier: NotifierConfig;
  audit: AuditConfig;
  headers: HeadersConfig;
  /** Absolute path of the file this was loaded from (relative paths inside resolve against the process cwd). */
  source_path: string;
  /** Warnings found while loading (e.g. dev secret generated, expired exceptions). */
  warnings: string[];
}
