// Everything under /.gatehouse/ is the gateway's own and never proxied: the
// built-in operator endpoints here, the pages ui/ registers in svc.pages.

import type { PageHandler, RequestContext } from '../web/context.ts';
import { errorPage, sendJson, sendText } from '../web/respond.ts';
import { operatorOnly } from './operator-access.ts';
import { STATIC_HEADERS } from '../web/security-headers.ts';
import { authzHandler } from './forward-auth.ts';
import { BRAND_CSS_PATH, brandStyle } from '../ui/brand-style.ts';
import { contentTypeOf } from '../ui/static-assets.ts';

const READY_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

async function readyz(ctx: RequestContext): Promise<void> {
  const checks = await Promise.allSettled([
    withTimeout(ctx.svc.store.ping(), READY_TIMEOUT_MS),
    withTimeout(ctx.svc.shared.ping(), READY_TIMEOUT_MS),
  ]);
  const [store, shared] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : `down: ${(c.reason as Error).message}`));
  const ok = store === 'ok' && shared === 'ok';
  sendText(ctx.res, ok ? 200 : 503, `store: ${store}\nshared_state: ${shared}\n`);
}

async function metrics(ctx: RequestContext): Promise<void> {
  if (!operatorOnly(ctx)) return;
  ctx.res.writeHead(200, { 'content-type': ctx.svc.metrics.contentType, 'cache-control': 'no-store' });
  ctx.res.end(await ctx.svc.metrics.text());
}

/** The latest signed audit checkpoint (README "Audit log"), for operators to keep off the gateway's disk. */
function auditCheckpoint(ctx: RequestContext): void {
  if (!operatorOnly(ctx)) return;
  const cp = ctx.svc.auditCheckpoints?.latest();
  if (cp === undefined) return sendText(ctx.res, 503, 'no audit checkpoint yet\n');
  sendJson(ctx, 200, cp, { 'cache-control': 'no-store' });
}

function staticFile(ctx: RequestContext, name: string): void {
  sendAsset(ctx, ctx.svc.staticAsset(name));
}

/** The operator's colours and stylesheet, from the running config (a reload changes it). */
function brandCss(ctx: RequestContext): void {
  const style = brandStyle(ctx.snap.config.branding);
  sendAsset(ctx, style && { body: style.body, etag: style.etag, type: contentTypeOf('brand.css') });
}

function sendAsset(ctx: RequestContext, asset: { body: Buffer; type: string; etag: string } | undefined): void {
  if (!asset) return errorPage(ctx, 404);
  if (ctx.req.headers['if-none-match'] === asset.etag) {
    ctx.res.writeHead(304, { etag: asset.etag });
    ctx.res.end();
    return;
  }
  ctx.res.writeHead(200, { ...STATIC_HEADERS, 'content-type': asset.type, etag: asset.etag, 'content-length': String(asset.body.length) });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : asset.body);
}

const BUILT_IN: Record<string, PageHandler> = {
  '/.gatehouse/healthz': (ctx) => sendText(ctx.res, 200, 'ok'),
  '/.gatehouse/readyz': readyz,
  '/.gatehouse/metrics': metrics,
  '/.gatehouse/audit/checkpoint': auditCheckpoint,
  '/.gatehouse/jwks.json': (ctx) => sendJson(ctx, 200, ctx.svc.signer.jwks(), { 'cache-control': 'public, max-age=300' }),
  '/.gatehouse/authz': authzHandler,
  [BRAND_CSS_PATH]: brandCss,
};

const AUTHZ_SPELLING = '/.gatehouse/authz';

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

export async function handleReserved(ctx: RequestContext): Promise<void> {
  ctx.log.decision = 'gatehouse';
  const path = ctx.path.endsWith('/') && ctx.path.length > 1 ? ctx.path.slice(0, -1) : ctx.path;
  if (path.startsWith('/.gatehouse/static/')) return staticFile(ctx, path.slice('/.gatehouse/static/'.length));
  if (path === AUTHZ_SPELLING && pathOf(ctx.req.url ?? '') !== AUTHZ_SPELLING) {
    // The proxies' own subrequests spell it exactly so; '/.gatehouse/authz/', '%61uthz', '//…' are clients probing.
    ctx.log.reason = 'authz asked in a spelling no proxy uses';
    return errorPage(ctx, 404);
  }
  const handler = BUILT_IN[path] ?? ctx.svc.pages.get(path);
  if (!handler) return errorPage(ctx, 404);
  await handler(ctx);
}
