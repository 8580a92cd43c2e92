// A worker's end of the IPC channel: calls to the primary with their answers
// matched by id, and the primary's pushes handed to whoever listens. A call the
// primary does not answer in time (or a channel that is gone) rejects, so the
// caller fails closed as it would with Redis down.

import type { Call, ToPrimary, ToWorker } from './messages.ts';
import { isOurs } from './messages.ts';

/** Long enough for an audit batch's fdatasync on a slow disk. */
const CALL_TIMEOUT_MS = 10_000;

/** `process` in a worker; a stand-in in unit tests. */
export interface Channel {
  send(message: ToPrimary, callback?: (err: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

type Push = Exclude<ToWorker, { gh: 'reply' }>;
type PushHandler<K extends Push['gh']> = (m: Extract<Push, { gh: K }>) => void;

interface Pending { resolve(value: unknown): void; reject(err: Error): void; timer: NodeJS.Timeout }

export class PrimaryLink {
  readonly #channel: Channel;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<string, (m: Push) => void>();
  #next = 0;

  constructor(channel: Channel, timeoutMs = CALL_TIMEOUT_MS) {
    this.#channel = channel;
    this.#timeoutMs = timeoutMs;
    channel.on('message', (m) => this.#receive(m));
  }

  call(call: Call): Promise<unknown> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(id, new Error(`the primary process did not answer (${call.op}) within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        this.#channel.send({ gh: 'call', id, call }, (err) => { if (err) this.#settle(id, err); });
      } catch (err) {
        this.#settle(id, err as Error);
      }
    });
  }

  /** One handler per kind of push. */
  on<K extends Push['gh']>(kind: K, handler: PushHandler<K>): void {
    this.#handlers.set(kind, handler as (m: Push) => void);
  }

  send(message: ToPrimary): void {
    this.#channel.send(message);
  }

  #settle(id: number, err: Error | undefined, value?: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  #receive(m: unknown): void {
    if (!isOurs<ToWorker>(m)) return;
    if (m.gh === 'reply') {
      this.#settle(m.id, m.ok ? undefined : new Error(m.error), m.ok ? m.value : undefined);
      return;
    }
    this.#handlers.get(m.gh)?.(m);
  }
}
