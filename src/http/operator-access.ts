// Who may use the operator endpoints (README "Operator endpoints"): the metrics
// page (and any other endpoint meant for operators only) answers a client whose
// resolved address is in server.metrics_allow, or any request that came in on
// server.admin_listen. The resolved address, not the TCP peer: behind nginx or
// Caddy the peer is always the proxy, and a peer check would let everyone in.

import type { RequestContext, Snapshot } from '../web/context.ts';
import { isTrusted } from '../web/client-address.ts';
import { errorPage } from '../web/respond.ts';

/** The endpoints the admin listener serves; every other path is 404 there. */
export const OPERATOR_PATHS: ReadonlySet<string> = new Set(['/.gatehouse/metrics', '/.gatehouse/healthz', '/.gatehouse/readyz', '/.gatehouse/audit/checkpoint']);

/** Pure: may this client use an operator-only endpoint? `clientIp` is ClientFacts.ip (after trusted_proxies). */
export function isOperatorClient(snap: Pick<Snapshot, 'operatorAllow'>, clientIp: string, viaAdminListener: boolean): boolean {
  return viaAdminListener || isTrusted(snap.operatorAllow, clientIp);
}

/**
 * Guard for an operator-only handler: true when the request may go on;
 * otherwise it has been answered 404 (the endpoint does not exist for others).
 */
export function operatorOnly(ctx: RequestContext): boolean {
  if (isOperatorClient(ctx.snap, ctx.client.ip, ctx.viaAdminListener === true)) return true;
  ctx.log.reason = 'operator endpoint: client not in server.metrics_allow';
  errorPage(ctx, 404);
  return false;
}
