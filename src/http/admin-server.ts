// server.admin_listen: a second listener that serves only the operator
// endpoints (OPERATOR_PATHS: metrics, healthz, readyz), so Prometheus and load
// balancer health checks need not reach the public listener at all. Arriving
// here is the permission (bind it to an address only operators reach); the
// handlers are the public listener's own. `/metrics` is accepted for
// `/.gatehouse/metrics` (and likewise healthz, readyz).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext, Services, Snapshot } from '../web/context.ts';
import { normalizeTarget } from '../policy/normalize.ts';
import { resolveClient } from '../web/client-address.ts';
import { handleReserved } from './reserved-routes.ts';
import { OPERATOR_PATHS } from './operator-access.ts';
import { sendText } from '../web/respond.ts';

const PREFIX = '/.gatehouse';
let adminCounter = 0;

/** Pure: the operator path a target on the admin listener names, or undefined. */
export function adminPath(target: string): string | undefined {
  const n = normalizeTarget(target, { pathParams: 'reject', caseInsensitive: false });
  if (!n.ok) return undefined;
  const trimmed = n.matchPath.length > 1 && n.matchPath.endsWith('/') ? n.matchPath.slice(0, -1) : n.matchPath;
  const path = trimmed.startsWith(`${PREFIX}/`) ? trimmed : PREFIX + trimmed;
  return OPERATOR_PATHS.has(path) ? path : undefined;
}

export function createAdminHandler(svc: Services, current: () => Snapshot): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = adminPath(req.url ?? '');
    if (path === undefined) return sendText(res, 404, 'not found: this listener serves only the operator endpoints\n');
    const snap = current();
    const ctx: RequestContext = {
      req, res, snap, svc,
      client: resolveClient(req.socket.remoteAddress ?? '', req.headers, snap.trusted, snap.ownProto),
      requestId: `admin-${(++adminCounter).toString(36)}`,
      path, query: '', session: null, cookie: undefined, started: performance.now(), log: {},
      viaAdminListener: true,
    };
    handleReserved(ctx).catch((err: Error) => {
      svc.log.error({ err, path }, 'operator endpoint failed');
      if (!res.headersSent) sendText(res, 503, 'unavailable\n');
      else res.destroy();
    });
  };
}
