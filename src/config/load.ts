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

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { fillDevSecrets } from './dev-secrets.ts';
import { interpolateDocument, resolveSecretFiles, type LocatedIssue } from './interpolate.ts';
import { ConfigError, formatPath, toIssues } from './issues.ts';
import { Reader, isObject, messageOf, type Obj } from './reader.ts';
import { configValidator } from './schema.ts';
import { schemaIssues } from './schema-messages.ts';
import { deriveSharedAuditKey, requireSharedSecrets } from './secrets.ts';
import { buildAudit } from './sections/audit.ts';
import { buildBranding } from './sections/branding.ts';
import { buildUi } from './sections/ui.ts';
import { buildFactors } from './sections/factors.ts';
import { buildHeaders } from './sections/headers.ts';
import { buildIdentity } from './sections/identity.ts';
import { buildNotifier } from './sections/notifier.ts';
import { buildPolicy } from './sections/policy.ts';
import { buildRisk } from './sections/risk.ts';
import { buildRollout, verifyEmailFirstProblem } from './sections/rollout.ts';
import { buildRoutes } from './sections/routes.ts';
import { buildServer } from './sections/server.ts';
import { buildSession } from './sections/session.ts';
import { buildSharedState } from './sections/shared-state.ts';
import { buildStore } from './sections/store.ts';
import type { Config } from './types.ts';

export { ConfigError, formatIssues, formatPath, type ConfigIssue } from './issues.ts';

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

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : messageOf(err);
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
    throw new ConfigError(file, toIssues(relevant, doc, lineCounter), built);
  }
  try {
    fillDevSecrets(built, warnings, opts.persistDevSecrets ?? true, opts.generateDevSecrets ?? true);
  } catch (err) {
    throw new ConfigError(file, [{ path: 'session.secret', message: messageOf(err) }]);
  }
  return { ...built, source_path: resolve(file), warnings };
}

type Built = Omit<Config, 'source_path' | 'warnings'>;

/** Every section with its defaults, in one pass that records every problem in `issues`. */
function buildConfig(raw: Obj, issues: LocatedIssue[], warnings: string[], now: Date, env: NodeJS.ProcessEnv, serving: boolean): Built {
  const r = new Reader(issues);
  const server = buildServer(r, r.section(raw, 'server'), warnings);
  const branding = buildBranding(r, r.section(raw, 'branding'), warnings);
  const ui = buildUi(r, r.section(raw, 'ui'));
  const headers = buildHeaders(r, r.section(raw, 'headers'));
  const routes = buildRoutes(r, r.items(raw, 'routes'), headers.jwt);
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
  const emailProblem = verifyEmailFirstProblem(rollout.verify_email_first === true, notifier.kind);
  if (emailProblem) r.fail(['rollout', 'verify_email_first'], emailProblem);
  const audit = buildAudit(r, r.section(raw, 'audit'), env);
  const risk = buildRisk(r, raw);
  // Each worker opens the store itself (src/cluster/): an in-memory database would be one per worker.
  if (server.workers !== 1 && store.kind === 'sqlite' && store.path === ':memory:') r.fail(['store', 'path'], ':memory: is one database per process: with server.workers above 1, give the SQLite store a file');
  deriveSharedAuditKey(factors, audit, store, shared_state, warnings);
  if (serving) requireSharedSecrets(r, session, factors, audit, store, shared_state);
  return { server, branding, ui, routes, identity, session, factors, policy, rollout, store, shared_state, notifier, audit, headers, risk };
}
