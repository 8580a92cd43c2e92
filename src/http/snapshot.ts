// Everything derived from one config, computed once per load: a reload builds
// a new snapshot off to the side and swaps one reference.

import type { Config } from '../config/types.ts';
import { compilePolicy } from '../policy/compile.ts';
import { compileRisk } from '../policy/risk.ts';
import { openGeoLocator, type GeoLocator } from '../session/geo-locator.ts';
import { compileRoutes } from '../policy/route-table.ts';
import { ownedCanonicalMatcher } from '../proxy/owned-headers.ts';
import { makeKnownToUndici } from '../proxy/undici-header-names.ts';
import { FORWARDING_HEADERS } from '../proxy/upstream-headers.ts';
import { addressList, trustedProxyList } from '../web/client-address.ts';
import type { Snapshot } from '../web/context.ts';
import { extraCatalogProblems } from '../identity/translate.ts';

export function buildSnapshot(config: Config): Snapshot {
  // An operator's catalog must be complete and match the English parameters: refused at start and on reload, never half shown.
  const problems = extraCatalogProblems(config.ui.catalogs);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const publicUrl = new URL(config.server.public_url);
  const routes = compileRoutes(config.routes);
  makeKnownToUndici([...FORWARDING_HEADERS, ...Object.values(config.headers.names)]);
  return {
    config,
    routes,
    trusted: trustedProxyList(config.server.trusted_proxies),
    operatorAllow: addressList(config.server.metrics_allow),
    isOwned: ownedCanonicalMatcher(config.headers),
    policy: compilePolicy(config.policy, config.rollout),
    policyFolded: compilePolicy(config.policy, config.rollout, { caseInsensitive: true }),
    publicOrigin: publicUrl.origin,
    ownProto: publicUrl.protocol === 'https:' ? 'https' : 'http',
    secureCookies: publicUrl.protocol === 'https:',
    anyRouteAllowsParams: routes.some((r) => r.path_params === 'allow'),
    risk: compileRisk(config.risk),
    geo: config.risk.enabled ? geoLocator(config) : null,
  };
}

function geoLocator(config: Config): GeoLocator {
  try {
    return openGeoLocator(config.risk);
  } catch (err) {
    throw new Error(`risk.geoip_db: cannot read ${config.risk.geoip_db ?? 'the bundled GeoIP database'} as a MaxMind database: ${(err as Error).message}`);
  }
}
