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
import { SessionManager } from './session/session-manager.ts';
import { usersToRevoke } from './session/user-changes.ts';
import { AssertionSigner } from './identity/assertion.ts';
import { createFileIdentitySource } from './identity/file-source.ts';
import { createOidcIdentitySource, OidcClient } from './identity/oidc.ts';
import { Throttle } from './identity/throttle.ts';
import { UpstreamPools } from './proxy/upstream-pools.ts';
import { createRenderer } from './ui/render.ts';
import { createStaticAssets, defaultStaticSources } from './ui/static-assets.ts';
import { configuredAuditLog, openAuditLog } from './audit/audit-log.ts';
import { createMetrics } from './audit/metrics.ts';
import { consoleLogDestination } from './audit/console-log.ts';
import { createRequestLog } from './audit/request-log.ts';
import { createWouldChallengeAggregator } from './audit/events.ts';
import { createCheckpointer, type Checkpointer } from './audit/checkpoint.ts';
import { checkpointPublisher } from './audit/publish-checkpoint.ts';
import { openForwarder } from './audit/open-forwarder.ts';
import type { Forwarder } from './audit/forward.ts';
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
}

export async function startGateway(o: StartOptions): Promise<RunningGateway> {
  const configPath = resolve(o.configPath);
  const now = o.now ?? Date.now;
  const config = loadConfig(configPath);
  // Synchronous writes measured cheapest here (batching inside sonic-boom cost more than it saved);
  // the per-request lines are batched per event-loop turn by the request log itself.
  // A terminal gets readable text lines, anything else (a file, a pipe, a log collector) the JSON lines.
  const logDest = o.logDestination ?? (process.stdout.isTTY
    ? consoleLogDestination(pino.destination({ sync: true }), { colour: !process.env.NO_COLOR })
    : pino.destination({ sync: true }));
  const log = pino({ level: config.server.log_level, base: { svc: 'gatehouse' } }, logDest);
  const requestLog = createRequestLog(log, logDest);
  for (const w of config.warnings) log.warn(w);

  const store = openStore(config.store);
  await store.migrate();
  const shared = openSharedState(config.shared_state, now);
  let checkpoints: Checkpointer | undefined; // needs the signer, opened later
  let forwarder: Forwarder | undefined; // needs the notifier for its alert
  const audit = await openAuditLog({
    ...configuredAuditLog(config),
    onError: (err: Error) => log.error({ err }, 'audit log write failed'),
    onFlushed: (head) => {
      checkpoints?.flushed(head);
      forwarder?.notify();
    },
  });
  const metrics = createMetrics();
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
  const webauthn = openWebAuthn(config, store, shared, log);
  const checkpointer = createCheckpointer({
    log: audit, signer, instance: config.server.instance_id,
    lines: config.audit.checkpoint.lines, everyMs: config.audit.checkpoint.every,
    publish: checkpointPublisher(config.audit.checkpoint, config.audit.alert_email, notifier, (err, where) => log.error({ err: err.message }, `${where} failed`)),
    onError: (err) => log.error({ err }, 'audit checkpoint failed'),
  });
  checkpoints = checkpointer;
  forwarder = openForwarder(config, audit, {
    queueFull(sink, unsentBytes) {
      // Nothing is dropped (the audit files are the queue), but the SIEM is falling behind: say so everywhere.
      log.error({ sink, unsent_bytes: unsentBytes }, 'audit forwarding: the sink is down and its backlog passed audit.forward.queue_max');
      void audit.write({ event: 'audit.forward_queue_full', sink, unsent_bytes: unsentBytes });
      const to = config.audit.alert_email;
      if (to) {
        notifier.send({
          to, kind: 'audit_forward_queue_full', subject: `Audit forwarding to ${sink} is failing`,
          text: `The audit sink "${sink}" has not accepted records for a while; ${unsentBytes} bytes wait on disk (nothing is dropped). Check the sink.
`,
        }).catch((err: Error) => log.error({ err: err.message }, 'audit forwarding alert not sent'));
      }
    },
    error: (sink, err) => log.warn({ sink, err: err.message }, 'audit forwarding: send failed; retrying'),
  });
  forwarder?.notify();

  let snap = buildSnapshot(config);
  const svc: Services = {
    log, requestLog, store, shared, identity, sessions, signer, audit, auditCheckpoints: checkpointer, metrics,
    pools: new UpstreamPools(),
    // The running config's branding: a reload shows the new name, logo and colours on the next page.
    renderer: createRenderer(VIEWS_DIR, () => snap.config.branding, { assetVersion: assets.version, ui: () => snap.config.ui }),
    staticAsset: assets,
    throttle: new Throttle(shared),
    factors, webauthn, notifier,
    ...(oidc ? { oidc } : {}),
    wouldChallenge: createWouldChallengeAggregator(audit, 60_000),
    stashes: createStashStore(shared, now),
    now,
    pages: new Map<string, PageHandler>(),
  };
  await registerPages(svc, config);

  await audit.write({ event: 'config.loaded', source: configPath });
  await checkpointer.checkpoint(); // the endpoint has one from the start
  const gateway = createGateway(svc, () => snap);
  const server = createHttpServer(config.server, gateway.handle, gateway.handleUpgrade);
  const { port } = await listen(server, o.listen ?? config.server.listen);
  // An optional operator listener (README "Operator endpoints"): metrics, healthz, readyz only.
  const adminServer = config.server.admin_listen ? createHttpServer(config.server, createAdminHandler(svc, () => snap)) : undefined;
  const adminPort = adminServer ? (await listen(adminServer, config.server.admin_listen!)).port : undefined;
  log.info({ listen: typeof o.listen === 'string' ? o.listen : config.server.listen, port, public_url: config.server.public_url }, 'gatehouse listening');

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
      checkpointer.stop();
      await checkpointer.checkpoint(); // the last head, signed, before the file closes
      await forwarder?.close();
      await Promise.allSettled([svc.pools.close(), audit.close(), shared.close(), store.close(), notifier.close?.()]);
      identity.close();
      requestLog.flush();
      clearInterval(resetPoll);
      log.flush();
    })();
    return closing;
  }

  return { server, port, adminPort, services: svc, current: () => snap, reload, close };
}

/** Passkeys need a domain name in public_url; with an IP address the gateway still runs, without them. */
function openWebAuthn(config: Config, store: Services['store'], shared: Services['shared'], log: pino.Logger): WebAuthnService {
  try {
    return createWebAuthn({ store, shared, rpName: config.factors.webauthn.rp_name, publicUrl: config.server.public_url });
  } catch (err) {
    log.warn({ reason: (err as Error).message }, 'passkeys and security keys are disabled');
    const off = async (): Promise<never> => { throw new Error('WebAuthn is disabled: public_url must use a domain name'); };
    return { rpId: '', origin: '', registrationOptions: off, authenticationOptions: off, finishRegistration: off, finishAuthentication: off, discoverableOptions: off, finishDiscoverable: off };
  }
}
