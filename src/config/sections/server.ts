// server: the listeners, the public origin, proxies and request limits.

import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { byteSize, choice, duration, int, nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';
import { checkListen, normalizeCidr, normalizeOrigin } from '../value-checks.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const serverSchema = obj({
  listen: nonEmpty,
  public_url: nonEmpty,
  trusted_proxies: strList,
  header_timeout: duration,
  body_timeout: duration,
  keep_alive_timeout: duration,
  max_header_bytes: byteSize,
  max_header_count: int(1),
  max_body_bytes: byteSize,
  shutdown_timeout: duration,
  metrics_allow: strList,
  admin_listen: nonEmpty,
  metrics_listen: nonEmpty,
  instance_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', errorHint: 'must be 1-64 letters, digits, dots, dashes or underscores' },
  log_level: choice(LOG_LEVELS),
  workers: { type: ['integer', 'string'] },
} satisfies PropertiesOf<ServerConfig, 'metrics_listen'>);

export interface ServerConfig {
  listen: string;                 // host:port, e.g. 127.0.0.1:8080
  public_url: string;             // origin users see (no trailing slash)
  trusted_proxies: string[];      // CIDRs (IPv4 or IPv6); a bare address is a /32 or /128
  header_timeout: Millis;         // default 10s
  body_timeout: Millis;           // a request body that stalls this long is cut off; default 10s
  keep_alive_timeout: Millis;     // default 5s
  max_header_bytes: number;       // default 16384
  max_header_count: number;       // default 100
  max_body_bytes: number;         // default 1 GiB (0 = unlimited)
  shutdown_timeout: Millis;       // default 10s
  /** CIDRs whose resolved client address may read /.gatehouse/metrics on the public listener; default loopback. */
  metrics_allow: string[];
  /** Optional second listener (host:port) serving only the operator endpoints (metrics, healthz, readyz). */
  admin_listen?: string;
  log_level: LogLevel;            // default info
  /** Names this instance in every audit line (one chain per instance); default the host name. */
  instance_id: string;
  /** Processes serving requests: a number, or auto (one per core); default 1 (src/cluster/). */
  workers: number | 'auto';
}

/** More workers than this is a typo, not a machine. */
export const MAX_WORKERS = 64;

/** Loopback: a scraper on the gateway's own host (README "Operator endpoints"). */
const DEFAULT_METRICS_ALLOW = ['127.0.0.0/8', '::1'];

export function buildServer(r: Reader, s: Obj, warnings: string[]): ServerConfig {
  const at = ['server'];
  const listen = r.str(s, 'listen') ?? '127.0.0.1:8080';
  checkListen(r, listen, [...at, 'listen']);
  const admin_listen = adminListen(r, s, warnings);
  const public_url = normalizeOrigin(r, r.str(s, 'public_url') ?? 'http://localhost:8080', [...at, 'public_url']);
  const publicHost = URL.parse(public_url)?.hostname.replace(/^\[(.*)\]$/, '$1') ?? '';
  // Browsers refuse WebAuthn on an IP address; the gateway then runs without passkeys (src/app.ts).
  if (isIP(publicHost)) warnings.push(`server.public_url ${public_url} is an IP address: passkeys and security keys are off (WebAuthn needs a domain name; localhost works for testing)`);
  const trusted_proxies = (r.list(s, 'trusted_proxies') ?? []).map((c, i) => normalizeCidr(r, c, [...at, 'trusted_proxies', i]));
  const metrics_allow = (r.list(s, 'metrics_allow') ?? DEFAULT_METRICS_ALLOW).map((c, i) => normalizeCidr(r, c, [...at, 'metrics_allow', i]));
  return {
    listen,
    public_url,
    trusted_proxies,
    metrics_allow,
    header_timeout: r.duration(s, 'header_timeout', at, '10s'),
    body_timeout: r.duration(s, 'body_timeout', at, '10s'),
    keep_alive_timeout: r.duration(s, 'keep_alive_timeout', at, '5s'),
    max_header_bytes: r.bytes(s, 'max_header_bytes', at, '16384'),
    max_header_count: r.int(s, 'max_header_count', 100),
    max_body_bytes: r.bytes(s, 'max_body_bytes', at, '1GiB'),
    shutdown_timeout: r.duration(s, 'shutdown_timeout', at, '10s'),
    ...(admin_listen !== undefined ? { admin_listen } : {}),
    log_level: r.oneOf(s, 'log_level', LOG_LEVELS, 'info'),
    instance_id: r.str(s, 'instance_id') ?? defaultInstanceId(),
    workers: workers(r, s.workers, [...at, 'workers']),
  };
}

/** server.workers: a whole number from 1 to MAX_WORKERS, or `auto`. */
function workers(r: Reader, v: unknown, at: string[]): number | 'auto' {
  if (v === undefined || v === 'auto') return v ?? 1;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_WORKERS) return v;
  if (typeof v !== 'number' && typeof v !== 'string') return 1; // the schema reports the type
  r.fail(at, `must be a whole number from 1 to ${MAX_WORKERS}, or auto`);
  return 1;
}

/** The host name, trimmed to what server.instance_id accepts. */
function defaultInstanceId(): string {
  return hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'gatehouse';
}

/** server.admin_listen; `metrics_listen`, its earlier name, is still read (with a warning). */
function adminListen(r: Reader, s: Obj, warnings: string[]): string | undefined {
  const at = ['server'];
  const admin = r.str(s, 'admin_listen');
  const old = r.str(s, 'metrics_listen');
  if (admin !== undefined) checkListen(r, admin, [...at, 'admin_listen']);
  if (old !== undefined) {
    checkListen(r, old, [...at, 'metrics_listen']);
    warnings.push(admin === undefined
      ? 'server.metrics_listen is now called server.admin_listen (it also serves healthz and readyz): rename it'
      : 'server.metrics_listen is ignored because server.admin_listen is set');
  }
  return admin ?? old;
}
