// WebSocket upgrades (routes[].websocket, README "WebSockets"). The handshake
// the policy allowed is re-sent with the cleaned header list. The two sockets
// are joined only once the upstream has really switched protocols: 101, Upgrade:
// websocket and the Sec-WebSocket-Accept that answers this client's key. Any
// other answer is relayed as an ordinary response and both connections close:
// an upstream that answered 404 and kept the connection open would otherwise
// read the client's next bytes as a fresh request that the gateway never saw.
// Until then not one byte from the client goes upstream (bytes it sent after
// its handshake wait until the upstream has switched).
//
// A handshake answered with anything but the switch (the gateway's refusal: a
// policy deny, a sign-in needed; or the upstream's) closes the connection
// with `answerAndClose`: the answer goes out, then what the client still
// sends is read and dropped (a close with unread bytes is a reset that can eat
// the answer) until it closes its side, but never more than the limits allow
// (server.max_body_bytes, server.body_timeout, as for a request body left
// unread, web/discard-body.ts): then the socket is destroyed.

import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { buildClientHeaders } from './upstream-headers.ts';

export interface UpgradeTarget {
  origin: string;            // http://host:port
  path: string;
  headers: string[];         // flat pairs, already cleaned (buildUpstreamHeaders with upgrade: true)
  timeout: number;           // connect + handshake timeout
  /** For the headers relayed to the client (Location rewriting, the gateway's own cookies). */
  publicOrigin?: string;
  sessionCookieName?: string;
  onError(err: Error): void;
  /** How much a refused client may still send before its connection is cut (answerAndClose). */
  linger: CloseLimits;
}

export interface CloseLimits {
  /** Bytes read and dropped after the answer (0 = no byte limit, the time limit only). */
  maxBytes: number;
  /** Time after the answer until the socket is destroyed, whatever the client does (0 = 10 s). */
  timeoutMs: number;
}

/** A refusal's body is buffered to be relayed with a length; past this it is a 502. */
const MAX_REFUSAL_BODY = 1024 * 1024;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept an upstream must answer for `key`. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** A Sec-WebSocket-Key is the base64 of 16 bytes (RFC 6455 §4.1). */
export function validKey(key: string | undefined): key is string {
  return key !== undefined && /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/**
 * Pure: why an upstream's answer to the handshake is not a WebSocket switch
 * (undefined when it is one).
 */
export function handshakeRefusal(status: number, headers: IncomingHttpHeaders, key: string): string | undefined {
  if (status !== 101) return `status ${status}`;
  const upgrade = headers.upgrade;
  if (typeof upgrade !== 'string' || upgrade.trim().toLowerCase() !== 'websocket') return 'no Upgrade: websocket';
  const accept = headers['sec-websocket-accept'];
  if (typeof accept !== 'string' || accept.trim() !== acceptFor(key)) return 'wrong Sec-WebSocket-Accept';
  return undefined;
}

function headerValue(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i].toLowerCase() === name) return flat[i + 1];
  return undefined;
}

function responseHead(status: number, message: string, headers: Record<string, string | string[]>): string {
  let head = `HTTP/1.1 ${status} ${message.replace(/[^\t\x20-\x7e]/g, '')}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Answers the client and closes its connection (see the top of this file):
 * destroyed once the client has closed its side and the answer is out, or
 * past `limits`, whichever comes first.
 */
export function answerAndClose(client: Duplex, answer: string | Buffer, limits: CloseLimits): void {
  if (client.destroyed) return;
  let seen = 0;
  const destroy = () => {
    clearTimeout(timer);
    client.destroy();
  };
  // The answer out first, when it can still go out; the timer ends a client that never reads it.
  const afterAnswer = () => (client.writableFinished ? destroy() : client.once('finish', destroy));
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (limits.maxBytes > 0 && seen > limits.maxBytes) {
      client.off('data', onData);
      client.pause();
      afterAnswer();
    }
  };
  const timer = setTimeout(destroy, limits.timeoutMs || 10_000);
  client.once('close', () => clearTimeout(timer));
  client.once('end', afterAnswer);
  client.on('data', onData);
  client.end(answer);
}

export function proxyUpgrade(client: Duplex, head: Buffer, t: UpgradeTarget): void {
  const key = headerValue(t.headers, 'sec-websocket-key');
  if (!validKey(key)) {
    answerAndClose(client, 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n', t.linger);
    return;
  }
  const u = new URL(t.origin);
  const upstreamReq = request({
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || 80),
    method: 'GET',
    path: t.path,
    headers: t.headers,
    setHost: false,
    agent: false,
  });
  let settled = false;
  const clientHeaders = (res: IncomingMessage) => buildClientHeaders({
    headers: res.headers,
    upstreamOrigin: t.origin,
    publicOrigin: t.publicOrigin ?? t.origin,
    sessionCookieName: t.sessionCookieName ?? '',
  });
  /** Ends the exchange with a gateway answer (once; a no-op after the sockets were joined or answered). */
  const fail = (err: Error, status = 502, message = 'Bad Gateway') => {
    if (settled) return;
    settled = true;
    t.onError(err);
    upstreamReq.destroy();
    answerAndClose(client, `HTTP/1.1 ${status} ${message}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, t.linger);
  };
  upstreamReq.setTimeout(t.timeout, () => fail(new Error('upstream handshake timeout')));
  upstreamReq.on('error', (err) => fail(err));
  client.once('close', () => {
    settled = true;
    upstreamReq.destroy();
  });

  upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
    upstream.on('error', () => client.destroy());
    const refusal = handshakeRefusal(res.statusCode ?? 0, res.headers, key);
    if (refusal !== undefined) {
      upstream.destroy();
      return fail(new Error(`upstream refused the upgrade: ${refusal}`));
    }
    if (settled) return upstream.destroy();
    settled = true;
    upstreamReq.setTimeout(0);
    upstream.setTimeout(0);
    upstream.setNoDelay(true);
    const out = clientHeaders(res);
    out.connection = 'Upgrade';
    out.upgrade = 'websocket';
    client.write(responseHead(101, res.statusMessage || 'Switching Protocols', out));
    if (upstreamHead.length) client.write(upstreamHead);
    if (head.length) upstream.write(head);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    upstream.pipe(client);
    client.pipe(upstream);
  });

  // Not a switch: relay the answer with its body, then close both connections.
  upstreamReq.on('response', (res) => {
    const chunks: Buffer[] = [];
    let length = 0;
    res.on('data', (c: Buffer) => {
      length += c.length;
      if (length > MAX_REFUSAL_BODY) return fail(new Error('upstream refusal body too large'));
      chunks.push(c);
    });
    res.on('error', (err) => fail(err));
    res.on('end', () => {
      if (settled) return;
      settled = true;
      t.onError(new Error(`upstream answered the upgrade with ${res.statusCode}`));
      upstreamReq.destroy();
      const out = clientHeaders(res);
      out['content-length'] = String(length);
      out.connection = 'close';
      answerAndClose(client, Buffer.concat([Buffer.from(responseHead(res.statusCode ?? 502, res.statusMessage ?? '', out), 'latin1'), ...chunks]), t.linger);
    });
  });
  upstreamReq.end();
}
