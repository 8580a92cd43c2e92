// File notifier: one JSON line per message, appended to a file (the dev
// "outbox"). Writes are queued so lines never interleave and keep their order.

import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checkMessage, type Notifier } from './outgoing-message.ts';

export function createFileNotifier(cfg: { path: string }, now: () => number = Date.now): Notifier {
  if (typeof cfg.path !== 'string' || cfg.path === '') throw new TypeError('notifier.path is required');
  let dirReady: Promise<unknown> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  return {
    send(msg) {
      try {
        checkMessage(msg);
      } catch (err) {
        return Promise.reject(err);
      }
      const line = `${JSON.stringify({ ts: new Date(now()).toISOString(), to: msg.to, subject: msg.subject, text: msg.text, kind: msg.kind })}\n`;
      const write = queue.then(async () => {
        dirReady ??= mkdir(dirname(cfg.path), { recursive: true });
        await dirReady;
        await appendFile(cfg.path, line, { mode: 0o600 });
      });
      // A failed write fails its own send only, not the ones queued after it.
      queue = write.catch(() => undefined);
      return write;
    },
  };
}
