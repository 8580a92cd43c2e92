// "Trust this browser": a random device id in its own cookie, bound to one
// user in the store, expiring, revocable from the account page.

import type { RequestContext } from './context.ts';
import { readCookie, serializeCookie } from '../proxy/cookies.ts';
import { randomId } from '../session/session-data.ts';

export function deviceCookieName(ctx: RequestContext): string {
  return `${ctx.svc.sessions.cookieName}_device`;
}

/** The remembered device id when this browser carries a valid one for `user`. */
export async function rememberedDevice(ctx: RequestContext, user: string): Promise<string | undefined> {
  if (ctx.snap.config.session.remember_device <= 0) return undefined;
  const id = readCookie(ctx.req.headers.cookie, deviceCookieName(ctx));
  if (!id || id.length > 64) return undefined;
  const device = await ctx.svc.store.getDevice(id);
  if (!device || device.user !== user || device.expires_at <= ctx.svc.now()) return undefined;
  await ctx.svc.store.touchDevice(id, ctx.svc.now());
  return id;
}

/** Remembers this browser for the configured time; returns the Set-Cookie value. */
export async function rememberDevice(ctx: RequestContext, user: string): Promise<string> {
  const now = ctx.svc.now();
  const ttl = ctx.snap.config.session.remember_device;
  const id = randomId(24);
  const ua = String(ctx.req.headers['user-agent'] ?? '');
  await ctx.svc.store.addDevice({ id, user, label: deviceLabel(ua), created_at: now, expires_at: now + ttl, last_used_at: now });
  return serializeCookie(deviceCookieName(ctx), id, { secure: ctx.snap.secureCookies, maxAgeSeconds: ttl / 1000 });
}

/** A human label from a User-Agent: "Chrome on Linux". */
export function deviceLabel(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : 'unknown system';
  return `${browser} on ${os}`;
}
