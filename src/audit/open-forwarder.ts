// Builds the SIEM forwarder from the config's audit.forward section (none when
// no sink is configured).
import type { Config } from '../config/types.ts';
import type { AuditLog } from './audit-log.ts';
import { createForwarder, type AuditSink, type Forwarder } from './forward.ts';
import { createHttpSink } from './sink-http.ts';
import { createSyslogSink } from './sink-syslog.ts';

export function openForwarder(
  config: Pick<Config, 'audit' | 'server'>,
  audit: Pick<AuditLog, 'durableHead'>,
  on: { queueFull(sink: string, unsentBytes: number): void; error(sink: string, err: Error): void },
): Forwarder | undefined {
  const f = config.audit.forward;
  const instance = config.server.instance_id;
  const sinks: AuditSink[] = [];
  if (f.syslog) sinks.push(createSyslogSink(f.syslog, instance));
  if (f.http) sinks.push(createHttpSink(f.http, instance));
  if (sinks.length === 0) return undefined;
  return createForwarder({
    path: config.audit.path, sinks, durableSeq: () => audit.durableHead.seq,
    queueMax: f.queue_max, retryMaxMs: f.retry_max, onQueueFull: on.queueFull, onError: on.error,
  });
}
