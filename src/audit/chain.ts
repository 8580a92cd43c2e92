// The audit log's line format and hash chain. Pure: no files, no clock.
//
// One record per line, ASCII only, fields in a fixed order:
//
//   {"seq":N,"ts":"ISO","instance":"id","prev":"<hex>","event":"name",...event fields,"hash":"<hex>","mac":"<hex>"}
//
// `hash` is the SHA-256 of the line's bytes without its trailing `,"hash":"…"`
// member (the same text closed with `}`), and `prev` is the previous record's
// `hash`. So a record seals its own content (an edit is reported on the edited
// line, the last line included) and links to its predecessor (a deletion, an
// insertion or a swap breaks the `seq`/`prev` link on the line where it happens).
// The first record of a chain has `prev` = 64 zeros and `seq` 1; the first record
// of a rotated-in file is an `audit.rotated` record that names its predecessor
// file in `file_prev` and links to that file's last hash.
//
// `instance` names the gateway instance that wrote the chain (one chain per
// instance). `mac` is HMAC-SHA256 of `hash` under the audit key (see
// deriveAuditMacKey): the hashes alone prove only that nobody edited the file by
// hand, since whoever can write the file can recompute every hash after an edit;
// the MACs cannot be recomputed without the key. Lines written before a key was
// configured have no `mac`, and a verifier holding the key refuses them.
// Lines cut off the end leave a valid chain: that is caught against a head
// recorded elsewhere (signed checkpoints, see checkpoint.ts, or `--anchor`).
//
// A crash can leave the final line without its newline (part of a batch reached
// the disk). Such a tail is not tampering: it is reported as a warning and not
// counted, and the writer cuts it off before it appends again. An unterminated
// piece anywhere else cannot happen (the writer removes it first), so it fails as
// bad JSON on the following line.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const ZERO_HASH = '0'.repeat(64);

/** Where a chain stands: the hash and seq of its last record. */
export interface ChainHead {
  readonly hash: string;
  readonly seq: number;
}

/** The head before the first record of a new chain. */
export const CHAIN_ORIGIN: ChainHead = { hash: ZERO_HASH, seq: 0 };

/** Anything with an `event` name; its other own fields follow in insertion order. */
export interface EventLike {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface ParsedRecord {
  readonly seq: number;
  readonly ts: string;
  readonly prev: string;
  readonly hash: string;
  readonly event: string;
  /** HMAC of `hash` under the audit key; absent on lines written without a key. */
  readonly mac?: string;
  /** The writing instance; absent on lines written before instances were named. */
  readonly instance?: string;
  /** The whole decoded record (including seq, ts, prev, hash, event). */
  readonly fields: Readonly<Record<string, unknown>>;
}

export type ChainBreak = { readonly ok: false; readonly line: number; readonly reason: string };
export type ChainOk = {
  readonly ok: true;
  readonly last: ChainHead;
  /** Complete records checked. */
  readonly count: number;
  /** Not tampering, but worth saying (a truncated tail after a crash). */
  readonly warnings: readonly string[];
};
export type ChainResult = ChainOk | ChainBreak;

const RESERVED = new Set(['seq', 'ts', 'instance', 'prev', 'hash', 'mac']);
const HEX64 = /^[0-9a-f]{64}$/;
const SEAL = /,"hash":"([0-9a-f]{64})"(?:,"mac":"([0-9a-f]{64})")?\}$/;
const MAC_INFO = 'gatehouse audit chain mac v1';

/**
 * The MAC key for the chain, derived from the configured audit key (any string
 * of 32+ characters), so the configured secret itself is never used directly.
 */
export function deriveAuditMacKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), MAC_INFO, 32));
}

export function macOf(key: Buffer, hash: string): string {
  return createHmac('sha256', key).update(hash, 'latin1').digest('hex');
}

/** How a chain is written: which instance, and under which key (none: unkeyed, structure only). */
export interface ChainWriter {
  readonly instance?: string;
  readonly macKey?: Buffer;
}
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'latin1').digest('hex');
}

/** JSON with every non-ASCII character escaped, so a line's text is its bytes. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * Formats one record (without its newline) and returns it with its hash, which
 * the next record's `prev` must carry. Throws on an event field named like a
 * chain field (seq, ts, prev, hash) or on a value JSON cannot hold.
 */
export function formatLine(prevHash: string, seq: number, ts: string, event: EventLike, writer: ChainWriter = {}): { line: string; hash: string } {
  if (!HEX64.test(prevHash)) throw new Error(`audit: prev hash must be 64 lowercase hex digits, got ${JSON.stringify(prevHash)}`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`audit: seq must be a positive integer, got ${seq}`);
  if (typeof event.event !== 'string' || event.event === '') throw new Error('audit: event name must be a non-empty string');
  const record: Record<string, unknown> = { seq, ts };
  if (writer.instance !== undefined) record.instance = writer.instance;
  record.prev = prevHash;
  record.event = event.event;
  for (const [key, value] of Object.entries(event)) {
    if (key === 'event') continue;
    if (RESERVED.has(key)) throw new Error(`audit: event field "${key}" is reserved for the chain`);
    record[key] = value;
  }
  const body = asciiJson(record);
  const hash = sha256Hex(body);
  const mac = writer.macKey ? `,"mac":"${macOf(writer.macKey, hash)}"` : '';
  return { line: `${body.slice(0, -1)},"hash":"${hash}"${mac}}`, hash };
}

/** Checks one line on its own: well-formed, and its content matches its seal. */
export function parseRecord(line: string): { ok: true; record: ParsedRecord } | { ok: false; reason: string } {
  if (NOT_PRINTABLE_ASCII.test(line)) return { ok: false, reason: 'bad bytes: a record is printable ASCII only' };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: line === '' ? 'bad JSON: empty line' : 'bad JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'bad JSON: not an object' };
  const fields = value as Record<string, unknown>;
  const { seq, ts, prev, hash, event, mac, instance } = fields;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return { ok: false, reason: 'bad record: seq is not a positive integer' };
  if (typeof ts !== 'string') return { ok: false, reason: 'bad record: ts is missing' };
  if (typeof prev !== 'string' || !HEX64.test(prev)) return { ok: false, reason: 'bad record: prev is not a SHA-256 hex digest' };
  if (typeof event !== 'string' || event === '') return { ok: false, reason: 'bad record: event is missing' };
  const seal = SEAL.exec(line);
  if (seal === null || hash !== seal[1] || (seal[2] !== undefined && mac !== seal[2])) return { ok: false, reason: 'bad record: hash (and mac) are not the last fields' };
  if (!line.startsWith('{"seq":')) return { ok: false, reason: 'bad record: fields out of order' };
  if (instance !== undefined && typeof instance !== 'string') return { ok: false, reason: 'bad record: instance is not a string' };
  if (sha256Hex(line.slice(0, seal.index) + '}') !== hash) return { ok: false, reason: 'content does not match its hash (line edited)' };
  return { ok: true, record: { seq, ts, prev, hash, event, fields, ...(seal[2] !== undefined ? { mac: seal[2] } : {}), ...(instance !== undefined ? { instance } : {}) } };
}

/**
 * The head a file's first record continues from: the origin for the first file
 * of a chain, or the predecessor's head claimed by an `audit.rotated` record.
 * Used when a file is verified without its predecessors.
 */
export function claimedStart(firstLine: string): { ok: true; start: ChainHead; filePrev?: string } | { ok: false; reason: string } {
  const parsed = parseRecord(firstLine);
  if (!parsed.ok) return parsed;
  const { record } = parsed;
  const filePrev = record.fields.file_prev;
  if (record.event === 'audit.rotated' && typeof filePrev === 'string') {
    return { ok: true, start: { hash: record.prev, seq: record.seq - 1 }, filePrev };
  }
  if (record.prev === ZERO_HASH) return { ok: true, start: CHAIN_ORIGIN };
  return { ok: false, reason: 'first record neither starts a chain nor names its predecessor file (lines removed from the start?)' };
}

/**
 * Streaming verifier: push complete lines (without newline) in order, then
 * `end()` with whatever followed the last newline. Stops at the first break.
 */
export class ChainVerifier {
  #head: ChainHead;
  #count = 0;
  #line = 0;
  #broken: ChainBreak | undefined;
  readonly #macKey: Buffer | undefined;

  /** With `macKey`, every line must carry a MAC under it (integrity); without, only the structure is checked. */
  constructor(start: ChainHead, macKey?: Buffer) {
    this.#head = start;
    this.#macKey = macKey;
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Lines pushed so far (the number of the last one). */
  get lineNumber(): number {
    return this.#line;
  }

  push(line: string): ChainBreak | undefined {
    if (this.#broken) return this.#broken;
    this.#line += 1;
    const parsed = parseRecord(line);
    if (!parsed.ok) return this.#break(parsed.reason);
    const { record } = parsed;
    const expected = this.#head.seq + 1;
    if (record.seq !== expected) {
      const why = record.seq > expected ? 'a record is missing before this one' : 'repeated or out of order';
      return this.#break(`seq ${record.seq} where ${expected} was expected (${why})`);
    }
    if (record.prev !== this.#head.hash) return this.#break('prev does not match the previous record\'s hash');
    if (this.#macKey) {
      if (record.mac === undefined) return this.#break('no mac: written without the audit key, or its mac was stripped');
      if (!timingSafeEqual(Buffer.from(record.mac, 'latin1'), Buffer.from(macOf(this.#macKey, record.hash), 'latin1'))) {
        return this.#break('mac does not match (line rewritten without the audit key, or a different key)');
      }
    }
    this.#head = { hash: record.hash, seq: record.seq };
    this.#count += 1;
    return undefined;
  }

  /** `tail`: the bytes after the final newline ('' when the input ended with one). */
  end(tail = ''): ChainResult {
    if (this.#broken) return this.#broken;
    const warnings = tail === '' ? [] : [`line ${this.#line + 1}: truncated tail (${tail.length} bytes without a newline; a crash during a write), not counted`];
    return { ok: true, last: this.#head, count: this.#count, warnings };
  }

  #break(reason: string): ChainBreak {
    this.#broken = { ok: false, line: this.#line, reason };
    return this.#broken;
  }
}

/** Verifies complete lines continuing from `start`; `tail` is an unterminated final piece, if any. */
export function verifyLines(lines: Iterable<string>, start: ChainHead, tail = '', macKey?: Buffer): ChainResult {
  const verifier = new ChainVerifier(start, macKey);
  for (const line of lines) {
    if (verifier.push(line)) break;
  }
  return verifier.end(tail);
}

/** Splits file text into complete lines and the unterminated tail after the last newline. */
export function splitLines(text: string): { lines: string[]; tail: string } {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  return { lines, tail };
}
