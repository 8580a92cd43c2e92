// Streams one request to the upstream and its answer back, both ways without
// buffering, with undici's dispatch API (the cheapest per request; see
// TOOLCHAIN.md). Back-pressure: the client socket pauses the upstream body and
// the undici request body pulls from the client at the upstream's pace.
// Failures never escape as exceptions: they end in a 502/504 page, or in a
// destroyed client socket when the answer had already started.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { buildClientHeaders } from './upstream-headers.ts';

export type UpstreamFailure = 'refused' | 'timeout' | 'reset';

export interface ForwardOptions {
  pool: Dispatcher;
  method: string;
  path: string;                      // path + query sent upstream
  headers: string[];                 // flat [name, value, ...]
  body: IncomingMessage | Buffer | null;
  headersTimeout: number;            // routes[].timeout
  upstreamOrigin: string;
  publicOrigin: string;
  sessionCookieName: string;
  /** Extra response headers to add (e.g. a refreshed session cookie). */
  extraHeaders?: Record<string, string | string[]>;
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

export function forwardRequest(res: ServerResponse, o: ForwardOptions): void {
  let controller: Dispatcher.DispatchController | undefined;
  let status = 0;
  let bytes = 0;
  let done = false;
  const finish = (failure?: UpstreamFailure, error?: Error) => {
    if (done) return;
    done = true;
    o.onDone({ status, bytes, failure, error });
  };
  const onDrain = () => controller?.resume();
  res.on('drain', onDrain);
  // The client went away before the answer was complete: stop the upstream.
  res.once('close', () => {
    if (!res.writableFinished && controller && !controller.aborted) {
      controller.abort(new Error('client closed the connection'));
    }
    res.off('drain', onDrain);
  });
  if (o.body && 'on' in o.body) {
    // An aborted client upload must not become an unhandled 'error'.
    o.body.on('error', () => {});
  }

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (res.destroyed) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      status = statusCode;
      if (res.destroyed) return;
      const out = buildClientHeaders({
        headers: headers as Record<string, string | string[] | undefined>,
        upstreamOrigin: o.upstreamOrigin,
        publicOrigin: o.publicOrigin,
        sessionCookieName: o.sessionCookieName,
      });
      if (o.extraHeaders) {
        for (const k in o.extraHeaders) {
          const prev = out[k];
          const add = o.extraHeaders[k];
          out[k] = prev === undefined ? add : ([] as string[]).concat(prev, add);
        }
      }
      res.writeHead(statusCode, statusMessage || undefined, out);
      // Headers out now: SSE and long polls must not wait for the first chunk.
      res.flushHeaders();
    },
    onResponseData(c, chunk) {
      bytes += chunk.length;
      if (res.destroyed) return;
      if (!res.write(chunk)) c.pause();
    },
    onResponseEnd() {
      if (!res.destroyed) res.end();
      finish();
    },
    onResponseError(_c, err) {
      const failure = classify(err as Error & { code?: string });
      if (!res.headersSent && !res.destroyed) {
        status = failure === 'timeout' ? 504 : 502;
        o.onFailure(res, failure);
      } else if (!res.destroyed) {
        // Mid-stream failure: the only honest signal left is a cut connection.
        res.destroy(err);
      }
      finish(failure, err);
    },
  };

  try {
    o.pool.dispatch(
      {
        path: o.path,
        method: o.method as Dispatcher.HttpMethod,
        headers: o.headers,
        body: o.body,
        headersTimeout: o.headersTimeout,
        bodyTimeout: 0,
      },
      handler,
    );
  } catch (err) {
    handler.onResponseError!(undefined as never, err as Error);
  }
}
