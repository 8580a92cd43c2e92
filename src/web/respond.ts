// Writing the gateway's own answers: pages (with the strict page headers),
// JSON for API clients, redirects, and the error pages.

import type { ServerResponse } from 'node:http';
import { PAGE_HEADERS } from './security-headers.ts';
import type { RequestContext } from './context.ts';
import { isNavigation } from './client-kind.ts';
import { discardRest } from './discard-body.ts';
import { translator, type Msg } from '../identity/translate.ts';

// API clients get the English text of a message (a page gets the reader's language).
const ENGLISH = translator('en');

type HeaderMap = Record<string, string | string[]>;

function write(res: ServerResponse, status: number, headers: HeaderMap, body: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-length': String(buf.length) });
  res.end(buf);
}

/** An answer of the gateway's own: a body it did not read to its end is discarded (bounded) and the connection not reused. */
function answer(ctx: RequestContext, status: number, headers: HeaderMap, body: string | Buffer): void {
  discardRest(ctx);
  write(ctx.res, status, headers, body);
}

export function sendPage(ctx: RequestContext, status: number, view: string, data: Record<string, unknown>, extra: HeaderMap = {}): void {
  const html = ctx.svc.renderer.page(view, {
    request_id: ctx.requestId,
    csrf: ctx.session?.csrf,
    accept_language: ctx.req.headers['accept-language'],
    ...data,
  });
  answer(ctx, status, { ...PAGE_HEADERS, ...extra }, ctx.req.method === 'HEAD' ? Buffer.alloc(0) : html);
}

export function sendJson(ctx: RequestContext, status: number, body: unknown, extra: HeaderMap = {}): void {
  answer(ctx, status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  }, JSON.stringify(body));
}

export function sendText(res: ServerResponse, status: number, text: string, extra: HeaderMap = {}): void {
  write(res, status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }, text);
}

export function redirect(ctx: RequestContext, location: string, extra: HeaderMap = {}, status = 302): void {
  answer(ctx, status, { location, 'cache-control': 'no-store', ...extra }, '');
}

const ERROR_CODES: Record<number, string> = {
  400: 'bad_request', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'too_large',
  429: 'rate_limited', 431: 'headers_too_large', 500: 'internal_error', 502: 'bad_gateway', 503: 'unavailable', 504: 'gateway_timeout',
};

/** The error page (browsers) or JSON (API clients); the page's wording lives in views/error.eta. */
export function errorPage(ctx: RequestContext, status: number, opts: { message?: string | Msg; rule?: string; waitSeconds?: number } = {}): void {
  const extra: HeaderMap = opts.waitSeconds ? { 'retry-after': String(Math.ceil(opts.waitSeconds)) } : {};
  if (!isNavigation(ctx.req.headers)) {
    sendJson(ctx, status, {
      error: ERROR_CODES[status] ?? 'error',
      request_id: ctx.requestId,
      ...(opts.message ? { message: ENGLISH.say(opts.message) } : {}),
      ...(opts.rule ? { rule: opts.rule } : {}),
      ...(opts.waitSeconds ? { retry_after: Math.ceil(opts.waitSeconds) } : {}),
    }, extra);
    return;
  }
  sendPage(ctx, status, 'error', {
    status,
    // A server-side failure: "Try again" repeats the page load (a form is not resent from a link).
    retry_url: status >= 500 && ctx.req.method === 'GET' ? ctx.req.url : undefined,
    message: opts.message,
    rule_id: opts.rule,
    wait_seconds: opts.waitSeconds,
  }, extra);
}
