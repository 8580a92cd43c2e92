// Loads gatehouse.yaml into a validated `Config`: YAML (with line numbers) →
// environment interpolation → `*_file` secrets → JSON Schema → semantic checks
// and defaults. Every problem is collected (never just the first) and reported
// with its key path and line, so one `gatehouse check` run shows them all.
//
// Relative paths inside the config (users file, database, audit log...) are
// kept as written and resolve against the process's working directory, not the
// config file's directory: `npm start` and `gatehouse serve` run from the
// project root, where the bundled config's `config/users.yaml` and `data/` live.
//
// Secrets: session.secret and factors.encryption_key fall back to the
// GATEHOUSE_SESSION_SECRET / GATEHOUSE_ENCRYPTION_KEY environment variables, and
// then to generated development secrets kept in <store dir>/dev-secrets.json
// (with a warning), so the demo runs with no setup and production needs no edit.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { pathPatternProblem } from './path-pattern-check.ts';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type {
  FormRequestMatch, UpstreamFormIdentityConfig,
  AuditConfig, BrandingConfig, Config, FactorKind, FactorsConfig, HeadersConfig, IdentityConfig,
  NotifierConfig, PolicyConfig, PolicyException, RolloutConfig, RouteConfig, RuleConfig, RuleMatch,
  ServerConfig, SessionConfig, SharedStateConfig, StoreConfig,
} from './types.ts';
import { parseByteSize, parseDuration } from './duration.ts';
import { interpolateDocument, resolveSecretFiles, type LocatedIssue, type PathSegment } from './interpolate.ts';
import { configValidator, type SchemaError } from './schema.ts';

export interface ConfigIssue { path: string; line?: number; message: string }

export class ConfigError extends Error {
  issues: ConfigIssue[];
  file: string;
  constructor(file: string, issues: ConfigIssue[]) {
    super(formatIssues(file, issues));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Reads `*_file` secrets (and the config itself in loadConfig). Default: fs.readFileSync utf8. */
  readFile?: (p: string) => string;
  /** Clock for exception expiry. Default: new Date(). */
  now?: () => Date;
  /**
   * When a dev secret is generated, store it in dev-secrets.json so restarts keep
   * it (default true). `gatehouse check` passes false: it reads an existing file
   * but never creates one.
   */
  persistDevSecrets?: boolean;
  /**
   * Generate missing development secrets (default true). `gatehouse audit verify`
   * passes false: it may use a stored one, but a fresh random key would only
   * make every MAC look forged. Secrets found nowhere stay '', and are not
   * required even when shared: a tool that reads the config checks the ones it
   * needs (the gateway's session secret is not verify's business).
   */
  generateDevSecrets?: boolean;
}

/** `config/gatehouse.yaml:12 routes[0].upstream: must be an http(s) URL`, one line per issue. */
export function formatIssues(file: string, issues: ConfigIssue[]): string {
  return issues
    .map((i) => `${file}${i.line ? `:${i.line}` : ''}${i.path ? ` ${i.path}` : ''}: ${i.message}`)
    .join('\n');
}

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `cannot read the config file: ${code}` }]);
  }
  return parseConfig(text, file, opts);
}

export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const now = (opts.now ?? (() => new Date()))();

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      // Errors found at end of input (an unclosed quote) point at its last line, not past it.
      doc.errors.map((e) => ({
        path: '',
        line: lineCounter.linePos(Math.min(e.pos[0], Math.max(0, text.trimEnd().length - 1))).line,
        message: `YAML syntax: ${e.message}`,
      })),
    );
  }
  const interpolationIssues = interpolateDocument(doc, env);
  const located: LocatedIssue[] = [...interpolationIssues];
  let raw: unknown = doc.toJS() ?? {};
  if (!isObject(raw)) {
    throw new ConfigError(file, [{ path: '', line: 1, message: 'the file must be a YAML mapping of sections (server:, routes:, ...)' }]);
  }
  located.push(...resolveSecretFiles(raw, readFile));

  const validate = configValidator();
  if (!validate(raw)) located.push(...schemaIssues(validate.errors ?? [], raw));

  const warnings: string[] = [];
  const built = buildConfig(raw, located, warnings, now, env, opts.generateDevSecrets ?? true);

  if (located.length > 0) {
    // A value whose interpolation failed is still the raw `${...}` text: later
    // complaints about it would only be noise.
    const unresolved = new Set(interpolationIssues.map((i) => formatPath(i.segments)));
    const relevant = located.filter((i, n) => n < interpolationIssues.length || !unresolved.has(formatPath(i.segments)));
    throw new ConfigError(file, toIssues(relevant, doc, lineCounter));
  }
  try {
    fillDevSecrets(built, warnings, opts.persistDevSecrets ?? true, opts.generateDevSecrets ?? true);
  } catch (err) {
    throw new ConfigError(file, [{ path: 'session.secret', message: (err as Error).message }]);
  }
  return { ...built, source_path: resolve(file), warnings };
}

// ---------------------------------------------------------------------------
// Issue locations

function toIssues(located: LocatedIssue[], doc: Document, lc: LineCounter): ConfigIssue[] {
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
      const item = node.items[seg] as { range?: [number, number, number] } | undefined;
      if (!item) return line;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}

// ---------------------------------------------------------------------------
// Schema errors → readable issues

function schemaIssues(errors: SchemaError[], raw: unknown): LocatedIssue[] {
  const out: LocatedIssue[] = [];
  for (const e of errors) {
    if (e.keyword === 'if') continue; // the failing `then` keyword is reported on its own
    const segments = pointerToSegments(e.instancePath, raw);
    const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
    const hint = typeof parent.errorHint === 'string' ? parent.errorHint : undefined;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(e.params.additionalProperty);
        const known = Object.keys((parent.properties ?? {}) as object);
        const guess = closest(key, known);
        out.push({
          segments: [...segments, key],
          message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; allowed here: ${known.join(', ')}`,
        });
        break;
      }
      case 'required':
        out.push({ segments: [...segments, String(e.params.missingProperty)], message: hint ?? 'is required' });
        break;
      case 'type': {
        const types = ([] as string[]).concat(e.params.type as string | string[]);
        const described = typeof parent.description === 'string' ? parent.description : undefined;
        out.push({ segments, message: described ? `must be a ${described}` : `must be ${types.map(article).join(' or ')}` });
        break;
      }
      case 'enum':
        out.push({ segments, message: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` });
        break;
      case 'minLength':
        out.push({ segments, message: 'must not be empty' });
        break;
      case 'minItems':
        out.push({ segments, message: `must list at least ${e.params.limit}` });
        break;
      default:
        out.push({ segments, message: hint ?? e.message ?? 'is invalid' });
    }
  }
  return out;
}

function article(type: string): string {
  return { string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', array: 'a list', object: 'a mapping' }[type] ?? type;
}

function pointerToSegments(pointer: string, raw: unknown): PathSegment[] {
  if (pointer === '') return [];
  const segments: PathSegment[] = [];
  let node = raw;
  for (const part of pointer.slice(1).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(node) ? Number(key) : key;
    segments.push(seg);
    node = isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return segments;
}

/** The known key nearest to a typo (edit distance ≤ 2), if any. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // A plural or extended form (policies → policy, route → routes) is a typo too.
  if (!best) {
    best = candidates.find((c) => {
      let common = 0;
      while (common < Math.min(word.length, c.length) && word[common].toLowerCase() === c[common].toLowerCase()) common++;
      return common >= 4 && common >= Math.min(word.length, c.length) - 1;
    });
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

// ---------------------------------------------------------------------------
// Defaults and semantic checks. The readers below tolerate values of the wrong
// type (the schema has already reported them) so that one pass finds every
// semantic problem too; the result is only used when no issue was found.

type Obj = Record<string, unknown>;
type Built = Omit<Config, 'source_path' | 'warnings'>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Reader {
  issues: LocatedIssue[];
  constructor(issues: LocatedIssue[]) {
    this.issues = issues;
  }
  fail(segments: PathSegment[], message: string): void {
    this.issues.push({ segments, message });
  }
  section(o: Obj, key: string): Obj {
    return isObject(o[key]) ? (o[key] as Obj) : {};
  }
  items(o: Obj, key: string): unknown[] {
    return Array.isArray(o[key]) ? (o[key] as unknown[]) : [];
  }
  str(o: Obj, key: string): string | undefined {
    return typeof o[key] === 'string' ? (o[key] as string) : undefined;
  }
  bool(o: Obj, key: string, fallback: boolean): boolean {
    return typeof o[key] === 'boolean' ? (o[key] as boolean) : fallback;
  }
  int(o: Obj, key: string, fallback: number): number {
    return Number.isInteger(o[key]) ? (o[key] as number) : fallback;
  }
  list(o: Obj, key: string): string[] | undefined {
    return Array.isArray(o[key]) ? (o[key] as unknown[]).filter((x): x is string => typeof x === 'string') : undefined;
  }
  duration(o: Obj, key: string, at: PathSegment[], fallback: string): number {
    const v = o[key];
    if (typeof v !== 'string' && typeof v !== 'number') return parseDuration(fallback);
    try {
      return parseDuration(v);
    } catch (err) {
      this.fail([...at, key], (err as Error).message);
      return 0;
    }
  }
  optionalDuration(o: Obj, key: string, at: PathSegment[]): number | undefined {
    return o[key] === undefined ? undefined : this.duration(o, key, at, '0');
  }
  bytes(o: Obj, key: string, at: PathSegment[], fallback: string): number {
    const v = o[key];
    if (typeof v !== 'string' && typeof v !== 'number') return parseByteSize(fallback);
    try {
      return parseByteSize(v);
    } catch (err) {
      this.fail([...at, key], (err as Error).message);
      return 0;
    }
  }
}

function buildConfig(raw: Obj, issues: LocatedIssue[], warnings: string[], now: Date, env: NodeJS.ProcessEnv, serving: boolean): Built {
  const r = new Reader(issues);
  const server = buildServer(r, r.section(raw, 'server'), warnings);
  const branding = buildBranding(r, r.section(raw, 'branding'));
  const routes = buildRoutes(r, r.items(raw, 'routes'));
  const identity = buildIdentity(r, r.section(raw, 'identity'), warnings);
  const session = buildSession(r, r.section(raw, 'session'), server.public_url, env);
  const factors = buildFactors(r, r.section(raw, 'factors'), branding.product_name, env);
  const policy = buildPolicy(r, r.section(raw, 'policy'), warnings, now);
  const uf = identity.upstream_form;
  // The app's own login page and sign-in must stay reachable whatever the rules say (else /login → /login loops).
  if (identity.source === 'upstream_form' && uf) policy.sign_in = { path: uf.login_path, ...(uf.login_match ? { match: uf.login_match } : {}) };
  const rollout = buildRollout(r, r.section(raw, 'rollout'));
  const store = buildStore(r, raw.store);
  const shared_state = buildSharedState(r, raw.shared_state);
  const notifier = buildNotifier(r, raw.notifier);
  const audit = buildAudit(r, r.section(raw, 'audit'), env);
  if (serving) requireSharedSecrets(r, session, factors, audit, store, shared_state);
  const headers = buildHeaders(r, r.section(raw, 'headers'));
  return { server, branding, routes, identity, session, factors, policy, rollout, store, shared_state, notifier, audit, headers };
}

function buildServer(r: Reader, s: Obj, warnings: string[]): ServerConfig {
  const at = ['server'];
  const listen = r.str(s, 'listen') ?? '127.0.0.1:8080';
  checkListen(r, listen, [...at, 'listen']);
  const admin_listen = adminListen(r, s, warnings);
  const public_url = normalizeOrigin(r, r.str(s, 'public_url') ?? 'http://localhost:8080', [...at, 'public_url']);
  const trusted_proxies = (r.list(s, 'trusted_proxies') ?? []).map((c, i) => normalizeCidr(r, c, [...at, 'trusted_proxies', i]));
  const metrics_allow = (r.list(s, 'metrics_allow') ?? DEFAULT_METRICS_ALLOW).map((c, i) => normalizeCidr(r, c, [...at, 'metrics_allow', i]));
  return {
    listen,
    public_url,
    trusted_proxies,
    metrics_allow,
    header_timeout: r.duration(s, 'header_timeout', at, '10s'),
    body_timeout: r.duration(s, 'body_timeout', at, '10s'),
    keep_alive_timeout: r.duration(s, 'keep_alive_timeout', at, '5s'),
    max_header_bytes: r.bytes(s, 'max_header_bytes', at, '16384'),
    max_header_count: r.int(s, 'max_header_count', 100),
    max_body_bytes: r.bytes(s, 'max_body_bytes', at, '1GiB'),
    shutdown_timeout: r.duration(s, 'shutdown_timeout', at, '10s'),
    ...(admin_listen !== undefined ? { admin_listen } : {}),
    log_level: (r.str(s, 'log_level') ?? 'info') as ServerConfig['log_level'],
    instance_id: r.str(s, 'instance_id') ?? defaultInstanceId(),
  };
}

/** The host name, trimmed to what server.instance_id accepts. */
function defaultInstanceId(): string {
  return hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'gatehouse';
}

/** Loopback: a scraper on the gateway's own host (README "Operator endpoints"). */
const DEFAULT_METRICS_ALLOW = ['127.0.0.0/8', '::1'];

/** server.admin_listen; `metrics_listen`, its earlier name, is still read (with a warning). */
function adminListen(r: Reader, s: Obj, warnings: string[]): string | undefined {
  const at = ['server'];
  const admin = r.str(s, 'admin_listen');
  const old = r.str(s, 'metrics_listen');
  if (admin !== undefined) checkListen(r, admin, [...at, 'admin_listen']);
  if (old !== undefined) {
    checkListen(r, old, [...at, 'metrics_listen']);
    warnings.push(admin === undefined
      ? 'server.metrics_listen is now called server.admin_listen (it also serves healthz and readyz): rename it'
      : 'server.metrics_listen is ignored because server.admin_listen is set');
  }
  return admin ?? old;
}

function buildBranding(r: Reader, b: Obj): BrandingConfig {
  const logo_url = r.str(b, 'logo_url');
  // No external assets (CSP): a same-origin path or an inline image only.
  if (logo_url !== undefined && !(/^\/(?!\/)/.test(logo_url) || logo_url.startsWith('data:image/'))) {
    r.fail(['branding', 'logo_url'], 'must be a same-origin path (/static/logo.svg) or a data:image/ URL; external assets are not allowed');
  }
  const support_contact = r.str(b, 'support_contact');
  return {
    product_name: r.str(b, 'product_name') ?? 'gatehouse',
    ...(logo_url !== undefined ? { logo_url } : {}),
    ...(support_contact !== undefined ? { support_contact } : {}),
  };
}

function buildRoutes(r: Reader, items: unknown[]): RouteConfig[] {
  const seen = new Map<string, number>();
  return items.filter(isObject).map((o, i) => {
    const at = ['routes', i];
    const path = r.str(o, 'path') ?? '/';
    if (!path.startsWith('/')) r.fail([...at, 'path'], 'must start with /');
    const upstream = r.str(o, 'upstream') ?? '';
    if (r.str(o, 'upstream') !== undefined) checkHttpUrl(r, upstream, [...at, 'upstream'], { allowPath: true });
    const host = r.str(o, 'host')?.toLowerCase();
    if (host !== undefined) checkHostname(r, host, [...at, 'host']);
    const key = `${host ?? '*'} ${path}`;
    const dup = seen.get(key);
    if (dup !== undefined) r.fail([...at, 'path'], `routes[${dup}] already has this ${host ? 'host and ' : ''}path`);
    else seen.set(key, i);
    return {
      ...(host !== undefined ? { host } : {}),
      path,
      upstream,
      websocket: r.bool(o, 'websocket', false),
      timeout: r.duration(o, 'timeout', at, '30s'),
      case_insensitive: r.bool(o, 'case_insensitive', false),
      path_params: (r.str(o, 'path_params') ?? 'reject') as RouteConfig['path_params'],
      preserve_host: r.bool(o, 'preserve_host', false),
      method_override: (r.str(o, 'method_override') ?? 'evaluate') as RouteConfig['method_override'],
      params_style: (r.str(o, 'params_style') ?? 'plain') as NonNullable<RouteConfig['params_style']>,
      strip_headers: r.list(o, 'strip_headers') ?? [],
    };
  });
}

function buildIdentity(r: Reader, s: Obj, warnings: string[]): IdentityConfig {
  const source = (r.str(s, 'source') ?? 'file') as IdentityConfig['source'];
  for (const other of ['file', 'oidc', 'upstream_form'] as const) {
    // A users file may accompany upstream_form: it gives known users their email and groups.
    if (other === 'file' && source === 'upstream_form') continue;
    if (other !== source && s[other] !== undefined) warnings.push(`identity.${other} is ignored because identity.source is ${source}`);
  }
  const out: IdentityConfig = { source };
  if (s.break_glass !== undefined) {
    const b = r.section(s, 'break_glass');
    const at = ['identity', 'break_glass'];
    const user = (r.str(b, 'user') ?? '').toLowerCase();
    const password = r.str(b, 'password') ?? '';
    if (!password.startsWith('$argon2')) r.fail([...at, 'password'], 'must be an argon2 PHC hash ($argon2id$v=19$...): make one with `gatehouse user passwd` on a scratch file');
    out.break_glass = { user, password, groups: r.list(b, 'groups') ?? [], enabled: r.bool(b, 'enabled', false) };
  }
  if (source === 'file') {
    out.file = { path: r.str(r.section(s, 'file'), 'path') ?? 'config/users.yaml' };
  } else if (source === 'oidc') {
    const o = r.section(s, 'oidc');
    const at = ['identity', 'oidc'];
    const issuer = r.str(o, 'issuer') ?? '';
    if (issuer) checkHttpUrl(r, issuer, [...at, 'issuer'], { allowPath: true, httpsUnlessLocal: true });
    const client_secret = r.str(o, 'client_secret');
    out.oidc = {
      issuer: issuer.replace(/\/+$/, ''),
      client_id: r.str(o, 'client_id') ?? '',
      ...(client_secret !== undefined ? { client_secret } : {}),
      scopes: r.list(o, 'scopes') ?? ['openid', 'profile', 'email'],
      groups_claim: r.str(o, 'groups_claim') ?? 'groups',
      username_claim: usernameClaim(r.str(o, 'username_claim'), warnings),
      trust_idp_mfa: r.list(o, 'trust_idp_mfa') ?? [],
    };
    if (!out.oidc.scopes.includes('openid')) r.fail([...at, 'scopes'], 'must include openid');
  } else {
    if (s.file !== undefined) out.file = { path: r.str(r.section(s, 'file'), 'path') ?? 'config/users.yaml' };
    const u = r.section(s, 'upstream_form');
    const at = ['identity', 'upstream_form'];
    const login_path = r.str(u, 'login_path') ?? '/login';
    if (!login_path.startsWith('/')) r.fail([...at, 'login_path'], 'must be a path starting with /');
    const logout_path = r.str(u, 'logout_path');
    if (logout_path !== undefined && !logout_path.startsWith('/')) r.fail([...at, 'logout_path'], 'must be a path starting with /');
    const succ = r.section(u, 'success');
    const status = Number.isInteger(succ.status) ? (succ.status as number) : undefined;
    const location = r.str(succ, 'location');
    const set_cookie = r.str(succ, 'set_cookie');
    const user_header = r.str(succ, 'user_header')?.toLowerCase();
    const login_match = buildFormMatch(r, u, 'login_match');
    const logout_match = buildFormMatch(r, u, 'logout_match');
    let whoami: UpstreamFormIdentityConfig['whoami'];
    if (u.whoami !== undefined) {
      const w = r.section(u, 'whoami');
      whoami = { path: r.str(w, 'path') ?? '/', pattern: r.str(w, 'pattern') ?? '' };
      if (!whoami.path.startsWith('/')) r.fail([...at, 'whoami', 'path'], 'must be a path starting with /');
      try {
        new RegExp(whoami.pattern);
      } catch (err) {
        r.fail([...at, 'whoami', 'pattern'], `is not a regular expression: ${(err as Error).message}`);
      }
    }
    const app_cookies = r.list(u, 'app_cookies') ?? (set_cookie !== undefined ? [set_cookie] : []);
    if (app_cookies.length === 0) {
      warnings.push('identity.upstream_form: no app_cookies (nor success.set_cookie): the app\'s session cookies are not tied to the gateway session that released them; name them in app_cookies');
    }
    app_cookies.forEach((name, i) => {
      if (!/^[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?$/.test(name)) r.fail([...at, 'app_cookies', i], 'must be a cookie name, optionally ending in * (a prefix)');
    });
    out.upstream_form = {
      login_path,
      ...(logout_path !== undefined ? { logout_path } : {}),
      ...(login_match !== undefined ? { login_match } : {}),
      ...(logout_match !== undefined ? { logout_match } : {}),
      username_field: r.str(u, 'username_field') ?? 'username',
      username_case: (r.str(u, 'username_case') ?? 'fold') as UpstreamFormIdentityConfig['username_case'],
      allow_unicode: r.bool(u, 'allow_unicode', false),
      success: {
        ...(status !== undefined ? { status } : {}),
        ...(location !== undefined ? { location } : {}),
        ...(set_cookie !== undefined ? { set_cookie } : {}),
        ...(user_header !== undefined ? { user_header } : {}),
      },
      ...(whoami !== undefined ? { whoami } : {}),
      app_cookies,
    };
  }
  return out;
}

/** identity.upstream_form.login_match / logout_match. */
function buildFormMatch(r: Reader, u: Obj, key: string): FormRequestMatch | undefined {
  if (u[key] === undefined) return undefined;
  const m = r.section(u, key);
  const values = (k: string): Record<string, string> | undefined => {
    const o = r.section(m, k);
    const entries = Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string');
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  };
  const query = values('query');
  const params = values('params');
  const fields = r.list(m, 'fields');
  return { ...(query ? { query } : {}), ...(params ? { params } : {}), ...(fields ? { fields } : {}) };
}

/** A secret from the config, else from its environment variable (so production needs no config edit), else '' (dev secret later). */
function secretValue(r: Reader, o: Obj, key: string, at: PathSegment[], env: NodeJS.ProcessEnv, envName: string): string {
  const fromEnv = o[key] === undefined && env[envName] ? env[envName] : undefined;
  const value = fromEnv ?? r.str(o, key) ?? '';
  if ((o[key] !== undefined || fromEnv !== undefined) && value.length < 32) {
    r.fail([...at, key], `${fromEnv !== undefined ? `(from ${envName}) ` : ''}must be at least 32 characters (got ${value.length})`);
  }
  return value;
}

/**
 * With a postgres store or redis shared state several instances work as one,
 * and a generated development secret would differ on each: a TOTP seed sealed
 * on one could not be opened on another, and a session cookie sealed by one
 * would be refused by the next, and `gatehouse audit verify` could not check
 * every instance's chain with one key. So these secrets must be set.
 */
function requireSharedSecrets(r: Reader, session: SessionConfig, factors: FactorsConfig, audit: AuditConfig, store: StoreConfig, shared: SharedStateConfig): void {
  const why = store.kind === 'postgres' ? 'store.kind is postgres' : shared.kind === 'redis' ? 'shared_state.kind is redis' : undefined;
  if (why === undefined) return;
  const how = (key: string, file: string, envName: string) =>
    `is required because ${why} (every instance must use the same value): set ${key} (or ${file}, or the ${envName} environment variable) ` +
    'to the same random value of at least 32 characters on every instance, e.g. from `openssl rand -base64 36`';
  if (!session.secret) r.fail(['session', 'secret'], how('session.secret', 'session.secret_file', 'GATEHOUSE_SESSION_SECRET'));
  if (!factors.encryption_key) r.fail(['factors', 'encryption_key'], how('factors.encryption_key', 'factors.encryption_key_file', 'GATEHOUSE_ENCRYPTION_KEY'));
  if (!audit.key) r.fail(['audit', 'key'], how('audit.key', 'audit.key_file', 'GATEHOUSE_AUDIT_KEY'));
}

/** identity.oidc.username_claim: sub unless the operator asks for another claim (warned: users may change it). */
function usernameClaim(claim: string | undefined, warnings: string[]): string {
  if (claim === undefined || claim === 'sub') return 'sub';
  warnings.push(
    `identity.oidc.username_claim is ${claim}: users may be able to change ${claim} at the identity provider and so become another ` +
    'gatehouse user (with that user\'s second factors and rules); use it only if your IdP does not let users edit it, or use sub (the default)',
  );
  return claim;
}

function buildSession(r: Reader, s: Obj, publicUrl: string, env: NodeJS.ProcessEnv): SessionConfig {
  const at = ['session'];
  const secret = secretValue(r, s, 'secret', at, env, 'GATEHOUSE_SESSION_SECRET');
  const https = publicUrl.startsWith('https:');
  const cookie_name = r.str(s, 'cookie_name') ?? (https ? '__Host-gatehouse' : 'gatehouse');
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookie_name)) r.fail([...at, 'cookie_name'], 'must be a valid cookie name (letters, digits, - _ . etc.)');
  // Browsers drop __Host-/__Secure- cookies that are not Secure, i.e. on http.
  if (!https && /^__(Host|Secure)-/.test(cookie_name)) {
    r.fail([...at, 'cookie_name'], 'a __Host- or __Secure- cookie needs an https server.public_url; browsers would drop it');
  }
  return {
    secret,
    cookie_name,
    max_age: r.duration(s, 'max_age', at, '12h'),
    idle_timeout: r.duration(s, 'idle_timeout', at, '30m'),
    remember_device: r.duration(s, 'remember_device', at, '30d'),
  };
}

function buildFactors(r: Reader, f: Obj, productName: string, env: NodeJS.ProcessEnv): FactorsConfig {
  const at = ['factors'];
  const encryption_key = secretValue(r, f, 'encryption_key', at, env, 'GATEHOUSE_ENCRYPTION_KEY');
  const otp = (key: string) => {
    const o = r.section(f, key);
    return { ttl: r.duration(o, 'ttl', [...at, key], '10m'), length: r.int(o, 'length', 6) };
  };
  return {
    encryption_key,
    totp: { issuer: r.str(r.section(f, 'totp'), 'issuer') ?? productName },
    webauthn: { rp_name: r.str(r.section(f, 'webauthn'), 'rp_name') ?? productName },
    email_otp: otp('email_otp'),
    ...(f.sms_otp !== undefined ? { sms_otp: otp('sms_otp') } : {}),
    recovery_codes: { count: r.int(r.section(f, 'recovery_codes'), 'count', 10) },
  };
}

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DAY_MS = 86_400_000;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/; // the format itself is the schema's to report

function buildPolicy(r: Reader, p: Obj, warnings: string[], now: Date): PolicyConfig {
  const ids = new Map<string, number>();
  const rules = r.items(p, 'rules').flatMap((o, i): RuleConfig[] => {
    if (!isObject(o)) return [];
    const at = ['policy', 'rules', i];
    const id = r.str(o, 'id') ?? '';
    if (id !== '' && !RULE_ID.test(id)) r.fail([...at, 'id'], 'must be letters, digits, ".", "_" or "-" (it appears in logs and metrics)');
    if (id === 'default') r.fail([...at, 'id'], '"default" is reserved for policy.default');
    const dup = ids.get(id);
    if (id !== '' && dup !== undefined) r.fail([...at, 'id'], `duplicate rule id "${id}" (also policy.rules[${dup}])`);
    else ids.set(id, i);

    const require = (r.str(o, 'require') ?? 'mfa') as RuleConfig['require'];
    const max_age = r.optionalDuration(o, 'max_age', at);
    const kinds = r.list(o, 'factors');
    const factors = kinds && [...new Set(kinds.map((k) => (k === 'phishing_resistant' ? 'webauthn' : k)))] as FactorKind[];
    if (require !== 'mfa' && (max_age !== undefined || factors !== undefined)) {
      warnings.push(`policy.rules[${i}] (${id}): max_age and factors only apply to require: mfa; ignored for require: ${require}`);
    }
    return [{
      id,
      match: buildMatch(r, r.section(o, 'match'), [...at, 'match']),
      require,
      ...(max_age !== undefined ? { max_age } : {}),
      ...(factors !== undefined ? { factors } : {}),
      mode: (r.str(o, 'mode') ?? 'enforce') as RuleConfig['mode'],
      ...(r.str(o, 'rollout') === 'follow' ? { rollout: 'follow' as const } : {}),
    }];
  });

  const exceptions = r.items(p, 'exceptions').flatMap((o, i): PolicyException[] => {
    if (!isObject(o)) return [];
    const at = ['policy', 'exceptions', i];
    const user = r.str(o, 'user');
    const group = r.str(o, 'group');
    if ((user === undefined) === (group === undefined)) r.fail(at, 'give exactly one of user or group');
    const rule = r.str(o, 'rule') ?? '';
    if (rule && !ids.has(rule)) r.fail([...at, 'rule'], `no rule with id "${rule}" in policy.rules`);
    const expires = r.str(o, 'expires') ?? '';
    const end = dateEnd(expires);
    if (ISO_DATE.test(expires) && end === undefined) r.fail([...at, 'expires'], `"${expires}" is not a valid date (YYYY-MM-DD)`);
    const who = user !== undefined ? `user ${user}` : `group ${group}`;
    if (end !== undefined && end <= now.getTime()) {
      warnings.push(`policy.exceptions[${i}] (${who}, rule ${rule}) expired on ${expires}: ignored`);
      return [];
    }
    if (end !== undefined && end - now.getTime() <= 14 * DAY_MS) {
      warnings.push(`policy.exceptions[${i}] (${who}, rule ${rule}) expires on ${expires}, within 14 days`);
    }
    return [{
      ...(user !== undefined ? { user } : {}),
      ...(group !== undefined ? { group } : {}),
      rule,
      reason: r.str(o, 'reason') ?? '',
      owner: r.str(o, 'owner') ?? '',
      expires,
    }];
  });

  return {
    default: (r.str(p, 'default') ?? 'mfa') as PolicyConfig['default'],
    rules,
    stash_max_body: r.bytes(p, 'stash_max_body', ['policy'], '1MiB'),
    stash_total_max: r.bytes(p, 'stash_total_max', ['policy'], '64MiB'),
    inspect_body_max: r.bytes(p, 'inspect_body_max', ['policy'], '1MiB'),
    privileged_groups: r.list(p, 'privileged_groups') ?? ['admins'],
    exceptions,
  };
}

function buildMatch(r: Reader, m: Obj, at: PathSegment[]): RuleMatch {
  const out: RuleMatch = {};
  const host = r.str(m, 'host')?.toLowerCase();
  if (host !== undefined) {
    checkHostname(r, host, [...at, 'host']);
    out.host = host;
  }
  const path = typeof m.path === 'string' ? [m.path] : r.list(m, 'path');
  if (path) {
    path.forEach((p, i) => {
      const problem = pathPatternProblem(p);
      if (problem) r.fail(typeof m.path === 'string' ? [...at, 'path'] : [...at, 'path', i], `${JSON.stringify(p)}: ${problem}`);
    });
    out.path = path;
  }
  const methods = r.list(m, 'methods');
  if (methods) {
    methods.forEach((x, i) => {
      if (!TOKEN.test(x)) r.fail([...at, 'methods', i], `"${x}" is not an HTTP method`);
    });
    out.methods = [...new Set(methods.map((x) => x.toUpperCase()))];
  }
  for (const key of ['groups', 'not_groups'] as const) {
    const v = r.list(m, key);
    if (v) out[key] = v;
  }
  const networks = r.list(m, 'networks');
  if (networks) out.networks = networks.map((c, i) => normalizeCidr(r, c, [...at, 'networks', i]));
  for (const key of ['query', 'params'] as const) {
    if (!isObject(m[key])) continue;
    const conditions: Record<string, string | string[]> = {};
    for (const [name, v] of Object.entries(m[key])) {
      const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
      if (list.length > 1 && list.some((x) => x === 'present' || x === 'absent')) r.fail([...at, key, name], 'present / absent stand alone, not in a list');
      conditions[name] = typeof v === 'string' ? v : list.map(String);
    }
    out[key] = conditions;
  }
  if (m.ignore_case !== undefined) out.ignore_case = r.bool(m, 'ignore_case', false);
  return out;
}

function buildRollout(r: Reader, s: Obj): RolloutConfig {
  const grace_until = r.str(s, 'grace_until');
  if (grace_until !== undefined && ISO_DATE.test(grace_until) && dateEnd(grace_until) === undefined) {
    r.fail(['rollout', 'grace_until'], `"${grace_until}" is not a valid date (YYYY-MM-DD)`);
  }
  return {
    enforce_for: r.list(s, 'enforce_for') ?? ['everyone'],
    ...(grace_until !== undefined ? { grace_until } : {}),
    max_deferrals: r.int(s, 'max_deferrals', 3),
  };
}

function buildStore(r: Reader, v: unknown): StoreConfig {
  if (!isObject(v)) return { kind: 'sqlite', path: 'data/gatehouse.db' };
  if (v.kind === 'postgres') {
    const url = r.str(v, 'url') ?? '';
    if (url) checkUrlScheme(r, url, ['store', 'url'], ['postgres:', 'postgresql:']);
    return { kind: 'postgres', url };
  }
  return { kind: 'sqlite', path: r.str(v, 'path') ?? 'data/gatehouse.db' };
}

function buildSharedState(r: Reader, v: unknown): SharedStateConfig {
  if (!isObject(v) || v.kind !== 'redis') return { kind: 'memory' };
  const url = r.str(v, 'url') ?? '';
  if (url) checkUrlScheme(r, url, ['shared_state', 'url'], ['redis:', 'rediss:']);
  return { kind: 'redis', url, prefix: r.str(v, 'prefix') ?? 'gatehouse:' };
}

function buildNotifier(r: Reader, v: unknown): NotifierConfig {
  if (!isObject(v) || (v.kind !== 'smtp' && v.kind !== 'webhook')) {
    return { kind: 'file', path: (isObject(v) && r.str(v, 'path')) || 'data/outbox.log' };
  }
  const url = r.str(v, 'url') ?? '';
  if (v.kind === 'smtp') {
    if (url) checkUrlScheme(r, url, ['notifier', 'url'], ['smtp:', 'smtps:']);
    const from = r.str(v, 'from') ?? '';
    if (from && !/@/.test(from)) r.fail(['notifier', 'from'], 'must be an email address');
    return { kind: 'smtp', url, from };
  }
  if (url) checkHttpUrl(r, url, ['notifier', 'url'], { allowPath: true, allowQuery: true });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.section(v, 'headers'))) {
    if (!TOKEN.test(name)) r.fail(['notifier', 'headers', name], 'is not a valid HTTP header name');
    if (typeof value === 'string') headers[name] = value;
  }
  // Empty template: the notifier sends its default JSON body.
  return { kind: 'webhook', url, headers, body_template: r.str(v, 'body_template') ?? '' };
}

function buildAudit(r: Reader, a: Obj, env: NodeJS.ProcessEnv): AuditConfig {
  const at = ['audit'];
  const alert_email = r.str(a, 'alert_email');
  if (alert_email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alert_email)) r.fail([...at, 'alert_email'], 'must be an email address');
  const c = r.section(a, 'checkpoint');
  const webhook = r.str(c, 'webhook');
  if (webhook !== undefined) checkHttpUrl(r, webhook, [...at, 'checkpoint', 'webhook'], { allowPath: true, allowQuery: true });
  const email = r.bool(c, 'email', false);
  if (email && alert_email === undefined) r.fail([...at, 'checkpoint', 'email'], 'needs audit.alert_email to send checkpoints to');
  const every = r.duration(c, 'every', [...at, 'checkpoint'], '5m');
  if (every < 1000 && c.every !== undefined) r.fail([...at, 'checkpoint', 'every'], 'must be at least 1s');
  return {
    path: r.str(a, 'path') ?? 'data/audit.log',
    max_bytes: r.bytes(a, 'max_bytes', at, '64MiB'),
    ...(alert_email !== undefined ? { alert_email } : {}),
    sync: (r.str(a, 'sync') ?? 'group') as AuditConfig['sync'],
    key: secretValue(r, a, 'key', at, env, 'GATEHOUSE_AUDIT_KEY'),
    checkpoint: { lines: r.int(c, 'lines', 1000), every, ...(webhook !== undefined ? { webhook } : {}), email },
    forward: buildAuditForward(r, r.section(a, 'forward')),
  };
}

function buildAuditForward(r: Reader, f: Obj): AuditConfig['forward'] {
  const at = ['audit', 'forward'];
  const forward: AuditConfig['forward'] = {
    queue_max: r.bytes(f, 'queue_max', at, '256MiB'),
    retry_max: r.duration(f, 'retry_max', at, '30s'),
  };
  if (f.syslog !== undefined) {
    const s = r.section(f, 'syslog');
    const address = r.str(s, 'address') ?? '';
    checkListen(r, address, [...at, 'syslog', 'address']);
    const ca_file = r.str(s, 'ca_file');
    const tls = r.bool(s, 'tls', false);
    if (ca_file !== undefined && !tls) r.fail([...at, 'syslog', 'ca_file'], 'only with tls: true');
    forward.syslog = { address, tls, ...(ca_file !== undefined ? { ca_file } : {}), app_name: r.str(s, 'app_name') ?? 'gatehouse' };
  }
  if (f.http !== undefined) {
    const h = r.section(f, 'http');
    const url = r.str(h, 'url') ?? '';
    checkHttpUrl(r, url, [...at, 'http', 'url'], { allowPath: true, allowQuery: true });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(r.section(h, 'headers'))) {
      if (!TOKEN.test(name)) r.fail([...at, 'http', 'headers', name], 'is not a valid HTTP header name');
      if (typeof value === 'string') headers[name] = value;
    }
    forward.http = { url, format: (r.str(h, 'format') ?? 'ndjson') as NonNullable<AuditConfig['forward']['http']>['format'], headers };
  }
  return forward;
}

function buildHeaders(r: Reader, h: Obj): HeadersConfig {
  const prefix = r.str(h, 'prefix') ?? 'X-Gatehouse-';
  const n = r.section(h, 'names');
  const name = (key: string, suffix: string) => r.str(n, key) ?? `${prefix}${suffix}`;
  return {
    prefix,
    jwt: r.bool(h, 'jwt', true),
    names: {
      user: name('user', 'User'),
      email: name('email', 'Email'),
      groups: name('groups', 'Groups'),
      auth_methods: name('auth_methods', 'Auth-Methods'),
      auth_time: name('auth_time', 'Auth-Time'),
      assertion: name('assertion', 'Assertion'),
    },
  };
}

// ---------------------------------------------------------------------------
// Value checks

function checkListen(r: Reader, listen: string, at: PathSegment[]): void {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : -1;
  const host = m ? m[1] : '';
  const hostOk = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4 || /^[A-Za-z0-9.-]+$/.test(host);
  if (!m || port > 65535 || !hostOk) r.fail(at, `"${listen}" must be host:port (e.g. 127.0.0.1:8080, 0.0.0.0:443, [::1]:8080)`);
}

function normalizeOrigin(r: Reader, value: string, at: PathSegment[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.fail(at, `"${value}" must be an absolute http(s) URL like https://portal.example.com`);
    return value;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') r.fail(at, 'must use http or https');
  else if (url.username || url.password) r.fail(at, 'must not contain credentials');
  else if (url.pathname !== '/' || url.search || url.hash || value.includes('?') || value.includes('#')) {
    r.fail(at, 'must be an origin only (scheme://host[:port]), without a path, query or fragment');
  }
  return url.origin;
}

function checkHttpUrl(
  r: Reader,
  value: string,
  at: PathSegment[],
  opt: { allowPath?: boolean; allowQuery?: boolean; httpsUnlessLocal?: boolean },
): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.fail(at, `"${value}" must be an http(s) URL`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return r.fail(at, `"${value}" must be an http(s) URL`);
  if (!opt.allowQuery && (url.search || url.hash)) return r.fail(at, 'must not have a query or fragment');
  if (!opt.allowPath && url.pathname !== '/') return r.fail(at, 'must not have a path');
  if (url.username || url.password) return r.fail(at, 'must not contain credentials');
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (opt.httpsUnlessLocal && url.protocol === 'http:' && !local) r.fail(at, 'must use https (http only for localhost)');
}

function checkUrlScheme(r: Reader, value: string, at: PathSegment[], schemes: string[]): void {
  let ok = false;
  try {
    ok = schemes.includes(new URL(value).protocol);
  } catch { /* reported below */ }
  if (!ok) r.fail(at, `must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL`);
}

function checkHostname(r: Reader, host: string, at: PathSegment[]): void {
  const label = '[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?';
  if (isIP(host) === 0 && !new RegExp(`^${label}(\\.${label})*\\.?$`).test(host)) {
    r.fail(at, `"${host}" must be a host name without port or wildcard (e.g. portal.example.com)`);
  }
}

/** A CIDR or a bare address (made /32 or /128). */
function normalizeCidr(r: Reader, value: string, at: PathSegment[]): string {
  const [address, prefixText, extra] = value.trim().split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  let valid = family !== 0 && extra === undefined && prefix >= 0 && prefix <= max;
  if (valid) {
    try {
      new BlockList().addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    r.fail(at, `"${value}" must be an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)`);
    return value;
  }
  return `${address}/${prefix}`;
}

/** End of the given UTC day in ms (an exception or grace period lasts through its date), or undefined if not a real date. */
function dateEnd(date: string): number | undefined {
  if (!ISO_DATE.test(date)) return undefined;
  const t = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date) return undefined;
  return t + DAY_MS;
}

// ---------------------------------------------------------------------------
// Development secrets

function fillDevSecrets(config: Built, warnings: string[], persist: boolean, generate: boolean): void {
  const missing: Array<'session_secret' | 'encryption_key' | 'audit_key'> = [];
  if (!config.session.secret) missing.push('session_secret');
  if (!config.factors.encryption_key) missing.push('encryption_key');
  if (!config.audit.key) missing.push('audit_key');
  if (missing.length === 0) return;

  const dir = config.store.kind === 'sqlite' ? dirname(config.store.path) : 'data';
  const file = join(dir, 'dev-secrets.json');
  let stored: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      // Never overwrite it: the encryption key in it protects stored TOTP seeds.
      throw new Error(`cannot read ${file} (${(err as Error).message}); fix or remove it, or set the secrets`);
    }
  }
  if (!generate) {
    for (let i = missing.length - 1; i >= 0; i--) if (typeof stored[missing[i]] !== 'string') missing.splice(i, 1);
  }
  let changed = false;
  for (const key of missing) {
    if (typeof stored[key] !== 'string' || (stored[key] as string).length < 32) {
      stored[key] = randomBytes(36).toString('base64url'); // 48 characters
      changed = true;
    }
  }
  if (changed && persist) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
  if (missing.includes('session_secret')) {
    config.session.secret = stored.session_secret as string;
    warnings.push(`session.secret not set: using a generated development secret stored in ${file}; set GATEHOUSE_SESSION_SECRET in production`);
  }
  if (missing.includes('encryption_key')) {
    config.factors.encryption_key = stored.encryption_key as string;
    warnings.push(`factors.encryption_key not set: using a generated development key stored in ${file}; set GATEHOUSE_ENCRYPTION_KEY in production`);
  }
  if (missing.includes('audit_key')) {
    config.audit.key = stored.audit_key as string;
    warnings.push(`audit.key not set: using a generated development key stored in ${file}; set GATEHOUSE_AUDIT_KEY in production (gatehouse audit verify needs it)`);
  }
}
