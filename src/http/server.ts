// The listening socket and its defences against slow and oversized clients:
// headers must arrive within header_timeout, header size and count
// are bounded, idle keep-alive sockets are closed, and shutdown drains.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../config/types.ts';

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid listen address: ${listen}`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

// Upgraded (WebSocket) sockets leave the HTTP server's connection bookkeeping:
// closeAllConnections() does not see them, yet server.close() waits for them.
const upgradedSockets = new WeakMap<Server, Set<Duplex>>();

export function createHttpServer(
  cfg: ServerConfig,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Server {
  const server = createServer({
    maxHeaderSize: cfg.max_header_bytes,
    headersTimeout: cfg.header_timeout,
    // The whole-request timer would cut long uploads; stalls are caught per body instead.
    requestTimeout: 0,
    keepAliveTimeout: cfg.keep_alive_timeout,
    // Check header deadlines often, so a trickling client is cut near header_timeout, not 30 s later.
    connectionsCheckingInterval: Math.min(1000, cfg.header_timeout),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 6.3): Node
    // hands it over already ended and skips its stream events ('data', 'end', 'close'), about a
    // tenth of a proxied GET's CPU (docs/performance.md). Code that waits for a body checks
    // readableEnded / complete / destroyed first (web/form-body.ts, web/discard-body.ts).
    optimizeEmptyRequests: true,
  }, onRequest);
  // Leave room to see that the limit was crossed (Node drops extras silently).
  server.maxHeadersCount = cfg.max_header_count + 1;
  // The peer's address is read as the socket is accepted, and Node keeps it. Read first
  // in the request handler, it is gone when the client reset the connection right after
  // sending its request (the request is still parsed and handled): the decision, the
  // throttles and the log would see no address at all. No address here: no service.
  server.on('connection', (socket: Socket) => {
    if (socket.remoteAddress === undefined) socket.destroy();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  if (onUpgrade) {
    const upgraded = new Set<Duplex>();
    upgradedSockets.set(server, upgraded);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      onUpgrade(req, socket, head);
    });
  }
  return server;
}

/**
 * Listens on `host:port`, or takes over a socket that is already bound and
 * listening (so its port never goes back to the OS between choosing and use).
 */
export function listen(server: Server, listenAddr: string | NetServer): Promise<{ host: string; port: number }> {
  const bound = typeof listenAddr === 'string' ? undefined : listenAddr.address();
  const { host, port } = typeof listenAddr === 'string' ? parseListen(listenAddr)
    : bound && typeof bound === 'object' ? { host: bound.address, port: bound.port } : { host: '', port: 0 };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ host, port: typeof addr === 'object' && addr ? addr.port : port });
    };
    if (typeof listenAddr === 'string') server.listen(port, host, onListening);
    else server.listen(listenAddr, onListening);
  });
}

/** Stops accepting, lets in-flight requests finish (bounded), then closes the rest. */
export async function drain(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive sockets become idle as their last response ends: close them as they do.
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  // WebSockets never finish on their own: they get the same grace period, then are cut.
  const timer = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of upgradedSockets.get(server) ?? []) socket.destroy();
  }, timeoutMs);
  await closed;
  clearInterval(sweeper);
  clearTimeout(timer);
}
