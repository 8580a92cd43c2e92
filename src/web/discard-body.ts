// Discards the rest of a request body the gateway answered without reading to
// its end (a challenge, a deny, a 4xx, an upstream that answered before the
// upload ended). The discard is bounded: at most server.max_body_bytes within
// server.body_timeout (the server runs with requestTimeout 0, so nothing else
// bounds it); past either, the connection is cut once the answer is written.
// A body declared larger than that gets Connection: close on the answer (when
// its headers are still unsent); one that ends within the bounds keeps the
// connection (the next request on it is served).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.ts';

export interface DiscardLimits {
  /** server.max_body_bytes (0 = unlimited). */
  maxBytes: number;
  /** server.body_timeout (0 = the 10s default the body reads use). */
  timeoutMs: number;
}

const discarding = new WeakSet<IncomingMessage>();

/** Starts (once per request) the bounded discard of what is left of `req`'s body; nothing when it was read to its end. */
export function discardBody(req: IncomingMessage, res: ServerResponse, limits: DiscardLimits): void {
  if (req.complete || req.destroyed) return;
  // A body declared over the limit will not be read to its end: the answer says so. Any other
  // is read (and discarded) on, and the connection goes on if it ends within the bounds.
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!res.headersSent && limits.maxBytes > 0 && declared > limits.maxBytes) res.shouldKeepAlive = false;
  if (discarding.has(req)) return;
  discarding.add(req);
  let seen = 0;
  let cutting = false;
  const stop = () => {
    clearTimeout(timer);
    req.off('data', onData);
  };
  // The answer goes out whole first; then the connection ends, unread bytes and all.
  const cut = () => {
    if (cutting) return;
    cutting = true;
    stop();
    req.pause();
    const socket = req.socket;
    if (res.writableFinished || res.destroyed) socket.destroy();
    else {
      res.once('finish', () => socket.destroy());
      res.once('close', () => socket.destroy());
    }
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (limits.maxBytes > 0 && seen > limits.maxBytes) cut();
  };
  const timer = setTimeout(cut, limits.timeoutMs || 10_000);
  req.on('data', onData);
  req.once('end', stop);
  req.once('close', stop);
  req.resume();
}

/** discardBody with the server's limits, for an answer the gateway writes (web/respond.ts) or has written (http/gateway.ts). */
export function discardRest(ctx: RequestContext): void {
  const s = ctx.snap.config.server;
  discardBody(ctx.req, ctx.res, { maxBytes: s.max_body_bytes, timeoutMs: s.body_timeout });
}
