// Streams one request to the upstream and its answer back, both ways without
// buffering, with undici's dispatch API (the cheapest per request; see
// TOOLCHAIN.md). Back-pressure: the client socket pauses the upstream body and
// the undici request body pulls from the client at the upstream's pace.
// Failures never escape as exceptions: they end in a 502/504 page, or in a
// destroyed client socket when the answer had already started.
// undici destroys a stream body when the exchange fails or the upstream answers
// early; the client's request is therefore piped through a PassThrough (which
// undici may destroy) so the client still gets its error page (or the early
// answer) instead of a reset, and the rest of its body is drained.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { buildClientHeaders, type UrlTranslation } from './upstream-headers.ts';
import { privateCacheControl } from './private-cache.ts';

export type UpstreamFailure = 'refused' | 'timeout' | 'reset';

export interface ForwardOptions {
  pool: Dispatcher;
  method: string;
  path: string;                      // path + query sent upstream
  headers: string[];                 // flat [name, value, ...]
  body: IncomingMessage | Buffer | null;
  /** Bytes already taken from the client's body stream (read to decide): sent first, then the rest of the stream. */
  bodyPrefix?: Buffer;
  headersTimeout: number;            // routes[].timeout
  upstreamOrigin: string;
  publicOrigin: string;
  sessionCookieName: string;
  /** routes[].strip_prefix / rewrite_location (see upstream-headers.ts). */
  translate?: UrlTranslation;
  /** Extra response headers to add (e.g. a refreshed session cookie). */
  extraHeaders?: Record<string, string | string[]>;
  /** The request carried a user's identity: the answer is marked Cache-Control: private (private-cache.ts). */
  privateAnswer?: boolean;
  /** Whoever asked: told what happens, as methods of one object (no closures per request). */
  listener: ForwardListener;
}

export interface ForwardListener {
  /** Sees (and may change) the answer's headers just before they go to the client. */
  onHeaders?(out: Record<string, string | string[] | undefined>): void;
  /** Discards what is left of the client's body, within bounds (the caller's web/discard-body.ts), when the exchange ends before it. */
  discardRest(): void;
  /** Called once with the upstream status (or the failure) when the exchange ends. */
  onDone(result: { status: number; bytes: number; failure?: UpstreamFailure; error?: Error }): void;
  /** Renders the error page when the upstream fails before answering. */
  onFailure(res: ServerResponse, failure: UpstreamFailure): void;
}

function classify(err: Error & { code?: string }): UpstreamFailure {
  const code = err.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return 'refused';
  return 'reset';
}

/** Lets the caller stop the exchange (e.g. a body over the size limit, already answered with 413), and tell it the client went away. */
export interface ForwardHandle {
  abort(reason: Error): void;
  /** The client's response closed (call from its 'close' listener): an answer still running is stopped upstream. */
  clientClosed(): void;
}

function isStreamBody(body: ForwardOptions['body']): body is IncomingMessage {
  return body !== null && !Buffer.isBuffer(body);
}

/**
 * One exchange: undici's handler and the caller's handle in one object, its
 * steps as methods, so a proxied request allocates this and nothing else per
 * step (closures per request cost CPU on the hot path).
 */
class Exchange implements Dispatcher.DispatchHandler, ForwardHandle {
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #status = 0;
  #bytes = 0;
  #done = false;
  #onDrain: (() => void) | undefined;
  readonly #res: ServerResponse;
  readonly #o: ForwardOptions;
  readonly #clientBody: IncomingMessage | undefined;
  readonly upstreamBody: PassThrough | undefined;

  constructor(res: ServerResponse, o: ForwardOptions) {
    this.#res = res;
    this.#o = o;
    const clientBody = isStreamBody(o.body) ? o.body : undefined;
    this.#clientBody = clientBody;
    if (clientBody) {
      const upstreamBody = new PassThrough();
      this.upstreamBody = upstreamBody;
      // An aborted client upload aborts the upstream request (and is no unhandled 'error').
      clientBody.on('error', (err) => upstreamBody.destroy(err));
      if (o.bodyPrefix !== undefined && o.bodyPrefix.length > 0) upstreamBody.write(o.bodyPrefix);
      clientBody.pipe(upstreamBody);
    }
  }

  #finish(failure?: UpstreamFailure, error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#o.listener.onDone({ status: this.#status, bytes: this.#bytes, failure, error });
  }

  // The exchange ended before the client's body did (upstream failed or answered
  // early): discard the rest (bounded by the caller), and close the connection
  // after the answer rather than reuse one whose request was not read to its end.
  #releaseClientBody(): void {
    const clientBody = this.#clientBody;
    if (!clientBody || clientBody.complete || clientBody.destroyed) return;
    if (!this.#res.headersSent) this.#res.shouldKeepAlive = false;
    clientBody.unpipe(this.upstreamBody);
    this.#o.listener.discardRest();
  }

  clientClosed(): void {
    const c = this.#controller;
    if (!this.#res.writableFinished && c && !c.aborted) c.abort(new Error('client closed the connection'));
    if (this.#onDrain) this.#res.off('drain', this.#onDrain);
  }

  abort(reason: Error): void {
    this.#abortReason ??= reason;
    const c = this.#controller;
    if (c && !c.aborted) c.abort(reason);
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c;
    if (this.#abortReason) c.abort(this.#abortReason);
    else if (this.#res.destroyed) c.abort(new Error('client closed the connection'));
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    // 1xx (102 Processing, 103 Early Hints) come before the real answer: not forwarded,
    // since writeHead can only run once.
    if (statusCode < 200) return;
    this.#status = statusCode;
    const res = this.#res;
    const o = this.#o;
    if (res.destroyed) return;
    if (res.headersSent) {
      // The gateway answered already (e.g. 413 for a body over the limit).
      c.abort(this.#abortReason ?? new Error('answered by the gateway'));
      return;
    }
    const out = buildClientHeaders({
      headers,
      upstreamOrigin: o.upstreamOrigin,
      publicOrigin: o.publicOrigin,
      sessionCookieName: o.sessionCookieName,
      translate: o.translate,
    });
    if (o.privateAnswer) {
      const cc = privateCacheControl(out['cache-control']);
      if (cc !== undefined) out['cache-control'] = cc;
    }
    // An answer before the whole body arrived (a 401 to an upload): this connection ends with it.
    if (this.#clientBody && !this.#clientBody.complete) res.shouldKeepAlive = false;
    if (o.extraHeaders) {
      for (const k in o.extraHeaders) {
        const prev = out[k];
        const add = o.extraHeaders[k];
        out[k] = prev === undefined ? add : ([] as string[]).concat(prev, add);
      }
    }
    o.listener.onHeaders?.(out);
    res.writeHead(statusCode, statusMessage || undefined, out);
    // A streamed answer (SSE, long poll: no Content-Length) gets its headers at once; a sized one
    // sends them with the first body chunk, one write instead of two.
    if (out['content-length'] === undefined) res.flushHeaders();
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    const res = this.#res;
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      c.pause();
      // 'drain' is listened for only under back-pressure, not on every request.
      this.#onDrain ??= () => this.#controller?.resume();
      res.once('drain', this.#onDrain);
    }
  }

  onResponseEnd(): void {
    this.#releaseClientBody();
    if (!this.#res.destroyed) this.#res.end();
    this.#finish();
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    this.#releaseClientBody();
    const res = this.#res;
    const failure = classify(err as Error & { code?: string });
    if (!res.headersSent && !res.destroyed) {
      this.#status = failure === 'timeout' ? 504 : 502;
      this.#o.listener.onFailure(res, failure);
    } else if (!res.destroyed && !res.writableEnded) {
      // Mid-stream failure: the only honest signal left is a cut connection.
      res.destroy(err);
    }
    this.#finish(failure, err);
  }
}

export function forwardRequest(res: ServerResponse, o: ForwardOptions): ForwardHandle {
  const exchange = new Exchange(res, o);
  try {
    o.pool.dispatch(
      {
        path: o.path,
        method: o.method as Dispatcher.HttpMethod,
        headers: o.headers,
        body: exchange.upstreamBody ?? o.body,
        headersTimeout: o.headersTimeout,
        bodyTimeout: 0,
      },
      exchange,
    );
  } catch (err) {
    exchange.onResponseError(null, err as Error);
  }
  return exchange;
}
