// `gatehouse mfa list USER` and `gatehouse mfa reset USER`.
//
// list: the user's factors (kind, name, created, last used), recovery codes
// left, trusted devices, deferrals and the last reset.
//
// reset: for a user who lost every device. Removes all factors, recovery codes
// and trusted devices, records user_state.mfa_reset_at, revokes the user's
// sessions on every instance (the same revocation as "sign out everywhere"),
// writes an `mfa.reset` audit record (continuing the hash chain), and notifies
// the user. Resetting a member of `policy.privileged_groups` needs a second
// person: `--approved-by` names an existing, enabled user of a privileged group
// who is neither the target nor the operator (`--by`). Every check runs, and
// every backend is reached, before anything changes: a refused or failing reset
// changes nothing.
//
// Exit 0 ok, 1 a failure the user can fix (unknown user, refused approval,
// unreachable store or shared state), 2 usage.

import { userInfo } from 'node:os';
import type { AuditLog } from '../audit/audit-log.ts';
import { accountKey, lockedAt } from '../identity/throttle.ts';
import type { Config } from '../config/types.ts';
import { factorKindInfo } from '../factors/types.ts';
import { mfaResetAlert, mfaResetMessage } from '../identity/messages.ts';
import { translator } from '../identity/translate.ts';
import type { Notifier } from '../identity/notifier.ts';
import type { UserRecord } from '../identity/types.ts';
import { USERNAME_PATTERN } from '../identity/users-file.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { DeviceRecord, FactorRecord, Store, UserState } from '../store/types.ts';
import {
  CliError, closeAudit, CONFIG_OPTION, configPath, DEFAULT_CONFIG, EXIT, loadOperatorConfig, openExistingStore, openMigratedStore, parseOptions, plural,
  printUsage, readDirectory, runCommand, STD_IO, table, usageError, utcMinute, type CliIO, type CommandInfo,
} from './operator.ts';

export const MFA: CommandInfo = {
  label: 'gatehouse mfa',
  usage: `usage:
  gatehouse mfa list [USER] [--json] [--config FILE]   (no USER: everyone, one line each)
  gatehouse mfa reset USER [--by OPERATOR] [--approved-by ADMIN] [--reason TEXT] [--config FILE]
options:
  --by OPERATOR        who resets (recorded in the audit log; default: your login name)
  --approved-by ADMIN  a second admin approving the reset; required for members of policy.privileged_groups
  --reason TEXT        why (recorded in the audit log)
  --config FILE        the gateway config (default ${DEFAULT_CONFIG})
`,
};

export async function runMfa(args: string[], io: CliIO = STD_IO): Promise<number> {
  return runCommand(MFA, io, () => mfa(args, io));
}

async function mfa(args: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseOptions(args, {
    ...CONFIG_OPTION, json: { type: 'boolean' }, by: { type: 'string' }, 'approved-by': { type: 'string' }, reason: { type: 'string' },
  }, true);
  if (v.help) return printUsage(MFA, io);
  const [command, user, ...extra] = positionals;
  if (command === undefined) throw usageError('missing command (list or reset)');
  if (command !== 'list' && command !== 'reset') throw usageError(`unknown command ${JSON.stringify(command)}`);
  if (user === undefined && command === 'reset') throw usageError('missing USER for reset');
  if (extra.length > 0) throw usageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (command === 'list') {
    for (const flag of ['by', 'approved-by', 'reason'] as const) if (v[flag] !== undefined) throw usageError(`--${flag} is only for reset`);
  } else if (v.json !== undefined) {
    throw usageError('--json is only for list');
  }
  if (user === undefined) {
    const now = (io.now ?? Date.now)();
    const config = loadOperatorConfig(configPath(v), { now });
    return listEveryone(io, config, readDirectory(config), v.json === true, now);
  }
  if (!USERNAME_PATTERN.test(user)) throw new CliError(EXIT.FAILED, `invalid username ${JSON.stringify(user)}`);

  const now = (io.now ?? Date.now)();
  const config = loadOperatorConfig(configPath(v), { now });
  const directory = readDirectory(config);
  const record = directory?.users.get(user);
  if (directory !== null && record === undefined) throw new CliError(EXIT.FAILED, `no user ${JSON.stringify(user)} in ${directory.path}`);

  if (command === 'list') return list(io, config, user, record, v.json === true, now);
  const by = v.by === undefined ? defaultOperator() : v.by.trim();
  if (by === '') throw usageError('--by must name someone');
  const approvedBy = v['approved-by']?.trim();
  const reason = v.reason?.trim() || undefined;
  return reset(io, config, { user, record, directory: directory?.users ?? null, by, approvedBy, reason, now });
}

function defaultOperator(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}

// ---------------------------------------------------------------------------
// list

export interface MfaListing {
  user: string;
  display_name?: string;
  email?: string;
  groups?: string[];
  privileged: boolean | null;
  factors: Array<{ id: string; kind: string; label: string; name: string; created: string; last_used: string | null }>;
  recovery_codes_left: number;
  trusted_devices: Array<{ id: string; label: string; created: string; expires: string; last_used: string | null; expired: boolean }>;
  deferrals: number;
  mfa_reset_at: string | null;
  /** Consecutive failed attempts (identity/throttle.ts); at 100 of either kind the account is locked. */
  failures_in_a_row: { password: number; second_factor: number };
  locked: boolean;
}

/** Pure: the listing of one user's second factors. */
export function mfaListing(
  user: string,
  record: UserRecord | undefined,
  privilegedGroups: readonly string[],
  facts: UserFacts,
  now: number,
): MfaListing {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    user,
    ...(record ? { display_name: record.display_name, email: record.email, groups: record.groups } : {}),
    privileged: record ? record.groups.some((g) => privilegedGroups.includes(g)) : null,
    factors: [...facts.factors].sort((a, b) => a.created_at - b.created_at).map((f) => ({
      id: f.id, kind: f.kind, label: safeLabel(f.kind), name: f.name, created: iso(f.created_at)!, last_used: iso(f.last_used_at),
    })),
    recovery_codes_left: facts.recoveryLeft,
    trusted_devices: [...facts.devices].sort((a, b) => a.created_at - b.created_at).map((d) => ({
      id: d.id, label: d.label, created: iso(d.created_at)!, expires: iso(d.expires_at)!, last_used: iso(d.last_used_at), expired: d.expires_at <= now,
    })),
    deferrals: facts.state?.deferrals ?? 0,
    mfa_reset_at: iso(facts.state?.mfa_reset_at ?? null),
    failures_in_a_row: { password: facts.failures.pwd, second_factor: facts.failures.mfa },
    locked: lockedAt(Math.max(facts.failures.pwd, facts.failures.mfa)),
  };
}

function safeLabel(kind: string): string {
  try {
    return factorKindInfo(kind as FactorRecord['kind']).label;
  } catch {
    return kind;
  }
}

export function formatListing(l: MfaListing): string {
  const out: string[] = [];
  const who = [l.display_name, l.email].filter(Boolean).join(', ');
  out.push(`user:            ${l.user}${who ? ` (${who})` : ''}${l.groups ? `  groups ${l.groups.join(',') || '-'}` : ''}${l.privileged ? '  privileged' : ''}`);
  out.push(`factors:         ${l.factors.length || 'none'}`);
  if (l.factors.length > 0) {
    out.push(...table(['KIND', 'NAME', 'CREATED', 'LAST USED'], l.factors.map((f) => [f.kind, f.name, when(f.created), when(f.last_used)])));
  }
  out.push(`recovery codes:  ${l.recovery_codes_left} left`);
  out.push(`trusted devices: ${l.trusted_devices.length || 'none'}`);
  if (l.trusted_devices.length > 0) {
    out.push(...table(['LABEL', 'CREATED', 'EXPIRES', 'LAST USED'], l.trusted_devices.map((d) => [d.label, when(d.created), `${when(d.expires)}${d.expired ? ' (expired)' : ''}`, when(d.last_used)])));
  }
  out.push(`deferrals:       ${l.deferrals}`);
  out.push(`last MFA reset:  ${when(l.mfa_reset_at)}`);
  const failed = `failed in a row: password ${l.failures_in_a_row.password}, second factor ${l.failures_in_a_row.second_factor}`;
  out.push(l.locked ? `${failed}  LOCKED (gatehouse user unlock ${l.user})` : failed);
  return `${out.join('\n')}\n`;
}

function when(iso: string | null): string {
  return iso === null ? 'never' : utcMinute(iso);
}

async function list(io: CliIO, config: Config, user: string, record: UserRecord | undefined, json: boolean, now: number): Promise<number> {
  const store = await openExistingStore(config);
  const facts = store === null
    ? NO_FACTS
    : await readUserFacts(store, user).finally(() => store.close());
  const listing = mfaListing(user, record, config.policy.privileged_groups, facts, now);
  io.stdout.write(json ? `${JSON.stringify(listing, null, 2)}\n` : formatListing(listing));
  return EXIT.OK;
}

/**
 * `mfa list` without a user: everyone in the users file plus everyone the
 * store holds factors for (an OIDC deployment has no users file), one line each.
 */
async function listEveryone(io: CliIO, config: Config, directory: ReturnType<typeof readDirectory>, json: boolean, now: number): Promise<number> {
  const store = await openExistingStore(config);
  let listings: MfaListing[];
  try {
    const enrolled = store === null ? [] : (await store.listEnrolledUsers()).map((e) => e.user);
    const users = [...new Set([...(directory?.users.keys() ?? []), ...enrolled])].sort();
    listings = await Promise.all(users.map(async (u) => mfaListing(
      u, directory?.users.get(u), config.policy.privileged_groups, store === null ? NO_FACTS : await readUserFacts(store, u), now,
    )));
  } finally {
    await store?.close();
  }
  io.stdout.write(json ? `${JSON.stringify(listings, null, 2)}\n` : formatEveryone(listings));
  return EXIT.OK;
}

/** One line per user: what they can sign in with, at a glance. */
export function formatEveryone(listings: readonly MfaListing[]): string {
  if (listings.length === 0) return 'no users\n';
  const rows = listings.map((l) => {
    const used = l.factors.map((f) => f.last_used).filter((x): x is string => x !== null).sort().at(-1) ?? null;
    const kinds = [...new Set(l.factors.map((f) => f.kind))].join(',');
    return [l.user, kinds || 'none', String(l.recovery_codes_left), String(l.trusted_devices.filter((d) => !d.expired).length), when(used)];
  });
  return `${table(['USER', 'FACTORS', 'RECOVERY CODES', 'TRUSTED DEVICES', 'LAST USED'], rows).join('\n')}\n`;
}

/** What the store holds of one user. */
export interface UserFacts {
  factors: FactorRecord[];
  recoveryLeft: number;
  devices: DeviceRecord[];
  state: UserState | undefined;
  failures: { pwd: number; mfa: number };
}

const NO_FACTS: UserFacts = { factors: [], recoveryLeft: 0, devices: [], state: undefined, failures: { pwd: 0, mfa: 0 } };

async function readUserFacts(store: Store, user: string): Promise<UserFacts> {
  const [factors, recoveryLeft, devices, state, pwd, mfa] = await Promise.all([
    store.listFactors(user), store.countRecoveryCodes(user), store.listDevices(user), store.getUserState(user),
    store.failureCount(accountKey('pwd', user)), store.failureCount(accountKey('mfa', user)),
  ]);
  return { factors, recoveryLeft, devices, state, failures: { pwd, mfa } };
}

// ---------------------------------------------------------------------------
// reset

/**
 * Pure: why this reset must be refused, or undefined when it may go ahead.
 * `directory` null: the identity source cannot list users, so who is
 * privileged is unknown and every reset needs an approver (who cannot be checked).
 */
export function approvalProblem(
  target: string,
  directory: ReadonlyMap<string, UserRecord> | null,
  privilegedGroups: readonly string[],
  by: string,
  approvedBy: string | undefined,
): string | undefined {
  const privileged = (u: UserRecord) => u.groups.some((g) => privilegedGroups.includes(g));
  const groups = privilegedGroups.join(', ') || '(none)';
  const record = directory?.get(target);
  const needed = directory === null || (record !== undefined && privileged(record));
  if (approvedBy === undefined) {
    if (!needed) return undefined;
    return directory === null
      ? `the identity source has no user list, so ${target} may be privileged: resetting needs --approved-by OTHER_ADMIN`
      : `${target} is in a privileged group (${record!.groups.filter((g) => privilegedGroups.includes(g)).join(', ')}): resetting needs --approved-by OTHER_ADMIN, an enabled member of ${groups} other than ${target} and ${by}`;
  }
  if (approvedBy === target) return `${target} cannot approve the reset of their own MFA`;
  if (approvedBy === by) return `the approver must be a second person, not the operator (--by ${by})`;
  if (directory === null) return undefined;
  const approver = directory.get(approvedBy);
  if (approver === undefined) return `approver ${JSON.stringify(approvedBy)} is not a user`;
  if (approver.disabled) return `approver ${approvedBy} is disabled`;
  if (!privileged(approver)) return `approver ${approvedBy} is not in a privileged group (${groups})`;
  return undefined;
}

interface ResetRequest {
  user: string;
  record: UserRecord | undefined;
  directory: ReadonlyMap<string, UserRecord> | null;
  by: string;
  approvedBy: string | undefined;
  reason: string | undefined;
  now: number;
}

async function reset(io: CliIO, config: Config, r: ResetRequest): Promise<number> {
  const refusal = approvalProblem(r.user, r.directory, config.policy.privileged_groups, r.by, r.approvedBy);
  if (refusal !== undefined) throw new CliError(EXIT.FAILED, `refused: ${refusal}; nothing was changed`);

  // Loaded here: `mfa list` needs none of them (Redis, SMTP and session crypto clients).
  const [{ openAuditLog, configuredAuditLog }, { openNotifier }, { SessionManager }, { openSharedState }] = await Promise.all([
    import('../audit/audit-log.ts'), import('../identity/notifier.ts'), import('../session/session-manager.ts'), import('../store/open-shared-state.ts'),
  ]);
  // Reach every backend first, so a failure leaves everything as it was.
  let store: Store | undefined;
  let shared: SharedState | undefined;
  let audit: AuditLog | undefined;
  let notifier: Notifier | undefined;
  const auditErrors: Error[] = [];
  try {
    store = await openMigratedStore(config);
    shared = openSharedState(config.shared_state);
    try {
      await shared.ping();
    } catch (err) {
      throw new CliError(EXIT.FAILED, `cannot reach shared state (${config.shared_state.kind}): ${(err as Error).message}; nothing was changed`);
    }
    try {
      audit = await openAuditLog({ ...configuredAuditLog(config), onError: (e) => auditErrors.push(e) });
    } catch (err) {
      throw new CliError(EXIT.FAILED, `cannot open the audit log ${config.audit.path}: ${(err as Error).message}; nothing was changed`);
    }
    notifier = openNotifier(config.notifier);

    // The changes.
    const recoveryLeft = await store.countRecoveryCodes(r.user);
    const factors = await store.removeAllFactors(r.user);
    await store.replaceRecoveryCodes(r.user, []);
    const devices = await store.removeAllDevices(r.user);
    // Wrong codes typed at a lost phone's account are behind the user now: a second-factor lock goes too.
    await store.clearFailures([accountKey('mfa', r.user)]);
    const state = await store.getUserState(r.user);
    await store.putUserState({
      user: r.user,
      deferrals: state?.deferrals ?? 0,
      last_factor: null,
      mfa_reset_at: r.now,
      updated_at: r.now,
    });
    // The same revocation as "sign out everywhere": the key and the push every instance listens to.
    const sessions = new SessionManager({
      secret: config.session.secret,
      cookieName: config.session.cookie_name,
      secure: config.server.public_url.startsWith('https:'),
      maxAge: config.session.max_age,
      idle: config.session.idle_timeout,
      shared,
    });
    await sessions.revokeUser(r.user);

    audit.write({
      event: 'mfa.reset',
      user: r.user,
      by: r.by,
      ...(r.approvedBy !== undefined ? { approved_by: r.approvedBy } : {}),
      factors,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
    });
    const written = audit;
    audit = undefined;
    const head = await closeAudit(written, auditErrors, `MFA of ${r.user} was reset`);

    io.stdout.write(
      `reset ${r.user}: removed ${plural(factors, 'factor')}, ${plural(recoveryLeft, 'unused recovery code')}, ${plural(devices, 'trusted device')}; ` +
        `sessions revoked; audited as seq ${head.seq}${r.approvedBy ? ` (by ${r.by}, approved by ${r.approvedBy})` : ` (by ${r.by})`}\n`,
    );
    if (config.shared_state.kind === 'memory') {
      io.stderr.write('note: shared_state is memory: a running gateway ends the user\'s sessions when it next polls the store (within 2 s); with shared_state redis it happens at once\n');
    }
    if (r.directory === null && r.approvedBy !== undefined) {
      io.stderr.write(`note: approver ${r.approvedBy} could not be checked: identity source ${config.identity.source} has no user list\n`);
    }
    await notify(io, config, notifier, r);
    return EXIT.OK;
  } finally {
    await audit?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await shared?.close().catch(() => undefined);
    await notifier?.close?.().catch(() => undefined);
  }
}

/** Tells the user (and the security contact, when configured); a failure is a warning: the reset itself is done. */
async function notify(io: CliIO, config: Config, notifier: Notifier, r: ResetRequest): Promise<void> {
  // No page asked for this: the user's email is in ui.default_language.
  const ctx = { product: config.branding.product_name, support: config.branding.support_contact, tr: translator(config.ui.default_language, config.ui.catalogs), timeZone: config.ui.time_zone };
  const email = r.record?.email;
  if (email) {
    const msg = mfaResetMessage(ctx, { by: r.by });
    try {
      await notifier.send({ to: email, ...msg });
      io.stdout.write(`notified ${email}\n`);
    } catch (err) {
      io.stderr.write(`warning: could not notify ${email}: ${(err as Error).message}\n`);
    }
  } else {
    io.stderr.write(`warning: ${r.user} has no email address: not notified\n`);
  }
  const alert = config.audit.alert_email;
  if (alert) {
    try {
      await notifier.send({ to: alert, ...mfaResetAlert(ctx, { user: r.user, by: r.by, approvedBy: r.approvedBy, at: r.now, reason: r.reason }) });
    } catch (err) {
      io.stderr.write(`warning: could not alert ${alert}: ${(err as Error).message}\n`);
    }
  }
}

