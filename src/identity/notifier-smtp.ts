// SMTP notifier: plain-text email through a relay named by a URL.
// smtp://[user:pass@]host[:port] uses STARTTLS when the server offers it;
// smtps://… is TLS from the first byte (`secure`).

import { createRequire } from 'node:module';
import { checkMessage, type Notifier } from './outgoing-message.ts';

const CONNECTION_TIMEOUT_MS = 10_000;
const GREETING_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

export interface SmtpTarget {
  host: string;
  port?: number;
  secure: boolean;
  auth?: { user: string; pass: string };
}

/** Pure: the connection settings in an smtp:// or smtps:// URL. */
export function parseSmtpUrl(url: string): SmtpTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError('notifier.url is not a URL (expected smtp://host:port or smtps://host:port)');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new TypeError(`notifier.url must be smtp:// or smtps://, got ${u.protocol}//`);
  if (u.hostname === '') throw new TypeError('notifier.url has no host');
  const target: SmtpTarget = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), secure: u.protocol === 'smtps:' };
  if (u.port !== '') target.port = Number(u.port);
  if (u.username !== '') target.auth = { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
  return target;
}

export function createSmtpNotifier(cfg: { url: string; from: string }): Notifier {
  const target = parseSmtpUrl(cfg.url);
  if (typeof cfg.from !== 'string' || cfg.from === '') throw new TypeError('notifier.from is required for smtp');
  // Loaded here, not at the top: a gateway without SMTP never pays for nodemailer at start-up.
  const { createTransport } = createRequire(import.meta.url)('nodemailer') as typeof import('nodemailer');
  const transport = createTransport({
    ...target,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });

  return {
    async send(msg) {
      checkMessage(msg);
      await transport.sendMail({ from: cfg.from, to: msg.to, subject: msg.subject, text: msg.text });
    },
    async close() {
      transport.close();
    },
  };
}
