// A deliberately lenient legacy upstream on a raw socket: it records every byte
// it receives, reads requests back to back on a kept-alive connection (the next
// request starts right after the previous head and its Content-Length or
// chunked body; `body` is the decoded body), and
// answers each with whatever `answer` returns. Tests assert on `bytes()`: what
// reached the upstream, not what the gateway claims it sent.

import { createServer, type Socket } from 'node:net';

export interface LenientRequest {
  /** The request line and header lines, exactly as received (latin1). */
  head: string;
  method: string;
  target: string;
  /** Header lines as [name, value], names as sent. */
  headers: [string, string][];
  header(name: string): string | undefined;
  body: string;
}

export interface LenientUpstream {
  port: number;
  origin: string;
  /** Every byte received on every connection, in arrival order (latin1). */
  bytes(): string;
  requests: LenientRequest[];
  close(): Promise<void>;
}

/** The answer to one request: raw bytes to write; `then: 'echo'` turns the connection into an echo pipe after writing. */
export type LenientAnswer = string | { raw: string; then?: 'echo' };

function parse(head: string, body: string): LenientRequest {
  const lines = head.split('\r\n');
  const [method = '', target = ''] = lines[0].split(' ');
  const headers = lines.slice(1).map((l): [string, string] => {
    const colon = l.indexOf(':');
    return colon === -1 ? [l, ''] : [l.slice(0, colon), l.slice(colon + 1).trim()];
  });
  return {
    head, method, target, headers, body,
    header: (name) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1],
  };
}

/** A Content-Length body starting at `from`; null while incomplete. */
function contentLength(buf: string, head: string, from: number): { body: string; next: number } | null {
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  return buf.length < from + length ? null : { body: buf.slice(from, from + length), next: from + length };
}

/** A chunked body starting at `from`, decoded (no trailers); null while incomplete. */
function dechunk(buf: string, from: number): { body: string; next: number } | null {
  let pos = from;
  let body = '';
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol === -1) return null;
    const size = parseInt(buf.slice(pos, eol).split(';')[0], 16);
    if (size === 0) return buf.startsWith('\r\n', eol + 2) ? { body, next: eol + 4 } : null;
    if (buf.length < eol + 2 + size + 2) return null;
    body += buf.slice(eol + 2, eol + 2 + size);
    pos = eol + 2 + size + 2;
  }
}

export function plainAnswer(status: number, reason: string, body: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries({ 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(body)), ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${reason}\r\n${lines}\r\n${body}`;
}

export async function startLenientUpstream(answer: (r: LenientRequest) => LenientAnswer): Promise<LenientUpstream> {
  const received: string[] = [];
  const requests: LenientRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = '';
    let echo = false;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      received.push(text);
      if (echo) {
        socket.write(chunk);
        return;
      }
      buf += text;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        const framed = /\r\ntransfer-encoding:\s*chunked/i.test(head) ? dechunk(buf, end + 4) : contentLength(buf, head, end + 4);
        if (framed === null) return;
        const req = parse(head, framed.body);
        buf = buf.slice(framed.next);
        requests.push(req);
        const a = answer(req);
        socket.write(typeof a === 'string' ? a : a.raw, 'latin1');
        if (typeof a !== 'string' && a.then === 'echo') {
          echo = true;
          if (buf) socket.write(buf, 'latin1');
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    bytes: () => received.join(''),
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
