// Advice on rules that read query or form parameters, printed by `gatehouse
// check` as hints (README "Action rules: query and form parameters"): where
// the app would read a parameter the rule does not see, or the rule would
// fall back to its most demanding answer on ordinary forms. Pure; a config
// that is fine gets no hint, and each hint names the rule or route it is about.
//
// "PHP-like" is judged from the rule's own paths (a pattern ending in .php):
// that is the one thing a config says about the app for sure.

import type { Config } from '../config/types.ts';
import type { RuleConfig } from '../config/sections/policy.ts';
import { parsePathPattern } from './path-pattern.ts';
import { compileRoutes, selectRoute, type Route } from './route-table.ts';

/** policy.inspect_body_max below this: ordinary forms (a text area, a file name) are no longer read. */
export const SMALL_INSPECT_BODY = 8 * 1024;

/** Headers apps read as an action, by the script that reads them (its last path segment). */
const ACTION_HEADERS: ReadonlyArray<{ script: string; app: string; header: string }> = [
  { script: 'doku.php', app: 'DokuWiki', header: 'X-DokuWiki-Do' },
];

export function paramRuleHints(config: Pick<Config, 'routes' | 'policy'>): string[] {
  const routes = compileRoutes(config.routes);
  const out: string[] = [];
  const bodyRules: string[] = [];
  const headerHints = new Map<string, string>();
  config.policy.rules.forEach((rule, i) => {
    const m = rule.match;
    if (m.query === undefined && m.params === undefined) return;
    const name = `policy.rules[${i}] (${rule.id})`;
    if (m.params !== undefined) bodyRules.push(rule.id);
    const phpPaths = (m.path ?? []).filter((p) => /\.php$/i.test(p));
    if (phpPaths.length === 0) return;
    const phpRoutes = unique(phpPaths.flatMap((p) => servingRoutes(routes, m.host, p)));

    // The example is the rule's own parameter, whatever the app.
    const param = [...Object.keys(m.params ?? {}), ...Object.keys(m.query ?? {})][0];
    for (const r of phpRoutes) {
      if (r.params_style === 'php') continue;
      out.push(`${name} reads parameters on ${phpPaths.join(', ')}, served by routes[${r.index}] (${r.id}) with params_style: plain: PHP reads name[key]=… as name (${param}[x]=… reaches the app as ${param}), which this rule does not see; set routes[${r.index}].params_style: php`);
    }
    const queryOnly = Object.keys(m.query ?? {}).filter((n) => m.params?.[n] === undefined);
    if (queryOnly.length > 0 && takesBodies(rule)) {
      out.push(`${name} matches ${queryOnly.join(', ')} in the query only, on ${phpPaths.join(', ')}: PHP apps often read parameters from the POST body too ($_REQUEST), where a query rule does not look; use params: { ${queryOnly.map((n) => `${n}: …`).join(', ')} } if this app does`);
    }
    for (const a of ACTION_HEADERS) {
      if (!phpPaths.some((p) => p.toLowerCase().endsWith(`/${a.script}`))) continue;
      for (const r of phpRoutes) {
        if (r.stripHeaders.has(a.header.toLowerCase()) || headerHints.has(`${r.index}/${a.header}`)) continue;
        headerHints.set(`${r.index}/${a.header}`, `routes[${r.index}] (${r.id}) serves ${a.app} (${name} on /${a.script}): ${a.app} also takes the action from an ${a.header} header, which rules do not see; add ${a.header} to routes[${r.index}].strip_headers`);
      }
    }
  });
  out.push(...headerHints.values());
  const limit = config.policy.inspect_body_max;
  if (bodyRules.length > 0 && limit < SMALL_INSPECT_BODY) {
    const which = limit === 0 ? 'every body' : `a body over ${limit} bytes (most forms with a text area)`;
    out.push(`policy.inspect_body_max is ${limit} bytes: on the paths of the params rules (${bodyRules.join(', ')}) ${which} is decided as unread, so the most demanding of those rules applies to it; the default is 1MiB`);
  }
  return out;
}

/** Whether a rule can see requests with a body (no methods = all of them). */
function takesBodies(rule: RuleConfig): boolean {
  const methods = rule.match.methods;
  return methods === undefined || methods.some((x) => x !== 'GET' && x !== 'HEAD');
}

/** The routes that serve requests a path pattern matches, for the rule's host or, without one, any host. */
function servingRoutes(routes: readonly Route[], host: string | undefined, pattern: string): Route[] {
  const p = parsePathPattern(pattern);
  const literal = `/${p.literal.join('/')}`;
  const hosts = host !== undefined ? [host] : ['', ...new Set(routes.flatMap((r) => (r.host === undefined ? [] : [r.host])))];
  const out: Route[] = [];
  for (const h of hosts) {
    const best = selectRoute(routes, h, literal);
    if (best) out.push(best);
    if (p.shape === 'exact') continue;
    // A wildcard also reaches routes mounted below its literal part.
    for (const r of routes) if ((r.host === undefined || r.host === h) && r.prefix.startsWith(`${literal === '/' ? '' : literal}/`)) out.push(r);
  }
  return out;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
