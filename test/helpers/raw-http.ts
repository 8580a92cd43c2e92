// One raw HTTP/1.1 exchange over a socket, so nothing on the client side
// normalizes the request target or the headers under test.

import { connect } from 'node:net';

export interface RawResponse { status: number; head: string; body: string }

/** Writes `head` (a complete request head; send Connection: close) and reads the whole answer. */
export function sendRaw(port: number, head: string, label = head.slice(0, head.indexOf('\r\n'))): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error(`timeout on ${label}`)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const h = end === -1 ? text : text.slice(0, end);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(h);
      if (!m) return reject(new Error(`no status line for ${label}: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(m[1]), head: h, body: end === -1 ? '' : text.slice(end + 4) });
    });
    socket.write(head);
  });
}

/** A GET with the given header lines (no Host added) and Connection: close. */
export function rawGet(port: number, target: string, headerLines: string[]): Promise<RawResponse> {
  return sendRaw(port, `GET ${target} HTTP/1.1\r\n${headerLines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`, `GET ${target}`);
}
