// Discards the rest of a request body the gateway answered without reading to
// its end (a challenge, a deny, a 4xx, an upstream that answered before the
// upload ended). The discard is bounded: at most server.max_body_bytes within
// server.body_timeout (the server runs with requestTimeout 0, so nothing else
// bounds it); past either, the connection is cut once the answer is written.
// A connection whose body was not read to its end is not reused
// (Connection: close on the answer when its headers are still unsent), save
// a small declared body that arrived with its head.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.ts';

export interface DiscardLimits {
  /** server.max_body_bytes (0 = unlimited). */
  maxBytes: number;
  /** server.body_timeout (0 = the 10s default the body reads use). */
  timeoutMs: number;
}

const discarding = new WeakSet<IncomingMessage>();

/** A body up to this size (declared) does not by itself end a keep-alive connection. */
const SMALL_BODY = 16 * 1024;

/** Starts (once per request) the bounded discard of what is left of `req`'s body; nothing when it was read to its end. */
export function discardBody(req: IncomingMessage, res: ServerResponse, limits: DiscardLimits): void {
  if (req.complete || req.destroyed) return;
  // A small declared body most likely came with the head (still unparsed when a quick answer
  // is written): discarded, the connection goes on. Any other is not read to its end: close.
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!res.headersSent && !(declared <= SMALL_BODY)) res.shouldKeepAlive = false;
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
