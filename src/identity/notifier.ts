// How the gateway reaches users: sign-in codes and security notices
// go through one Notifier, chosen by config `notifier.kind`.
//   file    — appends JSON lines to a file (development, demos, tests)
//   smtp    — email through an SMTP relay
//   webhook — POSTs JSON to an HTTP endpoint (SMS gateways, chat, ticketing)

import type { NotifierConfig } from '../config/types.ts';
import { createFileNotifier } from './notifier-file.ts';
import { createSmtpNotifier } from './notifier-smtp.ts';
import { createWebhookNotifier } from './notifier-webhook.ts';
import type { Notifier } from './outgoing-message.ts';

export type { Notifier, OutgoingMessage } from './outgoing-message.ts';

export function openNotifier(cfg: NotifierConfig): Notifier {
  switch (cfg.kind) {
    case 'file': return createFileNotifier(cfg);
    case 'smtp': return createSmtpNotifier(cfg);
    case 'webhook': return createWebhookNotifier(cfg);
    default: throw new TypeError(`unknown notifier kind: ${String((cfg as { kind: unknown }).kind)}`);
  }
}
