// The app's wiring, the imperative shell: opens every service once, builds the
// first config snapshot, listens, swaps snapshots on reload, drains on close.
// `gatehouse serve`, the demo and the tests start the gateway through here
// (docs/architecture.md, "Layers").

import { resolve, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import pino from 'pino';
import { loadConfig, ConfigError, formatIssues } from './config/load.ts';
import { watchConfig } from './config/watch.ts';
import type { Config } from './config/types.ts';
import { buildSnapshot } from './http/snapshot.ts';
import type { PageHandler, Services, Snapshot } from './web/context.ts';
import { createGateway } from './http/gateway.ts';
import { createHttpServer, drain, listen } from './http/server.ts';
import { createAdminHandler } from './http/admin-server.ts';
import { openStore } from './store/open-store.ts';
import { openSharedState } from './store/open-shared-state.ts';
import { deriveSecret } from './store/secret-box.ts';
import { SessionManager } from './session/session-manager.ts';
import { usersToRevoke } from './session/user-changes.ts';
import { AssertionSigner } from './identity/assertion.ts';
import { createFileIdentitySource } from './identity/file-source.ts';
import { createOidcIdentitySource, OidcClient } from './identity/oidc.ts';
import { Throttle } from './identity/throttle.ts';
import { UpstreamPools } from './proxy/upstream-pools.ts';
import { createRenderer } from './ui/render.ts';
import { createStaticAssets, defaultStaticSources } from './ui/static-assets.ts';
import type { AuditLog } from './audit/audit-log.ts';
import { openAuditTrail, type AuditTrail } from './audit/trail.ts';
import { createMetrics } from './audit/metrics.ts';
import { consoleLogDestination } from './audit/console-log.ts';
import { createRequestLog, PIPE_BUF } from './audit/request-log.ts';
import { createWouldChallengeAggregator } from './audit/events.ts';
import type { Checkpointer } from './audit/checkpoint.ts';
import type { SharedState } from './store/shared-state.ts';
import type { SharedStateConfig } from './config/types.ts';
import { registerPages } from './ui/page-routes.ts';
import { createFactorRegistry } from './factors/registry.ts';
import { createWebAuthn, type WebAuthnService } from './factors/webauthn.ts';
import { openNotifier } from './identity/notifier.ts';
import { createStashStore } from './session/stash-store.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const VIEWS_DIR = join(PROJECT_ROOT, 'views');

export interface RunningGateway {
  server: Server;
  port: number;
  /** Port of the operator listener, when server.admin_listen is set. */
  adminPort?: number;
  services: Services;
  current(): Snapshot;
  /** Validates and swaps in a new config; keeps the old one on error. */
  reload(config?: Config): Promise<boolean>;
  close(): Promise<void>;
}

export interface StartOptions {
  configPath: string;
  /** Override for tests: a listen address (e.g. 127.0.0.1:0) or a socket already bound and listening. */
  listen?: string | NetServer;
  watch?: boolean;
  logDestination?: pino.DestinationStream;
  /**
   * The clock of session expiry, factor freshness, TOTP windows, one-time codes and throttles
   * (unix ms; default Date.now). Tests pass one they can move forward instead of sleeping.
   */
  now?: () => number;
  /** Set in a worker of `gatehouse serve` with server.workers above 1: what its primary owns. */
  primary?: PrimaryServices;
}

/**
 * What a worker gets from its primary (src/cluster/): the one audit chain, the
 * in-memory shared state, and the metrics of every worker together. A worker
 * neither migrates the store nor watches the config: the primary does, once.
 */
export interface PrimaryServices {
  /** The configured shared state: the primary's memory over IPC, or Redis directly. */
  openShared(cfg: SharedStateConfig, now: () => number): SharedState;
  audit: AuditLog;
  checkpoints: Pick<Checkpointer, 'latest'>;
  /** The exposition text of every worker's metrics, summed. */
  metricsText(): Promise<string>;
}

export async function startGateway(o: StartOptions): Promise<RunningGateway> {
  const configPath = resolve(o.configPath);
  const now = o.now ?? Date.now;
  const config = loadConfig(configPath);
  const { log, logDest } = openLog(config, o.logDestination);
  // Workers share stdout: batches that a pipe writes whole (request-log.ts).
  const requestLog = createRequestLog(log, logDest, 'gatehouse', o.primary ? PIPE_BUF : Infinity);
  for (const w of config.warnings) log.warn(w);

  const primary = o.primary;
  const store = openStore(config.store);
  if (!primary) for (const notice of await store.migrate()) log.warn(notice);
  const shared = primary ? primary.openShared(config.shared_state, now) : openSharedState(config.shared_state, now);
  // The chain's one writer: this process, or the primary of the workers.
  const trail: AuditTrail | undefined = primary ? undefined : await openAuditTrail(config, log);
  const audit = primary?.audit ?? trail!.audit;
  const ownMetrics = createMetrics();
  const metrics = primary ? { ...ownMetrics, text: primary.metricsText } : ownMetrics;
  // No users file for OIDC, nor for upstream_form without identity.file (the app's form names the users).
  const noUsersFile = config.identity.source === 'oidc' || (config.identity.source === 'upstream_form' && !config.identity.file);
  let onUsersReloaded: () => void = () => {};
  const identity = noUsersFile ? createOidcIdentitySource() : await createFileIdentitySource(config.identity.file?.path ?? 'config/users.yaml', {
    onReload: (n) => { log.info({ users: n }, 'users file reloaded'); onUsersReloaded(); },
    onError: (issues) => log.error({ issues }, 'users file rejected: keeping the previous users'),
  });
  const oidc = config.identity.source === 'oidc' && config.identity.oidc
    ? new OidcClient({ config: config.identity.oidc, publicUrl: config.server.public_url, shared, sessionMaxAge: config.session.max_age, now })
    : undefined;
  // Discover the IdP in the background: the gateway starts even while the IdP is down.
  oidc?.configuration().catch((err: Error) => log.warn({ reason: err.message }, 'OIDC discovery failed: sign-ins wait for the identity provider'));
  const publicOrigin = new URL(config.server.public_url).origin;
  const sessions = new SessionManager({
    secret: config.session.secret,
    cookieName: config.session.cookie_name,
    secure: publicOrigin.startsWith('https:'),
    maxAge: config.session.max_age,
    idle: config.session.idle_timeout,
    shared,
    now,
  });
  await sessions.start();
  // A user disabled, re-enabled or given a new password in the users file loses every session.
  let knownUsers = identity.listUsers();
  onUsersReloaded = () => {
    const next = identity.listUsers();
    for (const id of usersToRevoke(knownUsers, next)) {
      sessions.revokeUser(id).catch((err: Error) => log.error({ err, user: id }, 'revoking sessions after a users-file change failed'));
    }
    knownUsers = next;
  };
  // An MFA reset done by the CLI lands in the store; every instance picks it up within seconds
  // (Redis deployments also get it pushed at once), so a reset ends sessions everywhere.
  let resetsSeen = Date.now() - config.session.max_age;
  const resetPoll = setInterval(() => {
    store.mfaResetsSince(resetsSeen).then((resets) => {
      for (const r of resets) {
        sessions.revokeUserLocally(r.user, r.at);
        resetsSeen = Math.max(resetsSeen, r.at);
      }
    }, (err: Error) => log.warn({ err: err.message }, 'MFA reset poll failed'));
  }, 2000);
  resetPoll.unref();
  const assets = createStaticAssets(defaultStaticSources(VIEWS_DIR));
  const notifier = openNotifier(config.notifier);
  const factors = createFactorRegistry({
    store, shared, notifier, factors: config.factors,
    product: config.branding.product_name, support: config.branding.support_contact, publicUrl: config.server.public_url, now,
  });
  // The signing key is sealed with the factor encryption key (factors.box).
  const signer = new AssertionSigner(store, factors.box, publicOrigin, now, (err) => log.warn({ err }, 'signing keys reload failed; keeping the current keys'));
  await signer.init();
  const webauthn = openWebAuthn(config, store, shared, now, log);
  const checkpointer = trail?.start(signer, notifier);

  let snap = buildSnapshot(config);
  const svc: Services = {
    log, requestLog, store, shared, identity, sessions, signer, audit, auditCheckpoints: checkpointer ?? primary?.checkpoints, metrics,
    pools: new UpstreamPools(),
    // The running config's branding: a reload shows the new name, logo and colours on the next page.
    renderer: createRenderer(VIEWS_DIR, () => snap.config.branding, { assetVersion: assets.version, ui: () => snap.config.ui }),
    staticAsset: assets,
    throttle: new Throttle(shared, store, now),
    factors, webauthn, notifier,
    ...(oidc ? { oidc } : {}),
    wouldChallenge: createWouldChallengeAggregator(audit, 60_000),
    stashes: createStashStore(shared, now),
    now,
    pages: new Map<string, PageHandler>(),
  };
  await registerPages(svc, config);

  if (checkpointer) {
    await audit.write({ event: 'config.loaded', source: configPath });
    await checkpointer.checkpoint(); // the endpoint has one from the start
  }
  const gateway = createGateway(svc, () => snap);
  const server = createHttpServer(config.server, gateway.handle, gateway.handleUpgrade);
  const { port } = await listen(server, o.listen ?? config.server.listen);
  // An optional operator listener (README "Operator endpoints"): metrics, healthz, readyz only.
  const adminServer = config.server.admin_listen ? createHttpServer(config.server, createAdminHandler(svc, () => snap)) : undefined;
  const adminPort = adminServer ? (await listen(adminServer, config.server.admin_listen!)).port : undefined;
  log.info({ listen: typeof o.listen === 'string' ? o.listen : config.server.listen, port, public_url: config.server.public_url }, primary ? 'worker listening' : 'gatehouse listening');

  async function reload(next?: Config): Promise<boolean> {
    try {
      const cfg = next ?? loadConfig(configPath);
      // An editor saving in place (truncate, then write) can show the watcher an empty file: a valid
      // all-defaults config without routes. Never swap in a config that would stop all traffic.
      if (cfg.routes.length === 0 && snap.routes.length > 0) throw new Error('the new config has no routes: keeping the running config');
      const fresh = buildSnapshot(cfg);
      snap = fresh;
      log.level = cfg.server.log_level;
      await svc.pools.retain(fresh.routes.map((r) => r.upstreamOrigin));
      for (const w of cfg.warnings) log.warn(w);
      // One process cannot become a primary with workers in place (src/cluster/): that takes a restart.
      if (!primary && cfg.server.workers !== config.server.workers) log.warn({ workers: cfg.server.workers }, 'server.workers changed: restart gatehouse serve to apply it');
      log.info('config reloaded');
      metrics.configReloads.labels('ok').inc();
      await audit.write({ event: 'config.loaded', source: configPath, reason: 'reload' });
      return true;
    } catch (err) {
      const reason = err instanceof ConfigError ? formatIssues(configPath, err.issues) : (err as Error).message;
      log.error({ reason }, 'config reload rejected: keeping the running config');
      metrics.configReloads.labels('rejected').inc();
      await audit.write({ event: 'config.rejected', source: configPath, reason }).catch(() => undefined); // already logged by onError
      return false;
    }
  }

  const watcher = o.watch === false ? undefined : watchConfig(configPath, (r) => {
    if (r.ok) void reload(r.config);
    else void reload().catch(() => {});
  });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      watcher?.close();
      adminServer?.close();
      adminServer?.closeAllConnections();
      await drain(server, config.server.shutdown_timeout);
      svc.wouldChallenge.stop();
      await trail?.close();
      await Promise.allSettled([svc.pools.close(), shared.close(), store.close(), notifier.close?.()]);
      identity.close();
      requestLog.flush();
      clearInterval(resetPoll);
      log.flush();
    })();
    return closing;
  }

  return { server, port, adminPort, services: svc, current: () => snap, reload, close };
}

/** The process log: JSON lines, or readable text on a terminal. */
export function openLog(config: Config, destination?: pino.DestinationStream, base: Record<string, unknown> = { svc: 'gatehouse' }): { log: pino.Logger; logDest: pino.DestinationStream } {
  // Synchronous writes measured cheapest here (batching inside sonic-boom cost more than it saved);
  // the per-request lines are batched per event-loop turn by the request log itself.
  // A terminal gets readable text lines, anything else (a file, a pipe, a log collector) the JSON lines.
  const logDest = destination ?? (process.stdout.isTTY
    ? consoleLogDestination(pino.destination({ sync: true }), { colour: !process.env.NO_COLOR })
    : pino.destination({ sync: true }));
  return { log: pino({ level: config.server.log_level, base }, logDest), logDest };
}

/** Passkeys need a domain name in public_url; with an IP address the gateway still runs, without them. */
function openWebAuthn(config: Config, store: Services['store'], shared: Services['shared'], now: () => number, log: pino.Logger): WebAuthnService {
  // Every instance seals passkey sign-in challenges with the same key, derived like the other factor secrets.
  const challengeKey = Buffer.from(deriveSecret(config.factors.encryption_key, 'passkey sign-in challenge v1'), 'base64url');
  try {
    return createWebAuthn({ store, shared, rpName: config.factors.webauthn.rp_name, publicUrl: config.server.public_url, now, challengeKey });
  } catch (err) {
    log.warn({ reason: (err as Error).message }, 'passkeys and security keys are disabled');
    const off = async (): Promise<never> => { throw new Error('WebAuthn is disabled: public_url must use a domain name'); };
    return { rpId: '', origin: '', registrationOptions: off, authenticationOptions: off, finishRegistration: off, finishAuthentication: off, discoverableOptions: off, finishDiscoverable: off };
  }
}
