// /.gatehouse/logout: GET shows a confirmation (a link must not sign anyone
// out: CSRF); POST with the token revokes the session on every instance.
// A user signed in at an OpenID provider is then sent on to the IdP's
// end-session endpoint (RP-initiated logout). That hand-off is a Refresh
// header on the signed-out page, not a redirect: the page CSP's form-action
// 'self' makes Chromium block a cross-origin redirect after a form POST.

import type { RequestContext } from '../web/context.ts';
import { readForm } from '../web/form-body.ts';
import { errorPage, sendPage } from '../web/respond.ts';
import { msg } from '../identity/translate.ts';
import { csrfOk } from '../web/page-session.ts';
import { expireAppCookies, forgetReleased } from '../web/app-cookies.ts';
import { endSessions } from './account-page.ts';

export async function logoutPage(ctx: RequestContext): Promise<void> {
  const { svc } = ctx;
  if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD') {
    if (!ctx.session?.user) return sendPage(ctx, 200, 'signed-out', {});
    return sendPage(ctx, 200, 'logout', { csrf: ctx.session.csrf, user: ctx.session.user });
  }
  if (ctx.req.method !== 'POST') return errorPage(ctx, 405);
  let form: Record<string, string>;
  try { form = await readForm(ctx.req); } catch { return errorPage(ctx, 400); }
  if (!ctx.session) return sendPage(ctx, 200, 'signed-out', {}, { 'set-cookie': svc.sessions.clearCookie() });
  if (!csrfOk(ctx, form.csrf)) return errorPage(ctx, 403, { message: msg('logout.form_expired') });
  const everywhere = form.everywhere === '1' && ctx.session.user !== undefined ? await endSessions(ctx, ctx.session.user!) : undefined;
  if (!everywhere) {
    await svc.sessions.revokeSession(ctx.session, ctx.cookie);
    if (ctx.session.user && ctx.session.rid) await svc.store.removeSession(ctx.session.user, ctx.session.rid);
  }
  if (ctx.session.user) {
    await svc.audit.write(everywhere
      ? { event: 'session.revoked', user: ctx.session.user, reason: 'sign out everywhere', by: ctx.session.user, ip: ctx.client.ip, request_id: ctx.requestId, sessions: everywhere.sessions }
      : { event: 'signout', user: ctx.session.user, ip: ctx.client.ip, request_id: ctx.requestId });
  }
  const idpLogout = svc.oidc && ctx.session.amr?.includes('ext') ? await svc.oidc.endSessionUrl() : undefined;
  // upstream_form: the app's session ends with the gateway's (its cookies expire, and no value released to this session passes again).
  await forgetReleased(ctx, ctx.session);
  ctx.session = null;
  sendPage(ctx, 200, 'signed-out', {}, {
    'set-cookie': [svc.sessions.clearCookie(), ...expireAppCookies(ctx, true)],
    ...(idpLogout ? { refresh: `0; url=${idpLogout.href}` } : {}),
  });
}
