// The two things every request handler sees: the long-lived services (opened
// once at start) and the config snapshot current when the request arrived.
// A reload swaps the snapshot reference; a request keeps the one it started
// with, so it never sees half a config.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Logger } from 'pino';
import type { RequestLog } from '../audit/request-log.ts';
import type { Config } from '../config/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { CompiledRisk } from '../policy/risk.ts';
import type { GeoLocator } from '../session/geo-locator.ts';
import type { ParamList } from '../policy/param-match.ts';
import type { Route } from '../policy/route-table.ts';
import type { UpstreamPools } from '../proxy/upstream-pools.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { SessionData } from '../session/session-data.ts';
import type { AssertionSigner } from '../identity/assertion.ts';
import type { IdentitySource } from '../identity/types.ts';
import type { Throttle } from '../identity/throttle.ts';
import type { Store } from '../store/types.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Checkpointer } from '../audit/checkpoint.ts';
import type { Metrics } from '../audit/metrics.ts';
import type { WouldChallengeAggregator } from '../audit/events.ts';
import type { StashStore } from '../session/stash-store.ts';
import type { ClientFacts } from './client-address.ts';
import type { FactorRegistry } from '../factors/registry.ts';
import type { WebAuthnService } from '../factors/webauthn.ts';
import type { Notifier } from '../identity/notifier.ts';
import type { OidcClient } from '../identity/oidc.ts';

/** Renders the gateway's pages (ui/render.ts implements it over views/). */
export interface Renderer {
  /** A full HTML document: page `name` (views/<name>.eta) inside the layout. */
  page(name: string, data: Record<string, unknown>): string;
  /** The pages this renderer knows (top-level templates other than the layout). */
  readonly pages: readonly string[];
}

export interface Services {
  log: Logger;
  /** The per-request decision log line. */
  requestLog: RequestLog;
  store: Store;
  shared: SharedState;
  identity: IdentitySource;
  sessions: SessionManager;
  signer: AssertionSigner;
  pools: UpstreamPools;
  renderer: Renderer;
  staticAsset: (name: string) => { body: Buffer; type: string; etag: string } | undefined;
  audit: AuditLog;
  /** Signed heads of the audit chain; the latest is served to operators. */
  auditCheckpoints?: Pick<Checkpointer, 'latest'>;
  metrics: Metrics;
  wouldChallenge: WouldChallengeAggregator;
  /** Requests kept across a challenge (capped per session, per user and per instance). */
  stashes: StashStore;
  throttle: Throttle;
  factors: FactorRegistry;
  webauthn: WebAuthnService;
  notifier: Notifier;
  /** The OpenID provider client when identity.source is oidc. */
  oidc?: OidcClient;
  now: () => number;
  /** Extra reserved-route handlers contributed by features (factors, forward-auth). */
  pages: Map<string, PageHandler>;
}

export interface Snapshot {
  config: Config;
  routes: Route[];
  trusted: BlockList;
  /** server.metrics_allow: who may read the operator endpoints on the public listener. */
  operatorAllow: BlockList;
  /** Whether a header name, in canonical form (proxy/owned-headers.ts), is the gateway's own. */
  isOwned: (canonical: string) => boolean;
  policy: CompiledPolicy;
  /** The same rules compiled for case-insensitive routes (patterns folded). */
  policyFolded: CompiledPolicy;
  publicOrigin: string;
  ownProto: 'http' | 'https';
  secureCookies: boolean;
  anyRouteAllowsParams: boolean;
  /** The risk section compiled (policy/risk.ts); null when the section is absent. */
  risk: CompiledRisk | null;
  /** Where client addresses are (risk signals); null when the risk section is absent. */
  geo: GeoLocator | null;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  snap: Snapshot;
  svc: Services;
  requestId: string;
  client: ClientFacts;
  /** Normalized path (decoded, for matching) and query of the request. */
  path: string;
  query: string;
  session: SessionData | null;
  /** The raw cookie value the session came from (to evict it on logout). */
  cookie: string | undefined;
  started: number;
  /** The request came in on server.admin_listen (operator endpoints only, no further check). */
  viaAdminListener?: boolean;
  /** A small urlencoded form the gateway read before deciding (upstream_form login/logout paths); forwarded from here. */
  form?: { body: Buffer; fields: ParamList };
  /**
   * A body a `params` rule would read was not read (another content type, over policy.inspect_body_max):
   * decided as unread. `prefix`: the bytes already taken from the stream, forwarded (or kept) ahead of the rest.
   */
  bodyUnread?: { prefix: Buffer };
  /** Filled in by handlers for the request log line. */
  log: { rule?: string; decision?: string; reason?: string; user?: string };
}

export type PageHandler = (ctx: RequestContext) => Promise<void> | void;
