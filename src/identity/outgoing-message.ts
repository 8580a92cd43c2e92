// What a notifier sends and what every transport (notifier-*.ts) checks
// before sending; notifier.ts picks the transport.

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

/** Refuses a message no transport could deliver sensibly (bad input changes nothing). */
export function checkMessage(msg: OutgoingMessage): void {
  for (const key of ['to', 'subject', 'text', 'kind'] as const) {
    if (typeof msg?.[key] !== 'string' || msg[key] === '') throw new TypeError(`message ${key} is required`);
  }
  // A line break in an address would smuggle extra recipients or headers.
  if (/[\r\n]/.test(msg.to)) throw new TypeError('message recipient contains a line break');
}
