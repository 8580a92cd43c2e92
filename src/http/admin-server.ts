// server.admin_listen: a second listener that serves only the operator
// endpoints (OPERATOR_PATHS: metrics, healthz, readyz), so Prometheus and load
// balancer health checks need not reach the public listener at all. Arriving
// here is the permission (bind it to an address only operators reach); the
// handlers are the public listener's own. `/metrics` is accepted for
// `/.gatehouse/metrics` (and likewise healthz, readyz). A request body is
// never read here; what is left of it is discarded within the same bounds as
// on the public listener (web/discard-body.ts), whatever the answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext, Services, Snapshot } from '../web/context.ts';
import { normalizeTarget } from '../policy/normalize.ts';
import { resolveClient } from '../web/client-address.ts';
import { handleReserved } from './reserved-routes.ts';
import { OPERATOR_PATHS } from './operator-access.ts';
import { sendText } from '../web/respond.ts';
import { discardBody } from '../web/discard-body.ts';

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
    const snap = current();
    // No answer here reads a body: the discard starts before any is written, so a body declared
    // over max_body_bytes gets Connection: close on it, whichever handler answers.
    discardBody(req, res, { maxBytes: snap.config.server.max_body_bytes, timeoutMs: snap.config.server.body_timeout });
    const path = adminPath(req.url ?? '');
    if (path === undefined) return sendText(res, 404, 'not found: this listener serves only the operator endpoints\n');
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
