// The break-glass account (a config-declared emergency user): it signs in
// without a second factor only while the store or shared state is down, or
// while `identity.break_glass.enabled` is true (an incident is declared).
// Every use is logged at warn, audited and mailed to audit.alert_email. Its
// throttle lives in this process, because shared state may be what is down.

import type { BreakGlassConfig } from '../config/types.ts';
import type { RequestContext } from '../http/context.ts';
import { redirect, sendPage } from '../http/respond.ts';
import { verifyPassword } from '../identity/password-hash.ts';
import { waitAfter } from '../identity/throttle.ts';
import { commitSession } from '../session/page-session.ts';
import { signedInSession } from '../session/session-data.ts';

const failures = new Map<string, { n: number; until: number }>();

async function backendsDown(ctx: RequestContext): Promise<string | undefined> {
  const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, no) => setTimeout(() => no(new Error('timeout')), 1000).unref())]);
  const [store, shared] = await Promise.allSettled([within(ctx.svc.store.ping()), within(ctx.svc.shared.ping())]);
  if (store.status === 'rejected') return 'store unreachable';
  if (shared.status === 'rejected') return 'shared state unreachable';
  return undefined;
}

export async function breakGlassSignIn(ctx: RequestContext, bg: BreakGlassConfig, password: string, rd: string): Promise<void> {
  const { svc } = ctx;
  const now = svc.now();
  const key = `${bg.user}|${ctx.client.ip}`;
  const f = failures.get(key);
  if (f && f.until > now) {
    return sendPage(ctx, 429, 'login', { rd, csrf: ctx.session?.csrf, username: bg.user, wait_seconds: Math.ceil((f.until - now) / 1000) });
  }
  if (!(await verifyPassword(bg.password, password))) {
    const n = (f?.n ?? 0) + 1;
    failures.set(key, { n, until: now + waitAfter(n, 3, true) });
    svc.log.warn({ req_id: ctx.requestId, user: bg.user, ip: ctx.client.ip }, 'break-glass sign-in failed');
    await svc.audit.write({ event: 'signin.failure', user: bg.user, ip: ctx.client.ip, request_id: ctx.requestId, reason: 'break-glass: invalid credentials' });
    return sendPage(ctx, 401, 'login', { rd, csrf: ctx.session?.csrf, username: bg.user, error: 'Wrong username or password.' });
  }
  failures.delete(key);
  const down = await backendsDown(ctx);
  if (!down && !bg.enabled) {
    await svc.audit.write({ event: 'signin.failure', user: bg.user, ip: ctx.client.ip, request_id: ctx.requestId, reason: 'break-glass refused: backends are up' });
    return sendPage(ctx, 403, 'login', { rd, csrf: ctx.session?.csrf, username: bg.user, error: 'The emergency account can be used only while the sign-in service is degraded. Sign in with your own account.' });
  }
  const reason = down ?? 'enabled in config';
  const session = { ...signedInSession(bg.user, ['pwd'], [], now), breakglass: true as const, profile: { email: '', groups: bg.groups, display_name: 'Break-glass account' } };
  const setCookie = await commitSession(ctx, session);
  svc.log.warn({ req_id: ctx.requestId, user: bg.user, ip: ctx.client.ip, reason }, 'BREAK-GLASS sign-in: second factors bypassed');
  await svc.audit.write({ event: 'breakglass.used', user: bg.user, reason, ip: ctx.client.ip, request_id: ctx.requestId });
  const alert = ctx.snap.config.audit.alert_email;
  if (alert) {
    svc.notifier.send({
      to: alert,
      subject: `Break-glass sign-in to ${ctx.snap.config.branding.product_name}`,
      text: `The emergency account "${bg.user}" signed in from ${ctx.client.ip} at ${new Date(now).toISOString()} (${reason}). Second factors were bypassed for this session.`,
      kind: 'breakglass_used',
      data: { user: bg.user, ip: ctx.client.ip, reason },
    }).catch((err: Error) => svc.log.error({ err: err.message }, 'break-glass alert could not be sent'));
  }
  redirect(ctx, rd, { 'set-cookie': setCookie }, 303);
}
