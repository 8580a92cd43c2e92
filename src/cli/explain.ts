// `gatehouse explain --user U --method M --url URL [--ip IP] [--config FILE]`:
// dry-runs one request through the same steps and the same policy code the
// gateway runs (normalize → reserved routes → route → evaluate) and says which
// rule matched, what the gateway would decide, and why.
//
// The session is hypothetical: by default the user has just signed in with a
// password and passed no second factor yet; `--factors totp --fresh 2m` says
// a TOTP check was passed two minutes ago, `--remembered` that the browser is
// a remembered device. What the user has enrolled comes from the store (or
// `--enrolled`), groups from the users file (or `--groups`). `--user -` asks
// for an anonymous request.
//
// Exit 0 whatever the decision (a rejected URL included: that is the
// explanation), 1 for an unknown user or a bad config, 2 for usage errors.
//
// The helpers at the end (config, directory and store loading) are shared by
// the other operator commands (mfa, report).

import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssues, loadConfig } from '../config/load.ts';
import type { Config, FactorKind, RuleConfig } from '../config/types.ts';
import { parseDuration } from '../config/duration.ts';
import type { Snapshot } from '../web/context.ts';
import { decide, hostOnly, judge, RESERVED_PREFIX } from '../policy/decide.ts';
import { buildSnapshot } from '../http/snapshot.ts';
import { parseUsersFile } from '../identity/users-file.ts';
import type { UserRecord } from '../identity/types.ts';
import { compilePolicy } from '../policy/compile.ts';
import { formatDuration } from '../policy/evaluate.ts';
import { isInRollout } from '../policy/rollout.ts';
import type { Decision, FactorCheck, SubjectFacts } from '../policy/types.ts';
import { factorCheck } from '../factors/types.ts';
import type { Route } from '../policy/route-table.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { challengeUrl } from '../web/challenge-links.ts';

export const DEFAULT_CONFIG = 'config/gatehouse.yaml';
const FACTOR_KIND_NAMES: readonly FactorKind[] = ['webauthn', 'totp', 'email', 'sms', 'recovery'];
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const USAGE = `usage: gatehouse explain --user USER --method METHOD --url URL [options]
  --user USER          who asks; "-" for an anonymous request
  --method METHOD      GET, POST, ...
  --url URL            a path (/billing/pay?x=1) or an absolute http(s) URL
  --ip IP              the client address (for rules matching networks)
  --host HOST          the Host asked for (default: the URL's host, else server.public_url's)
  --factors KINDS      second factors passed in the session: totp,webauthn,email,sms,recovery
                       (default: none, a fresh sign-in with a password only)
  --fresh DURATION     how long ago those factors were passed (default 0s: just now)
  --remembered         the browser is a remembered device
  --deferred           the user chose "set up later" in this session
  --enrolled KINDS     what the user has enrolled (default: read from the store); "none" for nothing
  --groups GROUPS      the user's groups (default: from the users file)
  --override METHODS   methods the request claims by X-HTTP-Method-Override (or X-HTTP-Method,
                       X-Method-Override) or a _method field, comma-separated: DELETE
  --break-glass        the session is the break-glass (emergency) account's
  --config FILE        the gateway config (default ${DEFAULT_CONFIG})
  --json               machine-readable output
`;

export interface CliIO {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
  now?: () => number;
}

const STD_IO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/** A failure with its exit code: 1 the user can fix, 2 usage. */
export class CliError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------
// The explanation (pure)

export interface ExplainRequest {
  method: string;      // upper-case
  target: string;      // the raw request-target (path and query), as the gateway receives it
  host: string;        // lower-case, without port
  ip: string;          // '' when not given
  /** Methods claimed by an override header or a `_method` form field (--override). */
  overrides?: string[];
}

export interface HypotheticalSession {
  /** Kinds of the second factors passed in the session. */
  factors: FactorKind[];
  /** How long ago they were passed (ms). */
  freshMs: number;
  remembered: boolean;
  deferred: boolean;
}

export interface RuleView {
  id: string;
  /** Position in policy.rules; -1 for the default policy. */
  index: number;
  match?: RuleConfig['match'];
  require: string;
  max_age?: string;
  factors?: FactorKind[];
  mode: 'enforce' | 'report';
}

export type Outcome = 'allow' | 'challenge' | 'deny' | 'report' | 'bad_target' | 'reserved' | 'no_route';

export interface Explanation {
  request: ExplainRequest & { path: string | null };
  route: { id: string; upstream: string; case_insensitive: boolean; path_params: string; method_override: string } | null;
  subject: (Omit<SubjectFacts, 'factors'> & { factors: Array<{ kind: FactorKind; age: string }> }) | null;
  outcome: Outcome;
  /** One line: `challenge (step_up)`, `report-only: would challenge (mfa); allowed`, ... */
  summary: string;
  reason: string;
  /** The rule the decision names (the report rule for a report-only decision). */
  rule: RuleView | null;
  decision: Decision | null;
  /** For a report-only decision: what is enforced (the request goes through on this). */
  enforced: { rule: RuleView; decision: Decision } | null;
  /** What the gateway answers. */
  answer: string;
  notes: string[];
}

/** The subject a hypothetical session gives the policy. */
export function hypotheticalSubject(
  user: { id: string; groups: string[] },
  session: HypotheticalSession,
  enrolled: FactorKind[],
  config: Pick<Config, 'rollout'>,
  now: number,
): SubjectFacts {
  const factors: FactorCheck[] = [...new Set(session.factors)].map((k) => factorCheck(k, now - session.freshMs));
  return {
    user: user.id,
    groups: user.groups,
    factors,
    remembered_device: session.remembered,
    enrolled,
    in_rollout: isInRollout(user.groups, config.rollout),
    deferred: session.deferred,
  };
}

/** Runs the request through the gateway's steps and the policy, with a clock passed in. */
export function explainRequest(snap: Snapshot, req: ExplainRequest, subject: SubjectFacts | null, now: number): Explanation {
  const config = snap.config;
  const base = {
    request: { ...req, path: null as string | null },
    route: null as Explanation['route'],
    subject: subject && {
      ...subject,
      factors: subject.factors.map((f) => ({ kind: f.kind, age: now === f.at ? '0s' : formatDuration(now - f.at) })),
    },
    rule: null,
    decision: null,
    enforced: null,
    notes: [] as string[],
  };

  // The one decision the gateway makes (policy/decide.ts): explain adds words, never steps.
  const verdict = decide(snap, { target: req.target, host: req.host, via: 'proxy', method: req.method, overrides: req.overrides ?? [], ip: req.ip }, subject, now);
  const rejected = '400 error page; nothing is proxied and no rule is evaluated';
  if (verdict.kind === 'reserved') {
    base.request.path = verdict.path;
    return { ...base, outcome: 'reserved', summary: 'reserved: the gateway\'s own endpoint', reason: `${RESERVED_PREFIX}/ paths are the gateway's own pages and APIs; never proxied, not subject to policy rules`, answer: 'handled by the gateway itself' };
  }
  const route = verdict.route;
  if (route) base.route = { id: route.id, upstream: route.upstream, case_insensitive: route.case_insensitive, path_params: route.path_params, method_override: route.method_override };
  if (verdict.kind === 'refused') {
    if (verdict.status === 404) {
      base.request.path = verdict.path;
      return { ...base, outcome: 'no_route', summary: 'no route: 404 Not Found', reason: `no route matches host ${JSON.stringify(req.host)} and path ${verdict.path}`, answer: '404 error page' };
    }
    if (verdict.route) base.request.path = verdict.path;
    const why = verdict.reason.replace(/^bad target: /, '');
    const reason = verdict.reason.startsWith('bad target: path parameters') && route
      ? `the request-target has ;path parameters and route ${route.id} does not allow them (path_params: reject)`
      : verdict.reason.startsWith('bad target: ') ? `the request-target is rejected by normalization: ${why}` : why;
    return { ...base, outcome: 'bad_target', summary: 'rejected: 400 Bad Request', reason, answer: rejected };
  }
  const { decision, facts } = verdict;
  base.request.path = facts.path;
  const rule = ruleView(config, decision.rule);

  let enforced: Explanation['enforced'] = null;
  if (decision.action === 'report') {
    // Report rules never change what happens: the outcome without them is what is enforced.
    const enforcing = config.policy.rules.filter((r) => r.mode !== 'report');
    const ids = new Set(enforcing.map((r) => r.id));
    const withoutReport = compilePolicy(
      { ...config.policy, rules: enforcing, exceptions: config.policy.exceptions.filter((e) => ids.has(e.rule)) },
      config.rollout,
      { caseInsensitive: route?.case_insensitive === true },
    );
    const j = judge({ ...snap, policy: withoutReport, policyFolded: withoutReport }, verdict.target, { ...facts, overrides: req.overrides ?? [] }, subject, now);
    if (j.kind === 'decided') enforced = { rule: ruleView(config, j.decision.rule), decision: j.decision };
  }

  const notes: string[] = [];
  if (req.ip === '' && config.policy.rules.some((r) => r.match.networks !== undefined)) {
    const ids = config.policy.rules.filter((r) => r.match.networks !== undefined).map((r) => r.id);
    notes.push(`no --ip given: rules matching by network (${ids.join(', ')}) were treated as not matching`);
  }
  if (subject) {
    for (const e of config.policy.exceptions) {
      const applies = (e.user === undefined || e.user === subject.user) && (e.group === undefined || subject.groups.includes(e.group));
      if (applies) notes.push(`exception: ${e.user !== undefined ? `user ${e.user}` : `group ${e.group}`} is exempt from rule ${e.rule} until ${e.expires} (${e.reason}; owner ${e.owner})`);
    }
  }

  return {
    ...base,
    outcome: decision.action,
    summary: summarize(decision),
    reason: decision.reason,
    rule,
    decision,
    enforced,
    answer: answerFor(decision, route!, req, subject !== null),
    notes: [...base.notes, ...notes],
  };
}

function ruleView(config: Config, id: string): RuleView {
  const index = config.policy.rules.findIndex((r) => r.id === id);
  if (index === -1) return { id: 'default', index: -1, require: config.policy.default, mode: 'enforce' };
  const r = config.policy.rules[index];
  return {
    id: r.id,
    index,
    match: r.match,
    require: r.require,
    ...(r.max_age !== undefined ? { max_age: formatDuration(r.max_age) } : {}),
    ...(r.factors !== undefined ? { factors: r.factors } : {}),
    mode: r.mode,
  };
}

function summarize(d: Decision): string {
  switch (d.action) {
    case 'allow': return 'allow';
    case 'deny': return 'deny: 403 Forbidden';
    case 'challenge': return `challenge (${d.kind})`;
    case 'report': return `report-only: would ${d.would}${d.kind ? ` (${d.kind})` : ''}; allowed`;
  }
}

const API_ERRORS: Record<string, string> = { login: 'login_required', step_up: 'step_up_required', enroll: 'enrollment_required', mfa: 'mfa_required' };

function answerFor(d: Decision, route: Route, req: ExplainRequest, signedIn: boolean): string {
  switch (d.action) {
    case 'allow':
    case 'report': {
      const counted = d.action === 'report' ? `; counted as a would-be ${d.would} of rule ${d.rule} in the audit log` : '';
      return `proxied to ${route.upstream}${signedIn ? ' with identity headers' : ' (anonymous: no identity headers)'}${counted}`;
    }
    case 'deny':
      return '403 error page';
    case 'challenge': {
      const safe = req.method === 'GET' || req.method === 'HEAD';
      if (!safe && signedIn) {
        // The gateway keeps the request and sends the browser back to it afterwards (http/stash.ts).
        const url = challengeUrl(d, req.target, 'ID');
        return `a browser is redirected (302) to ${url}; the ${req.method} is stashed and completed after the challenge (same-origin requests only, within the stash limits; else the user submits again); other clients get 401 {"error":"${API_ERRORS[d.kind]}"}`;
      }
      const url = challengeUrl(d, safe ? req.target : '/');
      return `a browser is redirected (302) to ${url}${safe ? '' : ' (rd: the referring page)'}; other clients get 401 {"error":"${API_ERRORS[d.kind]}"}`;
    }
  }
}

export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  const r = e.request;
  out.push(`request:   ${r.method} ${r.target}  (host ${r.host || '-'}${r.ip ? `, ip ${r.ip}` : ''})`);
  if (r.path !== null && r.path !== r.target) out.push(`path:      ${r.path}  (as rules see it)`);
  if (e.route) out.push(`route:     ${e.route.id} -> ${e.route.upstream}${e.route.case_insensitive ? '  (case-insensitive)' : ''}`);
  if (e.subject) {
    const s = e.subject;
    out.push(`user:      ${s.user}  groups ${s.groups.join(',') || '-'}  ${s.in_rollout ? 'in rollout' : 'not in rollout'}  enrolled ${s.enrolled.join(',') || 'nothing'}`);
    const passed = s.factors.length ? s.factors.map((f) => `${f.kind} ${f.age} ago`).join(', ') : 'no second factor yet (fresh sign-in)';
    out.push(`session:   ${passed}${s.remembered_device ? '; remembered device' : ''}${s.deferred ? '; enrollment deferred' : ''}`);
  } else {
    out.push('user:      anonymous (not signed in)');
  }
  if (e.rule) out.push(...formatRule('rule:', e.rule));
  out.push(`decision:  ${e.summary}`);
  out.push(`reason:    ${e.reason}`);
  if (e.enforced) {
    out.push(`enforced:  ${summarize(e.enforced.decision)}: ${e.enforced.decision.reason}`);
  }
  out.push(`answer:    ${e.answer}`);
  for (const n of e.notes) out.push(`note:      ${n}`);
  return `${out.join('\n')}\n`;
}

function formatRule(label: string, v: RuleView): string[] {
  const pad = (s: string) => s.padEnd(11);
  if (v.index === -1) return [`${pad(label)}default (no rule matched; policy.default: ${v.require})`];
  const m = v.match ?? {};
  const match = [
    m.host !== undefined ? `host ${m.host}` : '',
    m.path !== undefined ? `path ${m.path.join(' ')}` : '',
    m.methods !== undefined ? `methods ${m.methods.join(',')}` : '',
    m.groups !== undefined ? `groups ${m.groups.join(',')}` : '',
    m.not_groups !== undefined ? `not_groups ${m.not_groups.join(',')}` : '',
    m.networks !== undefined ? `networks ${m.networks.join(',')}` : '',
  ].filter(Boolean).join('  ') || 'everything';
  const require = [
    v.require,
    v.max_age !== undefined ? `max_age ${v.max_age}` : '',
    v.factors !== undefined ? `factors ${v.factors.join(',')}` : '',
    `mode ${v.mode}`,
  ].filter(Boolean).join('  ');
  return [`${pad(label)}${v.id}  (policy.rules[${v.index}])`, `${pad('')}match:   ${match}`, `${pad('')}require: ${require}`];
}

// ---------------------------------------------------------------------------
// The command (imperative shell)

export async function runExplain(args: string[], io: CliIO = STD_IO): Promise<number> {
  try {
    return await explain(args, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`gatehouse explain: ${err.message}\n${err.code === 2 ? USAGE : ''}`);
      return err.code;
    }
    throw err;
  }
}

async function explain(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseOptions(args, {
    user: { type: 'string' }, method: { type: 'string' }, url: { type: 'string' }, ip: { type: 'string' }, host: { type: 'string' },
    factors: { type: 'string' }, fresh: { type: 'string' }, remembered: { type: 'boolean' }, deferred: { type: 'boolean' },
    enrolled: { type: 'string' }, groups: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    override: { type: 'string' }, 'break-glass': { type: 'boolean' },
  });
  if (v.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  for (const key of ['user', 'method', 'url'] as const) if (v[key] === undefined) throw new CliError(2, `--${key} is required`);
  const method = String(v.method).toUpperCase();
  if (!METHOD.test(method)) throw new CliError(2, `--method ${JSON.stringify(v.method)} is not an HTTP method`);
  const ip = v.ip === undefined ? '' : String(v.ip);
  if (ip !== '' && isIP(ip) === 0) throw new CliError(2, `--ip ${JSON.stringify(ip)} is not an IP address`);
  const factors = v.factors === undefined ? [] : parseKinds(String(v.factors), '--factors');
  if (v.fresh !== undefined && factors.length === 0) throw new CliError(2, '--fresh says how old the --factors are: give --factors too');
  let freshMs = 0;
  if (v.fresh !== undefined) {
    try {
      freshMs = parseDuration(String(v.fresh));
    } catch (err) {
      throw new CliError(2, `--fresh: ${(err as Error).message}`);
    }
  }
  const userArg = String(v.user);
  const anonymous = userArg === '-';
  if (anonymous) {
    for (const key of ['factors', 'remembered', 'deferred', 'enrolled', 'groups', 'break-glass'] as const) {
      if (v[key] !== undefined) throw new CliError(2, `--${key} describes a signed-in user; it makes no sense with --user -`);
    }
  }
  const enrolledArg = v.enrolled === undefined ? undefined : String(v.enrolled) === 'none' ? [] : parseKinds(String(v.enrolled), '--enrolled');
  const groupsArg = v.groups === undefined ? undefined : String(v.groups).split(',').map((g) => g.trim()).filter(Boolean);

  const now = (io.now ?? Date.now)();
  const config = loadOperatorConfig(v.config === undefined ? DEFAULT_CONFIG : String(v.config), now);
  const snap = buildSnapshot(config);
  const { host, target } = splitUrl(String(v.url), v.host === undefined ? undefined : String(v.host), config);

  const notes: string[] = [];
  let subject: SubjectFacts | null = null;
  if (!anonymous) {
    const directory = readDirectory(config);
    let user: { id: string; groups: string[] } | undefined;
    if (directory === null) {
      user = { id: userArg, groups: groupsArg ?? [] };
      if (groupsArg === undefined) notes.push(`identity source ${config.identity.source} has no user list here: groups unknown, taken as none (pass --groups)`);
    } else {
      const record = directory.users.get(userArg);
      if (!record) throw new CliError(1, `no user ${JSON.stringify(userArg)} in ${directory.path} (use --user - for an anonymous request)`);
      if (record.disabled) notes.push(`user ${userArg} is disabled: the gateway treats their sessions as signed out, so this is explained as anonymous`);
      else user = { id: record.id, groups: groupsArg ?? record.groups };
      if (groupsArg !== undefined) notes.push(`groups from --groups, not the users file (${record.groups.join(',') || 'none'})`);
    }
    if (user) {
      let enrolled = enrolledArg;
      if (enrolled === undefined) {
        const read = await enrolledFromStore(config, user.id);
        enrolled = read.kinds;
        if (read.note) notes.push(read.note);
      }
      // A factor passed in the session is one the user has enrolled.
      enrolled = [...new Set([...enrolled, ...factors])];
      subject = hypotheticalSubject(user, { factors, freshMs, remembered: v.remembered === true, deferred: v.deferred === true }, enrolled, config, now);
    }
  }

  const overrides = v.override === undefined ? [] : String(v.override).split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
  const bad = overrides.find((m) => !METHOD.test(m));
  if (bad !== undefined) throw new CliError(2, `--override ${JSON.stringify(bad)} is not an HTTP method`);
  if (subject && v['break-glass'] === true) subject.breakglass = true;
  const e = explainRequest(snap, { method, target, host, ip, ...(overrides.length > 0 ? { overrides } : {}) }, subject, now);
  e.notes.push(...notes);
  io.stdout.write(v.json ? `${JSON.stringify(e, null, 2)}\n` : formatExplanation(e));
  return 0;
}

/** Host and raw request-target from --url (kept raw: the gateway sees the bytes, not a parsed URL). */
function splitUrl(url: string, hostArg: string | undefined, config: Config): { host: string; target: string } {
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  let host: string;
  let target = url;
  if (m) {
    if (m[1].includes('@')) throw new CliError(2, '--url must not contain credentials');
    host = m[1];
    target = m[2] === '' ? '/' : m[2];
  } else {
    host = new URL(config.server.public_url).host;
  }
  return { host: hostOnly(hostArg ?? host), target };
}

function parseKinds(list: string, flag: string): FactorKind[] {
  const kinds = list.split(',').map((k) => k.trim()).filter(Boolean).map((k) => (k === 'phishing_resistant' ? 'webauthn' : k));
  const bad = kinds.find((k) => !FACTOR_KIND_NAMES.includes(k as FactorKind));
  if (bad !== undefined) throw new CliError(2, `${flag}: unknown factor kind ${JSON.stringify(bad)} (known: ${FACTOR_KIND_NAMES.join(', ')})`);
  return [...new Set(kinds)] as FactorKind[];
}

/** What the gateway puts in `enrolled` at sign-in: factor kinds, plus recovery while unused codes remain. */
async function enrolledFromStore(config: Config, user: string): Promise<{ kinds: FactorKind[]; note?: string }> {
  const store = await openExistingStore(config);
  if (store === null) return { kinds: [], note: `the store ${storeName(config)} does not exist yet: nobody has enrolled` };
  try {
    const kinds = [...new Set((await store.listFactors(user)).map((f) => f.kind))];
    if ((await store.countRecoveryCodes(user)) > 0) kinds.push('recovery');
    return { kinds };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------
// Shared by the operator commands (explain, mfa, report)

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** node:util parseArgs with usage errors as CliError(2). */
export function parseOptions(args: string[], options: OptionSpec, positionals = false): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (err) {
    throw new CliError(2, (err as Error).message);
  }
}

/** Loads and validates the config; problems exit 1 with every issue listed. Never writes dev secrets. */
export function loadOperatorConfig(file: string, now: number = Date.now()): Config {
  try {
    return loadConfig(file, { persistDevSecrets: false, now: () => new Date(now) });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(1, `invalid config:\n${formatIssues(file, err.issues)}`);
    throw err;
  }
}

/** The users of the file identity source, or null when the source has no user list (oidc, upstream_form). */
export function readDirectory(config: Config): { path: string; users: Map<string, UserRecord> } | null {
  if (config.identity.source !== 'file' || !config.identity.file) return null;
  const path = config.identity.file.path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(1, `cannot read the users file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { users, issues } = parseUsersFile(text, path);
  if (issues.length > 0) {
    throw new CliError(1, `the users file ${path} has errors (run gatehouse check):\n${issues.map((i) => `  ${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n')}`);
  }
  return { path, users };
}

/** The store, migrated; for reading commands a SQLite file that does not exist yet is null (nothing to read, nothing created). */
export async function openExistingStore(config: Config): Promise<Store | null> {
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) return null;
  return openMigratedStore(config);
}

export async function openMigratedStore(config: Config): Promise<Store> {
  let store: Store | undefined;
  try {
    store = openStore(config.store);
    await store.migrate();
    return store;
  } catch (err) {
    await store?.close().catch(() => undefined);
    throw new CliError(1, `cannot open the store ${storeName(config)}: ${(err as Error).message}`);
  }
}

export function storeName(config: Config): string {
  if (config.store.kind === 'sqlite') return config.store.path;
  try {
    const u = new URL(config.store.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}
