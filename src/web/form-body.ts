// Reads request bodies bounded in size and time: the small urlencoded (or
// JSON) bodies of the gateway's own forms (anything else is refused before it
// is read), and the first bytes of a body the policy wants to see before
// deciding (readBodyPrefix: the rest stays in the stream, to be forwarded).

import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** What readBodyPrefix took of a body: all of it, or only its first bytes (the rest still in the paused request). */
export interface BodyPrefix {
  bytes: Buffer;
  complete: boolean;
}

const NOTHING = Buffer.alloc(0);

/**
 * Reads a body, or its first bytes when it turns out larger than `limit`: the
 * stream is then paused with the rest in it, so the caller can still forward
 * the exact body (these bytes, then the stream) or discard it. A body declared
 * larger (Content-Length) is not read at all. `start`: bytes taken from the
 * stream before (an earlier prefix), counted against the limit. `timeoutMs`
 * is the longest wait for the next bytes (server.body_timeout, as when a body
 * is streamed to the app): a slow but steady upload is not a stall.
 */
export function readBodyPrefix(req: IncomingMessage, limit: number, timeoutMs = 10_000, start: Buffer = NOTHING): Promise<BodyPrefix> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit || start.length > limit) return resolve({ bytes: start, complete: false });
    if (req.readableEnded) return resolve({ bytes: start, complete: true });
    const chunks: Buffer[] = start.length > 0 ? [start] : [];
    let size = start.length;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const timer = setTimeout(() => {
      done();
      req.destroy();
      reject(new BodyError(408, 'body timeout'));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      timer.refresh();
      chunks.push(c);
      size += c.length;
      if (size <= limit) return;
      done();
      req.pause();
      resolve({ bytes: Buffer.concat(chunks), complete: false });
    };
    const onEnd = () => {
      done();
      resolve({ bytes: Buffer.concat(chunks), complete: true });
    };
    const onError = (err: Error) => {
      done();
      reject(new BodyError(400, err.message));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    // A stream paused by an earlier prefix read does not flow again by itself.
    req.resume();
  });
}

/**
 * Reads a whole body of at most `limit` bytes; a larger one is left in the paused
 * stream (not destroyed: the caller answers 413, and the answer discards the
 * rest within bounds, web/discard-body.ts).
 */
export async function readBody(req: IncomingMessage, limit: number, timeoutMs = 10_000, start: Buffer = NOTHING): Promise<Buffer> {
  const got = await readBodyPrefix(req, limit, timeoutMs, start);
  if (got.complete) return got.bytes;
  throw new BodyError(413, 'body too large');
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
