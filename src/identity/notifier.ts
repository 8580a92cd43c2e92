// How the gateway reaches users: sign-in codes and security notices
// go through one Notifier, chosen by config `notifier.kind`.
//   file    — appends JSON lines to a file (development, demos, tests)
//   smtp    — email through an SMTP relay
//   webhook — POSTs JSON to an HTTP endpoint (SMS gateways, chat, ticketing)

import type { NotifierConfig } from '../config/types.ts';
import { createFileNotifier } from './notifier-file.ts';
import { createSmtpNotifier } from './notifier-smtp.ts';
import { createWebhookNotifier } from './notifier-webhook.ts';

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
  kind: string;
  data?: Record<string, unknown>;
}

export interface Notifier {
  /** Resolves once the message is handed over; rejects when it was not. */
  send(msg: OutgoingMessage): Promise<void>;
  close?(): Promise<void>;
}

export function openNotifier(cfg: NotifierConfig): Notifier {
  switch (cfg.kind) {
    case 'file': return createFileNotifier(cfg);
    case 'smtp': return createSmtpNotifier(cfg);
    case 'webhook': return createWebhookNotifier(cfg);
    default: throw new TypeError(`unknown notifier kind: ${String((cfg as { kind: unknown }).kind)}`);
  }
}

/** Refuses a message no transport could deliver sensibly (bad input changes nothing). */
export function checkMessage(msg: OutgoingMessage): void {
  for (const key of ['to', 'subject', 'text', 'kind'] as const) {
    if (typeof msg?.[key] !== 'string' || msg[key] === '') throw new TypeError(`message ${key} is required`);
  }
  // A line break in an address would smuggle extra recipients or headers.
  if (/[\r\n]/.test(msg.to)) throw new TypeError('message recipient contains a line break');
}
