// The answer to a sign-in the risk rules refused (session/sign-in.ts; README
// "Risk signals"): no session was started, so no session cookie goes out; a
// browser gets a page that says why, other clients a 403 JSON (English, as
// every JSON error). Shared by every sign-in that ends in signInBrowser.

import type { RequestContext } from './context.ts';
import { isNavigation } from './client-kind.ts';
import { errorPage, sendPage } from './respond.ts';
import { msg } from '../identity/translate.ts';
import { RISK_RULE } from '../policy/risk.ts';

export function riskRefusal(ctx: RequestContext): void {
  ctx.log.decision = 'deny';
  ctx.log.rule = RISK_RULE;
  ctx.log.reason = 'sign-in refused by the risk rules';
  const message = msg('signin.risk_denied.message');
  if (!isNavigation(ctx.req.headers)) return errorPage(ctx, 403, { message, rule: RISK_RULE });
  sendPage(ctx, 403, 'error', { status: 403, heading: msg('signin.risk_denied.heading'), message, hint: msg('signin.risk_denied.hint'), rule_id: RISK_RULE });
}
