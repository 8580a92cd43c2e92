// The audit log writer: appends hash-chained records (see chain.ts) to a file,
// in batches with one write + fdatasync each (group commit), so a crash loses at
// most the batch in flight and never damages the lines before it.
//
// - `write()` formats and hashes the record at once (the chain needs each hash)
//   and queues it; it returns a promise that resolves once the batch holding the
//   record is written and fdatasync'ed. Security events await it before their
//   outcome is shown, so an answer the user saw always has its line on disk. A
//   batch leaves at most `flushIntervalMs` (5 ms) after its first record, or, with
//   `sync: 'always'`, every record is written and synced on its own.
//   The promise carries a handler already: callers that do not await it (the
//   report-only counts) never see an unhandled rejection.
//   Failures go to `onError` and reject the promises of that batch; the batch
//   stays queued, the file is cut back to its last good size, and the flush is
//   retried.
// - Restarts continue the chain from the file's last record. A partial last line
//   (a crash mid-write) is cut off and an `audit.recovered` record says so. A last
//   line that is not a valid record stops the open: the chain cannot be continued
//   honestly, and the operator has to look (`gatehouse audit verify`).
// - Rotation: a record that would take the file past `maxBytes` first closes it,
//   renames it to `<path>.<UTC stamp>` (e.g. audit.log.20261122T153000Z, `-N`
//   added on a clash), and starts a new file with an `audit.rotated` record that
//   names the old file in `file_prev` and links to its last hash.
// - Under a flood the queue is bounded: past `maxPending` queued records,
//   `report.would_challenge` records are shed; past twice that, every record is
//   (the process is out of its depth: disk stalled). Each shed record is counted,
//   reported once per episode to `onError`, and the counts go into the log as an
//   `audit.dropped` record: nothing is dropped silently.
// - One writer per file: two processes appending to one file would fork the
//   chain. Give every gateway instance its own audit path.
import { open, readdir, rename, mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CHAIN_ORIGIN, deriveAuditMacKey, formatLine, parseRecord } from './chain.ts';
import type { Config } from '../config/types.ts';
import type { ChainHead, ChainWriter } from './chain.ts';
import { SHEDDABLE_EVENT } from './events.ts';
import type { AuditEvent } from './events.ts';

export interface AuditLogOptions {
  path: string;
  /** Rotate before a record would take the file past this size. */
  maxBytes: number;
  /** How long a record may wait in memory before its batch is written (default 5). */
  flushIntervalMs?: number;
  /** 'group' (default): records share a write + fdatasync; 'always': one each. */
  sync?: 'group' | 'always';
  /** Instance id written into every line, and the MAC key (none: an unkeyed chain). */
  writer?: ChainWriter;
  now?: () => Date;
  /** Write, fsync and rotation failures, and shed records. Log these loudly. */
  onError?: (err: Error) => void;
  /** Queued records past which report-only records are shed (default 100,000). */
  maxPending?: number;
  /** Called after each durable batch with the head on disk: ship it elsewhere as an anchor. */
  onFlushed?: (head: ChainHead) => void;
}

/** The options every writer of the configured log must share (same file, instance, key, sync). */
export function configuredAuditLog(config: Pick<Config, 'audit' | 'server'>): Pick<AuditLogOptions, 'path' | 'maxBytes' | 'sync' | 'writer'> {
  return {
    path: config.audit.path,
    maxBytes: config.audit.max_bytes,
    sync: config.audit.sync,
    writer: { instance: config.server.instance_id, macKey: deriveAuditMacKey(config.audit.key) },
  };
}

export interface AuditLog {
  /**
   * Queues a record; resolves once it is on disk (written and fdatasync'ed).
   * Never throws; rejects when the record was not written (problems also go to `onError`).
   */
  write(event: AuditEvent): Promise<void>;
  /** Writes and fsyncs everything queued so far; rejects if that failed. */
  flush(): Promise<void>;
  /** Flushes, then closes the file; later writes are reported to `onError`. */
  close(): Promise<void>;
  /** The head including queued records. */
  readonly head: ChainHead;
  /** The head on disk (written and fdatasync'ed). */
  readonly durableHead: ChainHead;
}

interface Waiter { resolve(): void; reject(err: Error): void }
type Queued = { line: string; head: ChainHead; ts: string; event: AuditEvent; waiter?: Waiter } | { rotateTo: string };

/** A promise whose rejection is handled already (awaiting it still sees the rejection). */
function settled(p: Promise<void>): Promise<void> {
  p.catch(() => undefined);
  return p;
}

const ROTATED_SUFFIX = /^(\d{8}T\d{6}Z)(?:-(\d+))?$/;
const RETRY_MS = 1000;
const TAIL_CHUNK = 64 * 1024;

/** UTC stamp for rotated names: 2026-11-22T15:30:00.123Z -> 20261122T153000Z. */
export function rotationStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** The rotated files of `path` (names only), oldest first. */
export async function listRotated(path: string): Promise<string[]> {
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const keyed: { name: string; stamp: string; n: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const m = ROTATED_SUFFIX.exec(name.slice(base.length + 1));
    if (m) keyed.push({ name, stamp: m[1], n: m[2] === undefined ? 0 : Number(m[2]) });
  }
  keyed.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n));
  return keyed.map((k) => k.name);
}

interface Tail {
  size: number;
  /** The last complete line (without newline), if any. */
  lastLine?: string;
  /** Bytes after the last newline. */
  partial: number;
}

/** Reads backwards from the end just far enough to find the last complete line. */
async function readTail(path: string): Promise<Tail> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size: 0, partial: 0 };
    throw err;
  }
  try {
    const { size } = await fh.stat();
    for (let chunk = TAIL_CHUNK; ; chunk *= 4) {
      const len = Math.min(size, chunk);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      const text = buf.toString('latin1');
      const lastNl = text.lastIndexOf('\n');
      const prevNl = lastNl <= 0 ? -1 : text.lastIndexOf('\n', lastNl - 1);
      if ((lastNl === -1 || prevNl === -1) && len < size) continue;
      if (lastNl === -1) return { size, partial: size };
      return { size, partial: len - lastNl - 1, lastLine: text.slice(prevNl + 1, lastNl) };
    }
  } finally {
    await fh.close();
  }
}

function headOf(path: string, line: string): ChainHead {
  const parsed = parseRecord(line);
  if (!parsed.ok) {
    throw new Error(
      `audit log ${path}: its last line is not a valid record (${parsed.reason}); ` +
        'run "gatehouse audit verify" and move the file aside to start a new chain',
    );
  }
  return { hash: parsed.record.hash, seq: parsed.record.seq };
}

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export async function openAuditLog(opts: AuditLogOptions): Promise<AuditLog> {
  const { path } = opts;
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) throw new Error(`audit: maxBytes must be a positive integer, got ${opts.maxBytes}`);
  const maxBytes = opts.maxBytes;
  const flushIntervalMs = opts.flushIntervalMs ?? 5;
  const syncEach = opts.sync === 'always';
  const writer: ChainWriter = opts.writer ?? {};
  const maxPending = opts.maxPending ?? 100_000;
  const now = opts.now ?? (() => new Date());
  const onError = opts.onError ?? ((err: Error) => process.emitWarning(err));
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });

  // Where the chain stands on disk, and what has to be said about it.
  const tail = await readTail(path);
  let head: ChainHead = CHAIN_ORIGIN;
  let continuesFrom: string | undefined;
  if (tail.lastLine !== undefined) {
    head = headOf(path, tail.lastLine);
  } else {
    // Empty or missing: a crash between a rotation's rename and its first record
    // leaves the chain in the newest rotated file.
    const rotated = await listRotated(path);
    const newest = rotated.at(-1);
    if (newest !== undefined) {
      const prev = await readTail(join(dir, newest));
      if (prev.lastLine !== undefined) {
        head = headOf(join(dir, newest), prev.lastLine);
        continuesFrom = newest;
      }
    }
  }
  const keptSize = tail.size - tail.partial;
  if (tail.partial > 0) {
    const fix = await open(path, 'r+');
    try {
      await fix.truncate(keptSize);
      await fix.datasync();
    } finally {
      await fix.close();
    }
  }

  let fh: FileHandle | null = await open(path, 'a');
  let diskSize = keptSize; // bytes known durable in the current file
  let plannedSize = keptSize; // what the newest file will hold once the queue is written
  let durableHead = head;
  let queue: Queued[] = [];
  let pendingLines = 0; // queued or in-flight records not yet durable
  let needsRepair = false; // a failed write may have left part of a batch behind
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  const dropped = new Map<string, number>();
  let droppedReported = false;
  const namesTaken = new Set<string>();

  function format(event: AuditEvent): { line: string; hash: string; ts: string; event: AuditEvent } {
    const ts = now().toISOString();
    return { ...formatLine(head.hash, head.seq + 1, ts, event, writer), ts, event };
  }

  function push(formatted: { line: string; hash: string; ts: string; event: AuditEvent }, waiter?: Waiter): void {
    head = { hash: formatted.hash, seq: head.seq + 1 };
    queue.push({ line: formatted.line, head, ts: formatted.ts, event: formatted.event, ...(waiter ? { waiter } : {}) });
    plannedSize += formatted.line.length + 1;
    pendingLines += 1;
  }

  function rotatedName(): string {
    const stem = `${basename(path)}.${rotationStamp(now())}`;
    let name = stem;
    for (let n = 1; namesTaken.has(name) || existsSync(join(dir, name)); n++) name = `${stem}-${n}`;
    namesTaken.add(name);
    return name;
  }

  function append(event: AuditEvent, waiter?: Waiter): void {
    let formatted = format(event);
    if (plannedSize > 0 && plannedSize + formatted.line.length + 1 > maxBytes) {
      const name = rotatedName();
      queue.push({ rotateTo: name });
      plannedSize = 0;
      push(format({ event: 'audit.rotated', file_prev: name } satisfies AuditEvent));
      formatted = format(event); // again: its seq and prev moved past the rotation record
    }
    push(formatted, waiter);
  }

  function shed(event: AuditEvent): boolean {
    if (pendingLines < maxPending) return false;
    if (event.event !== SHEDDABLE_EVENT && pendingLines < 2 * maxPending) return false;
    dropped.set(event.event, (dropped.get(event.event) ?? 0) + 1);
    if (!droppedReported) {
      droppedReported = true;
      onError(new Error(`audit log ${path}: ${pendingLines} records queued (disk stalled?); shedding ${event.event} records, counts follow in an audit.dropped record`));
    }
    return true;
  }

  async function rotate(to: string): Promise<void> {
    if (fh) {
      await fh.close();
      fh = null;
    }
    const target = join(dir, to);
    if (!existsSync(target)) await rename(path, target); // a retry may find it renamed already
    fh = await open(path, 'a');
    diskSize = (await fh.stat()).size;
    await fsyncDir(dir);
  }

  /** Writes the queue, then the count of shed records once there is room for it. */
  async function writeQueued(): Promise<Error | undefined> {
    for (;;) {
      const err = await writeBatch();
      if (err || dropped.size === 0 || pendingLines >= maxPending) return err;
      const events = Object.fromEntries(dropped);
      const count = [...dropped.values()].reduce((a, b) => a + b, 0);
      dropped.clear();
      droppedReported = false;
      try {
        append({ event: 'audit.dropped', count, events } satisfies AuditEvent);
      } catch (e) {
        return asError(e);
      }
    }
  }

  /**
   * Another writer (e.g. `gatehouse mfa reset` run beside the gateway) appended
   * to the file: continue the chain from its last line, re-linking what is queued.
   */
  async function rechainAfterForeignAppend(batch: Queued[]): Promise<void> {
    const t = await readTail(path);
    if (t.lastLine === undefined) return;
    let h = headOf(path, t.lastLine);
    diskSize = t.size - t.partial;
    for (const item of [...batch, ...queue]) {
      if ('rotateTo' in item) continue;
      const f = formatLine(h.hash, h.seq + 1, item.ts, item.event, writer);
      h = { hash: f.hash, seq: h.seq + 1 };
      plannedSize += f.line.length - item.line.length;
      item.line = f.line;
      item.head = h;
    }
    head = h;
  }

  async function writeBatch(): Promise<Error | undefined> {
    const batch = queue;
    queue = [];
    let i = 0;
    try {
      if (needsRepair && fh) {
        await fh.truncate(diskSize);
        needsRepair = false;
      } else if (fh && batch.length > 0 && (await fh.stat()).size !== diskSize) {
        await rechainAfterForeignAppend(batch);
      }
      while (i < batch.length) {
        const item = batch[i];
        if ('rotateTo' in item) {
          await rotate(item.rotateTo);
          i += 1;
          continue;
        }
        if (!fh) fh = await open(path, 'a');
        let j = i;
        const lines: string[] = [];
        for (; j < batch.length && (!syncEach || j === i); j++) {
          const next = batch[j];
          if ('rotateTo' in next) break;
          lines.push(next.line);
        }
        const buf = Buffer.from(lines.join('\n') + '\n', 'latin1');
        needsRepair = true;
        await writeAll(fh, buf);
        await fh.datasync();
        needsRepair = false;
        diskSize += buf.length;
        pendingLines -= j - i;
        durableHead = (batch[j - 1] as { head: ChainHead }).head;
        for (let k = i; k < j; k++) {
          const done = batch[k] as { waiter?: Waiter };
          done.waiter?.resolve();
          delete done.waiter;
        }
        i = j;
      }
    } catch (err) {
      const e = asError(err);
      const rest = batch.slice(i);
      // The answers waiting on these records fail now (fail closed); the records stay queued and are retried.
      for (const item of rest) {
        if ('waiter' in item && item.waiter) {
          item.waiter.reject(new Error(`audit log ${path}: ${item.event.event} record not yet on disk: ${e.message}`));
          delete item.waiter;
        }
      }
      queue = rest.concat(queue); // keep order: the unwritten rest goes first
      return e;
    }
    if (batch.length > 0) opts.onFlushed?.(durableHead);
    return undefined;
  }

  /** Serialised: one flush at a time, in order. Resolves to the error, if any. */
  function flushNow(): Promise<Error | undefined> {
    const run = chain.then(writeQueued);
    chain = run;
    return run;
  }

  function schedule(delay = flushIntervalMs): void {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void flushNow().then((err) => {
        if (err) {
          onError(err);
          schedule(Math.max(flushIntervalMs, RETRY_MS));
        } else if (queue.length > 0 || dropped.size > 0) {
          schedule();
        }
      });
    }, delay);
    // A batch due in a few ms keeps the process alive (someone may be awaiting it); a retry after a failure does not.
    if (delay > flushIntervalMs) timer.unref();
  }

  const log: AuditLog = {
    write(event) {
      if (closed) {
        const err = new Error(`audit log ${path} is closed: ${event.event} record not written`);
        onError(err);
        return settled(Promise.reject(err));
      }
      if (shed(event)) return settled(Promise.reject(new Error(`audit log ${path}: ${event.event} record shed (queue full)`)));
      let waiter: Waiter | undefined;
      const durable = new Promise<void>((resolve, reject) => (waiter = { resolve, reject }));
      try {
        append(event, waiter);
      } catch (err) {
        const e = new Error(`audit log ${path}: ${event.event} record not written: ${asError(err).message}`);
        onError(e);
        return settled(Promise.reject(e));
      }
      schedule();
      return settled(durable);
    },
    async flush() {
      const err = await flushNow();
      if (err) throw err;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const err = await flushNow();
      const handle = fh;
      fh = null;
      await handle?.close();
      if (err) throw err;
    },
    get head() {
      return head;
    },
    get durableHead() {
      return durableHead;
    },
  };

  if (continuesFrom !== undefined) log.write({ event: 'audit.rotated', file_prev: continuesFrom });
  if (tail.partial > 0) log.write({ event: 'audit.recovered', reason: 'cut a partial last line left by a crash', bytes: tail.partial });
  return log;
}
