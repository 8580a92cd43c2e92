// routes: which host and path prefix go to which upstream, and how.

import type { Millis } from '../duration.ts';
import { isObject, type Reader } from '../reader.ts';
import { bool, choice, duration, nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';
import { checkHostname, checkHttpUrl } from '../value-checks.ts';

export const PATH_PARAMS = ['reject', 'allow'] as const;
export const METHOD_OVERRIDE = ['evaluate', 'reject', 'pass'] as const;
export const PARAMS_STYLE = ['plain', 'php'] as const;

export const routeSchema = obj(
  {
    host: nonEmpty,
    path: nonEmpty,
    upstream: nonEmpty,
    websocket: bool,
    timeout: duration,
    case_insensitive: bool,
    path_params: choice(PATH_PARAMS),
    preserve_host: bool,
    method_override: choice(METHOD_OVERRIDE),
    params_style: choice(PARAMS_STYLE),
    strip_headers: strList,
    strip_prefix: bool,
    rewrite_location: strList,
    assertion: bool,
  } satisfies PropertiesOf<RouteConfig>,
  ['path', 'upstream'],
);

export const routesSchema = { type: 'array', items: routeSchema };

export interface RouteConfig {
  host?: string;                  // lower-cased; optional
  path: string;                   // prefix, starts with '/'
  upstream: string;               // http://host:port[/base]
  websocket: boolean;             // default false
  timeout: Millis;                // upstream response headers; default 30s
  case_insensitive: boolean;      // default false
  path_params: (typeof PATH_PARAMS)[number]; // default reject
  preserve_host: boolean;         // send the client's Host upstream; default false
  /** How method overrides (X-HTTP-Method-Override, `_method`, ...) are treated; default evaluate. */
  method_override: (typeof METHOD_OVERRIDE)[number];
  /** How the app names parameters for rules' query/params: php reads `name[key]` as name=key; default plain. */
  params_style: (typeof PARAMS_STYLE)[number];
  /** Request headers removed before the app sees them (headers an app reads as an action, e.g. X-DokuWiki-Do). */
  strip_headers: string[];
  /** The app lives at / but is served under `path`: the prefix is removed upstream and put back in Location, Refresh and cookie paths; default false. */
  strip_prefix: boolean;
  /** Other origins the app believes it lives at: redirects to them are translated like the upstream's own; default none. */
  rewrite_location: string[];
  /** Send the signed identity assertion to this route's upstream; default headers.jwt. */
  assertion: boolean;
}

/** `assertionDefault` is headers.jwt: a route that says nothing follows it. */
export function buildRoutes(r: Reader, items: unknown[], assertionDefault: boolean): RouteConfig[] {
  const seen = new Map<string, number>();
  return items.filter(isObject).map((o, i) => {
    const at = ['routes', i];
    const path = r.str(o, 'path') ?? '/';
    if (!path.startsWith('/')) r.fail([...at, 'path'], 'must start with /');
    const upstream = r.str(o, 'upstream') ?? '';
    if (r.str(o, 'upstream') !== undefined) checkHttpUrl(r, upstream, [...at, 'upstream'], { allowPath: true });
    const host = r.str(o, 'host')?.toLowerCase();
    if (host !== undefined) checkHostname(r, host, [...at, 'host']);
    const key = `${host ?? '*'} ${path}`;
    const dup = seen.get(key);
    if (dup !== undefined) r.fail([...at, 'path'], `routes[${dup}] already has this ${host ? 'host and ' : ''}path`);
    if (o.strip_prefix === true && path.replace(/\/+$/, '') === '') r.fail([...at, 'strip_prefix'], 'needs a path prefix to strip (this route is /)');
    else seen.set(key, i);
    return {
      ...(host !== undefined ? { host } : {}),
      path,
      upstream,
      websocket: r.bool(o, 'websocket', false),
      timeout: r.duration(o, 'timeout', at, '30s'),
      case_insensitive: r.bool(o, 'case_insensitive', false),
      path_params: r.oneOf(o, 'path_params', PATH_PARAMS, 'reject'),
      preserve_host: r.bool(o, 'preserve_host', false),
      method_override: r.oneOf(o, 'method_override', METHOD_OVERRIDE, 'evaluate'),
      params_style: r.oneOf(o, 'params_style', PARAMS_STYLE, 'plain'),
      strip_headers: r.list(o, 'strip_headers') ?? [],
      strip_prefix: r.bool(o, 'strip_prefix', false),
      assertion: r.bool(o, 'assertion', assertionDefault),
      rewrite_location: (r.list(o, 'rewrite_location') ?? []).map((origin, k) => {
        checkHttpUrl(r, origin, [...at, 'rewrite_location', k], { allowPath: false });
        try {
          return new URL(origin).origin;
        } catch {
          return origin;
        }
      }),
    };
  });
}
