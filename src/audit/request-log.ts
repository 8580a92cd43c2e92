// The decision log line, one per request. It is the hottest log
// call there is, and measured here pino's generic serializer (~5 µs) plus a
// write per line cost more than the proxying itself. So each line is
// JSON.stringify of a fixed-shape object (~0.8 µs), and lines leave in
// batches, one write each. The line has pino's shape (level,
// time, svc, msg) so log tooling sees one format.

import type { Logger } from 'pino';

export interface RequestLogLine {
  req_id: string;
  ip: string;
  method: string | undefined;
  path: string;
  route: string | undefined;
  user: string | undefined;
  rule: string | undefined;
  decision: string | undefined;
  reason: string | undefined;
  status: number;
  bytes: number;
  ms: number;
  upgrade?: string;
}

export interface RequestLog {
  write(line: RequestLogLine): void;
  /** Writes what is pending now (shutdown). */
  flush(): void;
}

const INFO = 30;
// Lines leave in one write every 20 ms (or every 256 lines): a handful of syscalls a second under load.
const FLUSH_MS = 20;
const MAX_PENDING = 256;

export function createRequestLog(log: Logger, dest: { write(s: string): unknown }, svc = 'gatehouse'): RequestLog {
  const pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    dest.write(`${pending.join('\n')}\n`);
    pending.length = 0;
  };
  return {
    write(l) {
      if (!log.isLevelEnabled('info')) return;
      // A literal of fixed shape (no spread): V8 keeps one hidden class and a fast stringify path.
      pending.push(JSON.stringify({
        level: INFO, time: Date.now(), svc, req_id: l.req_id, ip: l.ip, method: l.method, path: l.path, route: l.route,
        user: l.user, rule: l.rule, decision: l.decision, reason: l.reason, status: l.status, bytes: l.bytes, ms: l.ms,
        upgrade: l.upgrade, msg: 'request',
      }));
      if (pending.length >= MAX_PENDING) flush();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flush, FLUSH_MS).unref();
      }
    },
    flush,
  };
}
