// Route selection: first by host, then the longest path
// prefix. Prefixes match whole segments: '/app' matches '/app' and '/app/x',
// never '/application'.

import type { RouteConfig } from '../config/types.ts';

export interface Route extends RouteConfig {
  index: number;
  id: string;                // for logs and metrics: host + path
  upstreamOrigin: string;    // scheme://host:port
  upstreamBase: string;      // path prefix of the upstream URL, '' when '/'
  upstreamHost: string;      // Host header sent upstream
  prefix: string;            // path without trailing slash ('' for '/'); lower-case when case_insensitive
  /** strip_headers as canonical names (lower-case, '_' as '-'), removed before forwarding. */
  stripHeaders: ReadonlySet<string>;
}

export function compileRoutes(routes: readonly RouteConfig[]): Route[] {
  return routes.map((r, index) => {
    const u = new URL(r.upstream);
    const prefix = r.path === '/' ? '' : r.path.replace(/\/+$/, '');
    return {
      ...r,
      index,
      id: `${r.host ?? '*'}${r.path}`,
      upstreamOrigin: u.origin,
      upstreamBase: u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, ''),
      upstreamHost: u.host,
      prefix: r.case_insensitive ? prefix.toLowerCase() : prefix,
      // Canonical as the proxy compares names: lower-case, '_' as '-' (PHP and CGI read both the same).
      stripHeaders: new Set((r.strip_headers ?? []).map((h) => h.toLowerCase().replaceAll('_', '-'))),
    };
  });
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path[prefix.length] === '/';
}

/** host: lower-case, without port. path: the normalized, decoded path. */
export function selectRoute(routes: readonly Route[], host: string, path: string): Route | undefined {
  let best: Route | undefined;
  let bestHostScore = -1;
  let lowered: string | undefined;
  for (const r of routes) {
    const hostScore = r.host === undefined ? 0 : r.host === host ? 1 : -1;
    if (hostScore < 0 || hostScore < bestHostScore) continue;
    const p = r.case_insensitive ? (lowered ??= path.toLowerCase()) : path;
    if (!prefixMatches(r.prefix, p)) continue;
    if (hostScore > bestHostScore || !best || r.prefix.length > best.prefix.length) {
      best = r;
      bestHostScore = hostScore;
    }
  }
  return best;
}

/**
 * The request-target the upstream gets for `target` (the canonical public
 * path and query): under the upstream's base path, without the route's prefix
 * when strip_prefix is set (the app lives at / and is served under the prefix).
 */
export function upstreamTarget(route: Route, target: string): string {
  if (!route.strip_prefix || route.prefix === '') return route.upstreamBase + target;
  const rest = target.slice(route.prefix.length);
  return route.upstreamBase + (rest.startsWith('/') ? rest : `/${rest}`);
}

/** How the app's own URLs in answers map to public ones; undefined when nothing beyond the upstream's origin. */
export function urlTranslation(route: Route): { prefix: string; base: string; origins: readonly string[] } | undefined {
  if (!route.strip_prefix && route.rewrite_location.length === 0) return undefined;
  return { prefix: route.strip_prefix ? route.prefix : '', base: route.upstreamBase, origins: route.rewrite_location };
}
