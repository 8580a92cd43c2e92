// Reads the small urlencoded (or JSON) bodies of the gateway's own forms,
// bounded in size and time. Anything else is refused before it is read.

import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function readBody(req: IncomingMessage, limit: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      req.resume();
      return reject(new BodyError(413, 'body too large'));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new BodyError(408, 'body timeout'));
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Discarded, not destroyed: the caller answers 413 (and closes) instead of the client seeing a reset.
        clearTimeout(timer);
        req.removeAllListeners('data');
        req.resume();
        chunks.length = 0;
        reject(new BodyError(413, 'body too large'));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(new BodyError(400, err.message));
    });
  });
}

/** Parses a urlencoded form. Each field: first value only, bounded length. */
export async function readForm(req: IncomingMessage, limit = 16_384): Promise<Record<string, string>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new BodyError(415, 'expected a form');
  const body = await readBody(req, limit);
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    if (!(k in out)) out[k] = v.slice(0, 4096);
  }
  return out;
}

export async function readJson(req: IncomingMessage, limit = 65_536): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new BodyError(415, 'expected JSON');
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BodyError(400, 'invalid JSON');
  }
}
