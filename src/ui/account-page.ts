// /.gatehouse/account: the user's security page. Lists factors with
// their last use, trusted browsers and recovery codes left. Opening it needs
// a second factor in this session (except for a user with none to give).
// Every change but signing another browser out needs a second factor from the last five minutes: the change is
// kept in the session, the check is asked for, and the change is finished when
// the user comes back. Destructive changes ask for confirmation first. The
// last factor cannot be removed while the rollout requires MFA of this user.

import { currentUser } from '../web/current-user.ts';
import type { RequestContext } from '../web/context.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, redirect, sendPage } from '../web/respond.ts';
import { csrfOk, commitSession, registerUnlistedSession } from '../web/page-session.ts';
import { isInRollout } from '../policy/rollout.ts';
import { factorRemovedMessage, recoveryRegeneratedMessage } from '../identity/messages.ts';
import { msg } from '../identity/translate.ts';
import { confirmChallenge, freshCheckFor, needsPhishingResistant, notifyUser } from './second-factor.ts';
import { recoveryDownload } from './enroll-page.ts';
import { liveSessions } from '../session/session-registry.ts';

const ACCOUNT = '/.gatehouse/account';
/** A kept change older than this is dropped rather than finished. */
const PENDING_ACTION_MS = 10 * 60_000;
/** Changes that ask "Are you sure?" before they are made. */
const CONFIRMED_ACTIONS = new Set(['remove-factor', 'regenerate-recovery', 'sign-out-everywhere']);
/** Changes made without a fresh second factor. */
const FREE_ACTIONS = new Set(['revoke-session']);
const ACTIONS = new Set(['remove-factor', 'rename-factor', 'regenerate-recovery', 'revoke-device', 'revoke-session', 'sign-out-everywhere']);

/** The user's signed-in browsers the security page lists: registered, alive, not revoked; this browser first. */
export async function signedInBrowsers(ctx: RequestContext, user: string) {
  const now = ctx.svc.now();
  const alive = liveSessions(await ctx.svc.store.listSessions(user, now), now, ctx.snap.config.session.idle_timeout);
  const listed = await ctx.svc.sessions.notRevoked(user, alive);
  const rid = ctx.session?.rid;
  return [...listed.filter((r) => r.id === rid), ...listed.filter((r) => r.id !== rid)]
    .map((r) => ({ id: r.id, label: r.label, network: r.network, created: r.created_at, last_seen: r.seen_at, current: r.id === rid }));
}

async function render(ctx: RequestContext, extra: Record<string, unknown> = {}, status = 200, headers: Record<string, string> = {}): Promise<void> {
  const user = ctx.session!.user!;
  const [factors, devices, remaining, sessions] = await Promise.all([
    ctx.svc.factors.listFactors(user),
    ctx.svc.store.listDevices(user),
    ctx.svc.factors.recovery.remaining(user),
    signedInBrowsers(ctx, user),
  ]);
  const now = ctx.svc.now();
  sendPage(ctx, status, 'account', {
    user: currentUser(ctx),
    factors: factors.map((f) => ({ id: f.id, name: f.name, kind: f.kind, created: f.created_at, last_used: f.last_used_at, renamable: f.kind === 'webauthn' || f.kind === 'push' })),
    devices: devices.filter((d) => d.expires_at > now).map((d) => ({ id: d.id, label: d.label, created: d.created_at, expires: d.expires_at, last_used: d.last_used_at })),
    recovery_remaining: remaining,
    sessions,
    wide: true,
    ...extra,
  }, headers);
}

export async function accountPage(ctx: RequestContext): Promise<void> {
  if (!ctx.session?.user) return redirect(ctx, `/.gatehouse/login?rd=${encodeURIComponent(ACCOUNT)}`);
  // The page shows factors, email and trusted browsers: a password alone does not open it.
  const enrolled = (await ctx.svc.factors.enrolledKinds(ctx.session.user)).filter((k) => k !== 'recovery');
  if (enrolled.length > 0 && (ctx.session.factors ?? []).length === 0) {
    return redirect(ctx, `/.gatehouse/challenge?${new URLSearchParams({ rd: ACCOUNT, why: 'account' })}`);
  }
  if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD') {
    const q = new URLSearchParams(ctx.query);
    if (q.get('resume') === '1' && ctx.req.method === 'GET') return resumeAction(ctx);
    const done = q.get('done');
    // A session sealed before the session list existed joins it here, so the page lists this browser too.
    const registered = await registerUnlistedSession(ctx, ctx.session);
    return render(ctx, done && done in DONE ? { done, resumed: q.get('resumed') === '1' } : {}, 200, registered ? { 'set-cookie': registered } : {});
  }
  if (ctx.req.method !== 'POST') return errorPage(ctx, 405);
  return accountSubmit(ctx);
}

/**
 * Back from the check a change needed: the kept change is made now (once,
 * if recent and the check is fresh) and the page says it was.
 */
async function resumeAction(ctx: RequestContext): Promise<void> {
  const kept = ctx.session!.pending_action;
  if (!kept) return redirect(ctx, ACCOUNT);
  const setCookie = await commitSession(ctx, { ...ctx.session!, pending_action: undefined });
  if (ctx.svc.now() - kept.at > PENDING_ACTION_MS || (await missingCheck(ctx, kept)) !== null) return redirect(ctx, ACCOUNT, { 'set-cookie': setCookie });
  return perform(ctx, kept, setCookie);
}

/** Outcomes the page can report (?done=…); the wording is in the template. */
const DONE: Record<string, true> = { removed: true, renamed: true, device: true, session: true };

type AccountAction = { action: string; id?: string; name?: string };

async function accountSubmit(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch (err) { return errorPage(ctx, err instanceof BodyError ? err.status : 400); }
  if (!csrfOk(ctx, form.csrf)) return errorPage(ctx, 403, { message: msg('form.expired_unchanged') });
  const action: AccountAction = { action: form.action ?? '', id: form.id, name: form.name };
  if (!ACTIONS.has(action.action)) return errorPage(ctx, 400);
  if (CONFIRMED_ACTIONS.has(action.action) && form.confirmed !== '1') return askToConfirm(ctx, action);
  // Changes need a fresh second factor: keep the change, ask for the check, finish it on the way back.
  // Signing another browser out only ends access (what a user who sees a stranger's session needs at once): no check.
  const missing = await missingCheck(ctx, action);
  if (missing !== null) {
    const setCookie = await commitSession(ctx, { ...ctx.session!, pending_action: { ...action, at: ctx.svc.now() } });
    const rd = `${ACCOUNT}?resume=1`;
    return redirect(ctx, confirmChallenge(missing, rd, { why: action.action }), { 'set-cookie': setCookie }, 303);
  }
  return perform(ctx, action);
}

/**
 * The check a change still needs: null (none, or signing another browser out), any
 * fresh factor ('factor'), or for removing a passkey or security key a fresh
 * phishing-resistant one ('passkey': a phished code must not remove the key a
 * `factors: [webauthn]` rule relies on, README "Security model").
 */
async function missingCheck(ctx: RequestContext, action: AccountAction): Promise<'factor' | 'passkey' | null> {
  if (FREE_ACTIONS.has(action.action)) return null;
  const user = ctx.session!.user!;
  let strong = false;
  if (action.action === 'remove-factor') {
    const target = (await ctx.svc.factors.listFactors(user)).find((f) => f.id === action.id);
    strong = needsPhishingResistant(target?.kind, await ctx.svc.factors.enrolledKinds(user));
  }
  if (freshCheckFor(ctx.session!.factors ?? [], strong, ctx.svc.now())) return null;
  return strong ? 'passkey' : 'factor';
}

/** Ends every session of the user on every instance and empties the session list; returns how many were listed (this one at least). */
export async function endSessions(ctx: RequestContext, user: string): Promise<{ sessions: number }> {
  const sessions = (await signedInBrowsers(ctx, user)).length;
  await ctx.svc.sessions.revokeUser(user);
  await ctx.svc.store.removeAllSessions(user);
  // This browser counts even when it signed in before the session list existed.
  return { sessions: Math.max(1, sessions) };
}

/** "Sign out everywhere" on the security page: every session ends and no browser stays trusted; says what it did. */
async function signOutEverywhere(ctx: RequestContext, user: string): Promise<{ sessions: number; devices: number }> {
  const { sessions } = await endSessions(ctx, user);
  const devices = (await ctx.svc.store.listDevices(user)).filter((d) => d.expires_at > ctx.svc.now()).length;
  await ctx.svc.store.removeAllDevices(user);
  return { sessions, devices };
}

/** "Are you sure?": what the change does, with the confirming button and a way back. */
async function askToConfirm(ctx: RequestContext, action: AccountAction): Promise<void> {
  let name: string | undefined;
  if (action.action === 'remove-factor') {
    const target = (await ctx.svc.factors.listFactors(ctx.session!.user!)).find((f) => f.id === action.id);
    if (!target) return errorPage(ctx, 404);
    name = target.name;
  }
  return render(ctx, { confirm: { action: action.action, id: action.id, name } });
}

/**
 * Makes a change. `resumedCookie`: the change waited for a check; the cookie
 * (with the kept change gone) goes out with the answer, and the page says the
 * change was finished after the check.
 */
async function perform(ctx: RequestContext, form: AccountAction, resumedCookie?: string): Promise<void> {
  const { svc } = ctx;
  const resumed = resumedCookie !== undefined;
  const kept: Record<string, string> = resumed ? { 'set-cookie': resumedCookie } : {};
  const user = ctx.session!.user!;
  const after = (done: string) => `${ACCOUNT}?done=${done}${resumed ? '&resumed=1' : ''}`;
  switch (form.action) {
    case 'remove-factor': {
      const factors = await svc.factors.listFactors(user);
      const target = factors.find((f) => f.id === form.id);
      if (!target) return errorPage(ctx, 404);
      const u = currentUser(ctx);
      const mfaRequired = u !== undefined && isInRollout(u.groups, ctx.snap.config.rollout) && ctx.snap.config.policy.default === 'mfa';
      if (factors.length === 1 && mfaRequired) {
        return render(ctx, { error_key: 'last-factor' }, 409, kept);
      }
      const removed = await svc.factors.removeFactor(user, target.id);
      if (removed) {
        await svc.audit.write({ event: 'factor.removed', user, factor: removed.kind, factor_id: removed.id, by: user, ip: ctx.client.ip, request_id: ctx.requestId });
        notifyUser(ctx, user, (c) => factorRemovedMessage(c, { label: c.tr.t(`factor.${removed.kind}.label`), name: removed.name }));
        const enrolled = await svc.factors.enrolledKinds(user);
        await commitSession(ctx, { ...ctx.session!, enrolled });
      }
      return redirect(ctx, after('removed'), { 'set-cookie': await commitSession(ctx, ctx.session!) }, 303);
    }
    case 'rename-factor': {
      const ok = await svc.factors.renameFactor(user, form.id ?? '', form.name ?? '');
      if (!ok) return errorPage(ctx, 404);
      return redirect(ctx, after('renamed'), kept, 303);
    }
    case 'regenerate-recovery': {
      const codes = await svc.factors.recovery.generate(user);
      await svc.audit.write({ event: 'recovery.regenerated', user, count: codes.length, ip: ctx.client.ip, request_id: ctx.requestId });
      notifyUser(ctx, user, (c) => recoveryRegeneratedMessage(c));
      return sendPage(ctx, 200, 'enroll', {
        mode: 'recovery', flow: { rd: ACCOUNT, rule: null, stash: null, resubmit: false }, codes, username: user, resumed,
        download: recoveryDownload(ctx, codes), scripts: ['recovery.js'],
      }, kept);
    }
    case 'revoke-device': {
      const ok = await svc.store.removeDevice(user, form.id ?? '');
      if (!ok) return errorPage(ctx, 404);
      await svc.audit.write({ event: 'session.revoked', user, reason: 'trusted browser removed', by: user, ip: ctx.client.ip, request_id: ctx.requestId });
      return redirect(ctx, after('device'), kept, 303);
    }
    case 'revoke-session': {
      // Another browser's session (this one signs out through the sign-out page): ended at once, on every instance.
      const target = (await signedInBrowsers(ctx, user)).find((r) => r.id === form.id && !r.current);
      if (!target) return errorPage(ctx, 404);
      await svc.sessions.revokeListed(target.id, target.created);
      await svc.store.removeSession(user, target.id);
      await svc.audit.write({ event: 'session.revoked', user, reason: 'signed out from the security page', by: user, ip: ctx.client.ip, request_id: ctx.requestId });
      return redirect(ctx, after('session'), kept, 303);
    }
    case 'sign-out-everywhere': {
      const ended = await signOutEverywhere(ctx, user);
      await svc.audit.write({ event: 'session.revoked', user, reason: 'sign out everywhere', by: user, ip: ctx.client.ip, request_id: ctx.requestId, sessions: ended.sessions });
      ctx.session = null;
      return sendPage(ctx, 200, 'signed-out', { everywhere: ended }, { 'set-cookie': svc.sessions.clearCookie() });
    }
    default:
      return errorPage(ctx, 400);
  }
}
