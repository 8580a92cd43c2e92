// audit: the tamper-evident audit log, its checkpoints and its forwarding.

import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { bool, byteSize, choice, duration, int, nonEmpty, obj, stringMap, type PropertiesOf } from '../schema-kit.ts';
import { secretValue } from '../secret-value.ts';
import { checkHeaderMap, checkHttpUrl, checkListen } from '../value-checks.ts';

export const AUDIT_SYNC = ['group', 'always'] as const;
export const AUDIT_HTTP_FORMATS = ['ndjson', 'splunk', 'elastic', 'loki'] as const;

const syslogSchema = obj({ address: nonEmpty, tls: bool, ca_file: nonEmpty, app_name: nonEmpty } satisfies PropertiesOf<AuditSyslogSink>, ['address']);
const httpSinkSchema = obj({ url: nonEmpty, url_file: nonEmpty, format: choice(AUDIT_HTTP_FORMATS), headers: stringMap } satisfies PropertiesOf<AuditHttpSink, 'url_file'>, ['url']);

export const auditSchema = obj({
  path: nonEmpty,
  max_bytes: byteSize,
  alert_email: nonEmpty,
  sync: choice(AUDIT_SYNC),
  key: nonEmpty,
  key_file: nonEmpty,
  checkpoint: obj({ lines: int(1), every: duration, webhook: nonEmpty, webhook_file: nonEmpty, email: bool } satisfies PropertiesOf<AuditCheckpointConfig, 'webhook_file'>),
  forward: obj({ queue_max: byteSize, retry_max: duration, syslog: syslogSchema, http: httpSinkSchema } satisfies PropertiesOf<AuditForwardConfig>),
} satisfies PropertiesOf<AuditConfig, 'key_file'>);

export interface AuditConfig {
  path: string;
  max_bytes: number;              // rotate past this size; default 64 MiB
  alert_email?: string;
  /** group: answers wait for a shared write + fdatasync (<= 5 ms batches); always: one per record. */
  sync: (typeof AUDIT_SYNC)[number];
  /** The chain's MAC key (32+ characters); a generated development key when unset (single-instance only). */
  key: string;
  checkpoint: AuditCheckpointConfig;
  forward: AuditForwardConfig;
}

export interface AuditCheckpointConfig {
  lines: number;                  // a checkpoint after this many records; default 1000
  every: Millis;                  // or after this long with new records; default 5m
  webhook?: string;               // POST each checkpoint here (JSON)
  email: boolean;                 // mail each checkpoint to audit.alert_email through the notifier
}

export interface AuditSyslogSink {
  address: string;                // host:port (TCP, RFC 5424 with octet-counting framing)
  tls: boolean;
  ca_file?: string;
  app_name: string;               // default gatehouse
}

export interface AuditHttpSink {
  url: string;
  format: (typeof AUDIT_HTTP_FORMATS)[number];
  headers: Record<string, string>;
}

export interface AuditForwardConfig {
  /** Unsent bytes past which an alert is raised (nothing is dropped: the audit files are the queue). */
  queue_max: number;
  retry_max: Millis;              // longest wait between retries; default 30s
  syslog?: AuditSyslogSink;
  http?: AuditHttpSink;
}

export function buildAudit(r: Reader, a: Obj, env: NodeJS.ProcessEnv): AuditConfig {
  const at = ['audit'];
  const alert_email = r.str(a, 'alert_email');
  if (alert_email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alert_email)) r.fail([...at, 'alert_email'], 'must be an email address');
  return {
    path: r.str(a, 'path') ?? 'data/audit.log',
    max_bytes: r.bytes(a, 'max_bytes', at, '64MiB'),
    ...(alert_email !== undefined ? { alert_email } : {}),
    sync: r.oneOf(a, 'sync', AUDIT_SYNC, 'group'),
    key: secretValue(r, a, 'key', at, env, 'GATEHOUSE_AUDIT_KEY'),
    checkpoint: buildCheckpoint(r, r.section(a, 'checkpoint'), alert_email),
    forward: buildForward(r, r.section(a, 'forward')),
  };
}

function buildCheckpoint(r: Reader, c: Obj, alertEmail: string | undefined): AuditCheckpointConfig {
  const at = ['audit', 'checkpoint'];
  const webhook = r.str(c, 'webhook');
  if (webhook !== undefined) checkHttpUrl(r, webhook, [...at, 'webhook'], { allowPath: true, allowQuery: true });
  const email = r.bool(c, 'email', false);
  if (email && alertEmail === undefined) r.fail([...at, 'email'], 'needs audit.alert_email to send checkpoints to');
  const every = r.duration(c, 'every', at, '5m');
  if (every < 1000 && c.every !== undefined) r.fail([...at, 'every'], 'must be at least 1s');
  return { lines: r.int(c, 'lines', 1000), every, ...(webhook !== undefined ? { webhook } : {}), email };
}

function buildForward(r: Reader, f: Obj): AuditForwardConfig {
  const at = ['audit', 'forward'];
  const forward: AuditForwardConfig = {
    queue_max: r.bytes(f, 'queue_max', at, '256MiB'),
    retry_max: r.duration(f, 'retry_max', at, '30s'),
  };
  if (f.syslog !== undefined) forward.syslog = buildSyslog(r, r.section(f, 'syslog'), [...at, 'syslog']);
  if (f.http !== undefined) {
    const h = r.section(f, 'http');
    const url = r.str(h, 'url') ?? '';
    checkHttpUrl(r, url, [...at, 'http', 'url'], { allowPath: true, allowQuery: true });
    const headers = checkHeaderMap(r, h, [...at, 'http']);
    forward.http = { url, format: r.oneOf(h, 'format', AUDIT_HTTP_FORMATS, 'ndjson'), headers };
  }
  return forward;
}

function buildSyslog(r: Reader, s: Obj, at: string[]): AuditSyslogSink {
  const address = r.str(s, 'address') ?? '';
  checkListen(r, address, [...at, 'address']);
  const ca_file = r.str(s, 'ca_file');
  const tls = r.bool(s, 'tls', false);
  if (ca_file !== undefined && !tls) r.fail([...at, 'ca_file'], 'only with tls: true');
  return { address, tls, ...(ca_file !== undefined ? { ca_file } : {}), app_name: r.str(s, 'app_name') ?? 'gatehouse' };
}
