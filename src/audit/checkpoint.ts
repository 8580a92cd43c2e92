// Signed checkpoints of the audit chain: every N records or M seconds the head
// (seq and hash of the last durable record) is signed with the identity-assertion
// key (ES256, the key set served at /.gatehouse/jwks.json), written into the
// chain as an `audit.checkpoint` record, and handed to `publish` (the operator
// endpoint, a webhook, the alert mailbox). A copy kept outside the gateway's
// disk is what catches records cut off the end of a log: `gatehouse audit verify
// --checkpoint` requires the chain to reach the checkpoint's seq with its hash.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import type { ChainHead } from './chain.ts';
import type { AuditEvent } from './events.ts';

/** What is published: the signed head of one instance's chain. */
export interface Checkpoint {
  readonly instance: string;
  readonly seq: number;
  readonly hash: string;
  readonly ts: string;
  readonly kid: string;
  /** Compact JWS (ES256) over {typ, instance, seq, hash, ts}. */
  readonly jws: string;
}

export const CHECKPOINT_TYP = 'gatehouse-audit-checkpoint';

export interface CheckpointSigner {
  /** Signs a JSON payload as a compact ES256 JWS; returns the key id used. */
  signJws(payload: Record<string, unknown>, typ: string): { kid: string; jws: string };
}

export interface CheckpointerOptions {
  log: { write(event: AuditEvent): Promise<void>; readonly head: ChainHead };
  signer: CheckpointSigner;
  instance: string;
  /** A checkpoint once this many records followed the last one. */
  lines: number;
  /** Or once this long passed with new records. */
  everyMs: number;
  now?: () => Date;
  publish: (cp: Checkpoint) => void;
  onError: (err: Error) => void;
}

export interface Checkpointer {
  /** The newest checkpoint written (and published) by this process. */
  latest(): Checkpoint | undefined;
  /** Tell it a batch reached the disk; it checkpoints when `lines` records have gathered. */
  flushed(head: ChainHead): void;
  /** Checkpoints the current head now (start-up, shutdown, tests). */
  checkpoint(): Promise<Checkpoint | undefined>;
  stop(): void;
}

export function createCheckpointer(o: CheckpointerOptions): Checkpointer {
  const now = o.now ?? (() => new Date());
  let latest: Checkpoint | undefined;
  let lastSeq = 0; // the seq of our last checkpoint record
  let running: Promise<Checkpoint | undefined> | undefined;

  async function take(): Promise<Checkpoint | undefined> {
    const head = o.log.head;
    if (head.seq === 0 || head.seq === lastSeq) return latest; // nothing new since the last one
    const ts = now().toISOString();
    const { kid, jws } = o.signer.signJws({ instance: o.instance, seq: head.seq, hash: head.hash, ts }, CHECKPOINT_TYP);
    const write = o.log.write({ event: 'audit.checkpoint', at_seq: head.seq, at_hash: head.hash, kid, jws });
    lastSeq = head.seq + 1; // the checkpoint record itself
    await write;
    latest = { instance: o.instance, seq: head.seq, hash: head.hash, ts, kid, jws };
    o.publish(latest);
    return latest;
  }

  function checkpoint(): Promise<Checkpoint | undefined> {
    running ??= take()
      .catch((err: Error) => { o.onError(err); return undefined; })
      .finally(() => { running = undefined; });
    return running;
  }

  const timer = setInterval(() => void checkpoint(), o.everyMs);
  timer.unref();

  return {
    latest: () => latest,
    flushed(head) {
      if (head.seq - lastSeq >= o.lines) void checkpoint();
    },
    checkpoint,
    stop: () => clearInterval(timer),
  };
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Reads a published checkpoint (JSON); throws with a reason when it is not one. */
export function parseCheckpoint(text: string): Checkpoint {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  const c = v as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) throw new Error('not a JSON object');
  if (typeof c.instance !== 'string') throw new Error('instance missing');
  if (typeof c.seq !== 'number' || !Number.isSafeInteger(c.seq) || c.seq < 1) throw new Error('seq is not a positive integer');
  if (typeof c.hash !== 'string' || !/^[0-9a-f]{64}$/.test(c.hash)) throw new Error('hash is not a SHA-256 hex digest');
  if (typeof c.ts !== 'string' || typeof c.kid !== 'string' || typeof c.jws !== 'string') throw new Error('ts, kid or jws missing');
  return { instance: c.instance, seq: c.seq, hash: c.hash, ts: c.ts, kid: c.kid, jws: c.jws };
}

/**
 * Checks the checkpoint's signature against a JWKS and that the signed payload
 * says what the checkpoint says. Returns undefined when it holds, else why not.
 */
export function checkpointSignatureProblem(cp: Checkpoint, jwks: { keys?: unknown[] }): string | undefined {
  const parts = cp.jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return 'jws is not a compact JWS';
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return 'jws header or payload is not JSON';
  }
  if (header.alg !== 'ES256' || header.typ !== CHECKPOINT_TYP) return 'jws is not an ES256 audit checkpoint';
  const jwk = (jwks.keys ?? []).find((k) => (k as { kid?: unknown }).kid === header.kid);
  if (jwk === undefined) return `signing key ${String(header.kid)} is not in the key set (retired more than 7 days ago, or not this gateway's)`;
  let ok = false;
  try {
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    ok = verifySignature('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
  } catch (err) {
    return `cannot check the signature: ${(err as Error).message}`;
  }
  if (!ok) return 'signature does not verify';
  if (payload.instance !== cp.instance || payload.seq !== cp.seq || payload.hash !== cp.hash || payload.ts !== cp.ts) {
    return 'the signed payload differs from the checkpoint';
  }
  return undefined;
}
