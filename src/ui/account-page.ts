// /.gatehouse/account: the user's security page. Lists factors with
// their last use, trusted browsers and recovery codes left. Every change needs
// a second factor from the last five minutes (asked for on the spot), and
// notifies the user. The last factor cannot be removed while the rollout
// requires MFA of this user.

import { currentUser } from '../web/current-user.ts';
import type { RequestContext } from '../web/context.ts';
import { readForm, BodyError } from '../web/form-body.ts';
import { errorPage, redirect, sendPage } from '../web/respond.ts';
import { csrfOk, commitSession } from '../web/page-session.ts';
import { isInRollout } from '../policy/rollout.ts';
import { factorKindInfo } from '../factors/types.ts';
import { factorRemovedMessage } from '../identity/messages.ts';
import { factorAge, notifyUser } from './second-factor.ts';
import { FRESH_FACTOR_MS } from './enroll-page.ts';

const ACCOUNT = '/.gatehouse/account';

function when(ms: number | null): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'never';
}

async function render(ctx: RequestContext, extra: Record<string, unknown> = {}, status = 200): Promise<void> {
  const user = ctx.session!.user!;
  const [factors, devices, remaining] = await Promise.all([
    ctx.svc.factors.listFactors(user),
    ctx.svc.store.listDevices(user),
    ctx.svc.factors.recovery.remaining(user),
  ]);
  const now = ctx.svc.now();
  sendPage(ctx, status, 'account', {
    user: currentUser(ctx),
    factors: factors.map((f) => ({ id: f.id, name: f.name, kind: f.kind, label: factorKindInfo(f.kind).label, created: when(f.created_at), last_used: when(f.last_used_at), renamable: f.kind === 'webauthn' })),
    devices: devices.filter((d) => d.expires_at > now).map((d) => ({ id: d.id, label: d.label, created: when(d.created_at), expires: when(d.expires_at), last_used: when(d.last_used_at) })),
    recovery_remaining: remaining,
    wide: true,
    ...extra,
  });
}

export async function accountPage(ctx: RequestContext): Promise<void> {
  if (!ctx.session?.user) return redirect(ctx, `/.gatehouse/login?rd=${encodeURIComponent(ACCOUNT)}`);
  if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD') {
    const notice = new URLSearchParams(ctx.query).get('done');
    return render(ctx, notice ? { notice: DONE[notice] } : {});
  }
  if (ctx.req.method !== 'POST') return errorPage(ctx, 405);
  return accountSubmit(ctx);
}

const DONE: Record<string, string> = {
  removed: 'The method was removed.',
  renamed: 'The name was changed.',
  device: 'That browser is no longer trusted.',
};

async function accountSubmit(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch (err) { return errorPage(ctx, err instanceof BodyError ? err.status : 400); }
  if (!csrfOk(ctx, form.csrf)) return errorPage(ctx, 403, { message: 'The form expired. Nothing was changed.' });
  const user = ctx.session!.user!;
  // Changes need a fresh second factor; ask for it on the spot and come back.
  if (factorAge(ctx) > FRESH_FACTOR_MS) {
    return redirect(ctx, `/.gatehouse/challenge?${new URLSearchParams({ rd: ACCOUNT })}`, {}, 303);
  }
  switch (form.action) {
    case 'remove-factor': {
      const factors = await svc.factors.listFactors(user);
      const target = factors.find((f) => f.id === form.id);
      if (!target) return errorPage(ctx, 404);
      const u = currentUser(ctx);
      const mfaRequired = u !== undefined && isInRollout(u.groups, ctx.snap.config.rollout) && ctx.snap.config.policy.default === 'mfa';
      if (factors.length === 1 && mfaRequired) {
        return render(ctx, { error: 'This is your only sign-in method and your organisation requires one. Add another method first.' }, 409);
      }
      const removed = await svc.factors.removeFactor(user, target.id);
      if (removed) {
        await svc.audit.write({ event: 'factor.removed', user, factor: removed.kind, factor_id: removed.id, by: user, ip: ctx.client.ip, request_id: ctx.requestId });
        notifyUser(ctx, user, (c) => factorRemovedMessage(c, { label: factorKindInfo(removed.kind).label, name: removed.name }));
        const enrolled = await svc.factors.enrolledKinds(user);
        await commitSession(ctx, { ...ctx.session!, enrolled });
      }
      return redirect(ctx, `${ACCOUNT}?done=removed`, { 'set-cookie': await commitSession(ctx, ctx.session!) }, 303);
    }
    case 'rename-factor': {
      const ok = await svc.factors.renameFactor(user, form.id ?? '', form.name ?? '');
      if (!ok) return errorPage(ctx, 404);
      return redirect(ctx, `${ACCOUNT}?done=renamed`, {}, 303);
    }
    case 'regenerate-recovery': {
      const codes = await svc.factors.recovery.generate(user);
      await svc.audit.write({ event: 'recovery.regenerated', user, count: codes.length, ip: ctx.client.ip, request_id: ctx.requestId });
      notifyUser(ctx, user, (c) => ({ subject: `New recovery codes for ${c.product}`, text: `New recovery codes were created for your ${c.product} account. Your old codes no longer work.\nIf this wasn’t you, contact support now.`, kind: 'recovery_regenerated' }));
      const text = `Recovery codes for ${ctx.snap.config.branding.product_name} (${user})\nEach code works once.\n\n${codes.join('\n')}\n`;
      return sendPage(ctx, 200, 'enroll', {
        mode: 'recovery', flow: { rd: ACCOUNT, rule: null, stash: null, resubmit: false }, codes, username: user,
        download: `data:text/plain;charset=utf-8;base64,${Buffer.from(text).toString('base64')}`, scripts: ['recovery.js'],
      });
    }
    case 'revoke-device': {
      const ok = await svc.store.removeDevice(user, form.id ?? '');
      if (!ok) return errorPage(ctx, 404);
      await svc.audit.write({ event: 'session.revoked', user, reason: 'trusted browser removed', by: user, ip: ctx.client.ip, request_id: ctx.requestId });
      return redirect(ctx, `${ACCOUNT}?done=device`, {}, 303);
    }
    case 'sign-out-everywhere': {
      await svc.sessions.revokeUser(user);
      await svc.store.removeAllDevices(user);
      await svc.audit.write({ event: 'session.revoked', user, reason: 'sign out everywhere', by: user, ip: ctx.client.ip, request_id: ctx.requestId });
      ctx.session = null;
      return sendPage(ctx, 200, 'signed-out', {}, { 'set-cookie': svc.sessions.clearCookie() });
    }
    default:
      return errorPage(ctx, 400);
  }
}
