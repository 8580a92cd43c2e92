// The syslog sink: RFC 5424 messages over one TCP (or TLS) connection, framed
// by octet counting (RFC 6587), as rsyslog's imtcp, syslog-ng and most SIEM
// collectors accept. Each message carries one audit record as its MSG, the
// instance as HOSTNAME and the event name as MSGID; facility authpriv,
// severity warning for failures and lockouts, notice otherwise.
//
// TCP has no application acknowledgement: a batch counts as sent once the
// kernel took it on a connection that was open. A collector that dies may not
// have read (or stored) what it was sent last, so when a connection that was
// sent on drops, the forwarder sends the last UNCONFIRMED_MS of records again:
// a collector restart can repeat records (same instance + seq), never lose them
// (unless it was down for longer after reading them without storing them).
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { AuditSyslogSink } from '../config/types.ts';
import type { AuditSink } from './forward.ts';

const AUTHPRIV = 10;
const WARNING = 4;
const NOTICE = 5;
const CONNECT_TIMEOUT_MS = 5_000;
const UNCONFIRMED_MS = 2_000;

/** RFC 5424 severity for an event name. */
function severity(event: string): number {
  return /failure|failed|lockout|rejected|dropped|recovered|queue_full/.test(event) ? WARNING : NOTICE;
}

/** One RFC 5424 message (without framing) for an audit line. */
export function syslogMessage(line: string, appName: string, fallbackHost: string): string {
  let record: { ts?: unknown; instance?: unknown; event?: unknown } = {};
  try {
    record = JSON.parse(line) as typeof record;
  } catch { /* sent as is, with the fallback header fields */ }
  const event = typeof record.event === 'string' ? record.event : 'audit';
  const ts = typeof record.ts === 'string' ? record.ts : new Date().toISOString();
  const host = typeof record.instance === 'string' ? record.instance : fallbackHost;
  const field = (s: string, max: number) => (s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-');
  return `<${AUTHPRIV * 8 + severity(event)}>1 ${ts} ${field(host, 255)} ${field(appName, 48)} - ${field(event, 32)} - ${line}`;
}

export function createSyslogSink(cfg: AuditSyslogSink, fallbackHost: string): AuditSink {
  const i = cfg.address.lastIndexOf(':');
  const host = cfg.address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(cfg.address.slice(i + 1));
  const ca = cfg.ca_file ? readFileSync(cfg.ca_file) : undefined;
  let socket: Socket | undefined;
  let open = false;
  let closing = false;
  const lost: (() => void)[] = [];

  function connect(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s: Socket = cfg.tls ? tlsConnect({ host, port, servername: host, ...(ca ? { ca } : {}) }) : tcpConnect({ host, port });
      const ready = cfg.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => s.destroy(new Error(`syslog ${cfg.address}: connect timed out`)), CONNECT_TIMEOUT_MS);
      s.once(ready, () => {
        clearTimeout(timer);
        open = true;
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      // A collector that closes (shutdown, restart) is noticed before the next send.
      s.on('end', () => { open = false; s.destroy(); });
      s.on('close', () => {
        open = false;
        if (socket === s) socket = undefined;
        if (!closing && s.bytesWritten > 0) for (const l of lost) l();
      });
      s.on('error', () => { open = false; });
      s.on('data', () => { /* collectors send nothing; drain anyway */ });
    });
  }

  return {
    name: 'syslog',
    async send(lines) {
      if (!socket || !open || socket.destroyed) socket = await connect();
      const s = socket;
      const frames = lines.map((l) => {
        const msg = syslogMessage(l, cfg.app_name, fallbackHost);
        return `${Buffer.byteLength(msg, 'latin1')} ${msg}`;
      }).join('');
      await new Promise<void>((resolve, reject) => {
        s.write(frames, 'latin1', (err) => (err ? reject(err) : open ? resolve() : reject(new Error(`syslog ${cfg.address}: connection closed`))));
      });
    },
    close() {
      closing = true;
      socket?.end();
      socket = undefined;
    },
    onLost(listener) {
      lost.push(listener);
    },
    unconfirmedMs: UNCONFIRMED_MS,
  };
}
