// `gatehouse explain --user U --method M --url URL [--form A=B&C=D] [--ip IP] [--config FILE]`:
// dry-runs one request through the same steps and the same policy code the
// gateway runs (normalize → reserved routes → route → evaluate) and says which
// rule matched, what the gateway would decide, and why.
//
// The session is hypothetical: by default the user has just signed in with a
// password and passed no second factor yet; `--factors totp --fresh 2m` says
// a TOTP check was passed two minutes ago, `--remembered` (or `--device
// known`) that the browser is a remembered device. With the risk section on,
// the session is a sign-in from `--ip` just before those factors: its signals
// come from the store's remembered places and GeoIP as at a real sign-in
// (session/risk-observer.ts), and the explanation shows the score. What the user has enrolled comes from the store (or
// `--enrolled`), groups from the users file (or `--groups`). `--user -` asks
// for an anonymous request.
//
// Exit 0 whatever the decision (a rejected URL included: that is the
// explanation), 1 for an unknown user or a bad config, 2 for usage errors.
//
// This file turns options into a request and a hypothetical session; the
// explanation itself (pure) is explanation.ts.

import { isIP } from 'node:net';
import { parseDuration } from '../config/duration.ts';
import type { Config, FactorKind } from '../config/types.ts';
import { buildSnapshot } from '../http/snapshot.ts';
import { hostOnly } from '../policy/decide.ts';
import type { RiskFacts, SubjectFacts } from '../policy/types.ts';
import { LIVE_SIGNALS } from '../policy/risk.ts';
import { observe } from '../session/risk-observer.ts';
import type { Snapshot } from '../web/context.ts';
import { explainRequest, formatExplanation, hypotheticalSubject } from './explanation.ts';
import { enrolledKindsIn } from '../factors/registry.ts';
import {
  CliError, CONFIG_OPTION, configPath, DEFAULT_CONFIG, EXIT, loadOperatorConfig, openExistingStore, parseOptions, printUsage, readDirectory,
  requiredOptions, runCommand, STD_IO, storeName, usageError, type CliIO, type CommandInfo,
} from './operator.ts';

// The pure explanation, also used by the decision tests (test/policy/), which import it from here.
export { explainRequest, formatExplanation, hypotheticalSubject };
export type { Explanation, ExplainRequest, HypotheticalSession, Outcome, RuleView } from './explanation.ts';

const FACTOR_KIND_NAMES: readonly FactorKind[] = ['webauthn', 'push', 'totp', 'email', 'sms', 'recovery'];
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const EXPLAIN: CommandInfo = {
  label: 'gatehouse explain',
  usage: `usage: gatehouse explain --user USER --method METHOD --url URL [options]
  --user USER          who asks; "-" for an anonymous request
  --method METHOD      GET, POST, ...
  --url URL            a path (/billing/pay?x=1) or an absolute http(s) URL; rules matching
                       query parameters read its query (quote it in the shell)
  --form FIELDS        a urlencoded form body, 'a=b&c=d': what rules matching params read
  --ip IP              the client address (for rules matching networks; with risk on, the
                       sign-in's address: new network, new country, impossible travel)
  --host HOST          the Host asked for (default: the URL's host, else server.public_url's)
  --factors KINDS      second factors passed in the session: webauthn,push,totp,email,sms,recovery
                       (default: none, a fresh sign-in with a password only)
  --fresh DURATION     how long ago those factors were passed (default 0s: just now)
  --remembered         the browser is a remembered device (the same as --device known)
  --device new|known   whether the browser is a remembered device of the user (risk: new_device);
                       default new
  --deferred           the user chose "set up later" in this session
  --enrolled KINDS     what the user has enrolled (default: read from the store); "none" for nothing
  --groups GROUPS      the user's groups (default: from the users file)
  --override METHODS   methods the request claims by X-HTTP-Method-Override (or X-HTTP-Method,
                       X-Method-Override) or a _method field, comma-separated: DELETE
  --break-glass        the session is the break-glass (emergency) account's
  --via proxy|forward-auth
                       how the request reaches the gateway: through its own proxy (a route must
                       serve it), or asked about by nginx, Traefik or Caddy at /.gatehouse/authz
                       (no route needed; the body is never seen). Default: forward-auth when the
                       config has no routes, else proxy
  --config FILE        the gateway config (default ${DEFAULT_CONFIG})
  --json               machine-readable output
`,
};

export async function runExplain(args: string[], io: CliIO = STD_IO): Promise<number> {
  return runCommand(EXPLAIN, io, () => explain(args, io));
}

async function explain(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseOptions(args, {
    user: { type: 'string' }, method: { type: 'string' }, url: { type: 'string' }, ip: { type: 'string' }, host: { type: 'string' },
    factors: { type: 'string' }, fresh: { type: 'string' }, remembered: { type: 'boolean' }, deferred: { type: 'boolean' },
    enrolled: { type: 'string' }, groups: { type: 'string' }, ...CONFIG_OPTION, json: { type: 'boolean' },
    override: { type: 'string' }, 'break-glass': { type: 'boolean' }, form: { type: 'string' }, device: { type: 'string' },
    via: { type: 'string' },
  });
  if (v.help) return printUsage(EXPLAIN, io);
  const { user: userArg, method: methodArg, url } = requiredOptions(v, ['user', 'method', 'url']);
  const method = methodArg.toUpperCase();
  if (!METHOD.test(method)) throw usageError(`--method ${JSON.stringify(v.method)} is not an HTTP method`);
  const ip = v.ip ?? '';
  if (ip !== '' && isIP(ip) === 0) throw usageError(`--ip ${JSON.stringify(ip)} is not an IP address`);
  const factors = v.factors === undefined ? [] : parseKinds(v.factors, '--factors');
  if (v.fresh !== undefined && factors.length === 0) throw usageError('--fresh says how old the --factors are: give --factors too');
  let freshMs = 0;
  if (v.fresh !== undefined) {
    try {
      freshMs = parseDuration(v.fresh);
    } catch (err) {
      throw usageError(`--fresh: ${(err as Error).message}`);
    }
  }
  if (v.device !== undefined && v.device !== 'new' && v.device !== 'known') throw usageError('--device is new or known');
  if (v.via !== undefined && v.via !== 'proxy' && v.via !== 'forward-auth') throw usageError('--via is proxy or forward-auth');
  if (v.device === 'new' && v.remembered === true) throw usageError('--remembered says the device is known: not with --device new');
  const remembered = v.remembered === true || v.device === 'known';
  const anonymous = userArg === '-';
  if (anonymous) {
    for (const key of ['factors', 'remembered', 'deferred', 'enrolled', 'groups', 'break-glass', 'device'] as const) {
      if (v[key] !== undefined) throw usageError(`--${key} describes a signed-in user; it makes no sense with --user -`);
    }
  }
  const enrolledArg = v.enrolled === undefined ? undefined : v.enrolled === 'none' ? [] : parseKinds(v.enrolled, '--enrolled');
  const groupsArg = v.groups === undefined ? undefined : v.groups.split(',').map((g) => g.trim()).filter(Boolean);

  const now = (io.now ?? Date.now)();
  const config = loadOperatorConfig(configPath(v), { now });
  const snap = buildSnapshot(config);
  const { host, target } = splitUrl(url, v.host, config);

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
      if (!record) throw new CliError(EXIT.FAILED, `no user ${JSON.stringify(userArg)} in ${directory.path} (use --user - for an anonymous request)`);
      if (record.disabled) notes.push(`user ${userArg} is disabled: the gateway treats their sessions as signed out, so this is explained as anonymous`);
      else user = { id: record.id, groups: groupsArg ?? record.groups };
      if (groupsArg !== undefined) notes.push(`groups from --groups, not the users file (${record.groups.join(',') || 'none'})`);
    }
    if (user) {
      const read = await fromStore(config, snap, user.id, enrolledArg, { ip, now, signedInAt: now - freshMs });
      notes.push(...read.notes);
      // A factor passed in the session is one the user has enrolled.
      const enrolled = [...new Set([...read.kinds, ...factors])];
      subject = hypotheticalSubject(user, { factors, freshMs, remembered, deferred: v.deferred === true }, enrolled, config, now);
      if (read.risk) subject.risk = read.risk;
    }
  }

  const overrides = v.override === undefined ? [] : v.override.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
  const bad = overrides.find((m) => !METHOD.test(m));
  if (bad !== undefined) throw usageError(`--override ${JSON.stringify(bad)} is not an HTTP method`);
  if (subject && v['break-glass'] === true) subject.breakglass = true;
  // A config without routes is a forward-auth deployment: its requests reach the gateway only as /authz questions.
  const via = (v.via ?? (config.routes.length === 0 ? 'forward-auth' : 'proxy')) as 'proxy' | 'forward-auth';
  if (via === 'forward-auth' && v.form !== undefined) throw usageError('--form with --via forward-auth: the proxy never sends the body (rules that read it decide it as unread)');
  const form = v.form === undefined ? {} : { form: v.form };
  const e = explainRequest(snap, { method, target, host, ip, via, ...(overrides.length > 0 ? { overrides } : {}), ...form }, subject, now);
  if (via === 'forward-auth') notes.push(`judged as forward-auth sees it (/.gatehouse/authz)${v.via === undefined ? ': the config has no routes' : ''}`);
  e.notes.push(...notes);
  io.stdout.write(v.json ? `${JSON.stringify(e, null, 2)}\n` : formatExplanation(e));
  return EXIT.OK;
}

/** Host and raw request-target from --url (kept raw: the gateway sees the bytes, not a parsed URL). */
function splitUrl(url: string, hostArg: string | undefined, config: Config): { host: string; target: string } {
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  let host: string;
  let target = url;
  if (m) {
    if (m[1].includes('@')) throw usageError('--url must not contain credentials');
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
  if (bad !== undefined) throw usageError(`${flag}: unknown factor kind ${JSON.stringify(bad)} (known: ${FACTOR_KIND_NAMES.join(', ')})`);
  return [...new Set(kinds)] as FactorKind[];
}

/**
 * What the store says of the user: what the gateway puts in `enrolled` at
 * sign-in (factor kinds, plus recovery while unused codes remain; `--enrolled`
 * stands instead), and with the risk section on, the signals of a sign-in
 * from `ip` (the store's remembered places, GeoIP; failed attempts are not
 * known here).
 */
async function fromStore(
  config: Config, snap: Snapshot, user: string, enrolledArg: FactorKind[] | undefined, at: { ip: string; now: number; signedInAt: number },
): Promise<{ kinds: FactorKind[]; notes: string[]; risk?: RiskFacts }> {
  const riskOn = snap.risk !== null && snap.geo !== null;
  if (enrolledArg !== undefined && !riskOn) return { kinds: enrolledArg, notes: [] };
  const store = await openExistingStore(config);
  const notes: string[] = [];
  if (store === null) notes.push(`the store ${storeName(config)} does not exist yet: nobody has enrolled${riskOn ? ' or signed in' : ''}`);
  try {
    const kinds = enrolledArg ?? (store === null ? [] : await enrolledKindsIn(store, user));
    if (!riskOn) return { kinds, notes };
    const history = store ?? { listSignInPlaces: async () => [] };
    const { observed, located } = await observe({ store: history, geo: snap.geo!, config: config.risk }, { user, ip: at.ip, failures: 0, now: at.signedInAt });
    const place = [located.country ?? 'country unknown', located.lat === null ? 'no coordinates' : `${located.lat},${located.lon}`].join(', ');
    notes.push(at.ip === '' ? 'risk: no --ip given: the sign-in\'s network, country and travel are unknown' : `risk: ${at.ip} is ${place}`);
    if (observed.travel) notes.push(`risk: from the last sign-in (${observed.travel.from}): ${observed.travel.km} km in ${observed.travel.hours} h`);
    if (observed.unavailable.length > 0 && at.ip !== '') notes.push(`risk: not judged for want of data: ${observed.unavailable.join(', ')}`);
    notes.push('risk: recent_failures is not known to explain (the gateway counts failed attempts in shared state)');
    return { kinds, notes, risk: { at: at.signedInAt, signals: observed.signals.filter((sig) => !LIVE_SIGNALS.includes(sig)) } };
  } finally {
    await store?.close();
  }
}
