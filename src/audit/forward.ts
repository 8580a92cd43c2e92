// Forwards the audit log to SIEM sinks (syslog, HTTP JSON lines), at least once.
//
// The queue is the audit log itself: it is already on disk, synced, and never
// shed, so nothing is dropped while a sink is down. Each sink keeps its own
// position on disk (`<audit path>.forward-<sink>.json`: file, byte offset and
// the seq of the last record the sink accepted), written after every accepted
// batch, so a restart resumes where the sink stopped (the last batch may be
// sent twice after a crash: receivers can drop repeats by instance + seq).
// A position that no longer points at the next record (the live file was
// rotated, or the file changed under it) is found again by seq across the
// rotated files. While a sink is down, sends are retried with exponential
// backoff up to `retryMaxMs`; when its backlog passes `queueMax` bytes an alert
// is raised once (it is re-armed when the backlog halves). The backlog is not
// cut: the files stay until the operator's retention removes them.
import { open, rename, stat, writeFile, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { listRotated } from './audit-log.ts';

/** One destination. `send` resolves once the sink has accepted every line. */
export interface AuditSink {
  readonly name: string;
  send(lines: readonly string[]): Promise<void>;
  close(): void;
  /**
   * For sinks without acknowledgements (syslog over TCP): `listener` hears when
   * a connection that was sent on dropped; what was sent within `unconfirmedMs`
   * before it is sent again (the collector may never have read it).
   */
  onLost?(listener: () => void): void;
  readonly unconfirmedMs?: number;
}

export interface ForwarderOptions {
  /** The live audit file; rotated files sit beside it. */
  path: string;
  sinks: AuditSink[];
  /** The seq of the last record known to be on disk (fdatasync'ed). */
  durableSeq: () => number;
  queueMax: number;
  retryMaxMs: number;
  /** First retry delay (default 250 ms). */
  retryMinMs?: number;
  /** Records per send (default 500). */
  batchLines?: number;
  /** The backlog of `sink` passed queueMax. */
  onQueueFull: (sink: string, unsentBytes: number) => void;
  onError: (sink: string, err: Error) => void;
}

export interface SinkStatus {
  /** Seq of the last record the sink accepted. */
  sentSeq: number;
  failures: number;
  up: boolean;
  /** Connections that dropped after being sent on (their last records were sent again). */
  lost: number;
}

export interface Forwarder {
  /** New records reached the disk: send them. */
  notify(): void;
  /** Retry the sinks that are waiting out a backoff now (an operator knows the sink is back; tests). */
  retryNow(): void;
  status(): Record<string, SinkStatus>;
  /** Resolves when every sink has sent up to `seq` (tests, shutdown). */
  drained(seq: number): Promise<void>;
  close(): Promise<void>;
}

interface Position { file: string; offset: number; seq: number }

const SEQ_PREFIX = /^\{"seq":(\d+),/;
const READ_CHUNK = 1 << 20;

function seqOf(line: string): number | undefined {
  const m = SEQ_PREFIX.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** Complete lines from `offset`, at most `max` and READ_CHUNK bytes (a longer single line is read whole). */
async function readLinesAt(path: string, offset: number, max: number): Promise<{ lines: string[]; ends: number[] } | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const lines: string[] = [];
    const ends: number[] = [];
    let pos = offset;
    let carry = '';
    for (let chunk = READ_CHUNK; lines.length < max; ) {
      const buf = Buffer.alloc(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, pos + carry.length);
      if (bytesRead === 0) break;
      const text = carry + buf.toString('latin1', 0, bytesRead);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1 && lines.length < max; nl = text.indexOf('\n', start)) {
        lines.push(text.slice(start, nl));
        ends.push(pos + nl + 1);
        start = nl + 1;
      }
      if (lines.length > 0 || bytesRead < chunk) break;
      carry = text.slice(start); // one line longer than a chunk
    }
    return { lines, ends };
  } finally {
    await fh.close();
  }
}

export function createForwarder(o: ForwarderOptions): Forwarder {
  const dir = dirname(o.path);
  const live = basename(o.path);
  const retryMin = o.retryMinMs ?? 250;
  const batchLines = o.batchLines ?? 500;

  interface SinkState {
    sink: AuditSink;
    stateFile: string;
    pos: Position | undefined;
    busy: boolean;
    failures: number;
    retryAt: number;
    timer: NodeJS.Timeout | undefined;
    alerted: boolean;
    waiters: { seq: number; resolve: () => void }[];
    /** Where recent batches started, for a sink that may lose what it was sent (see AuditSink.onLost). */
    recent: { start: Position; at: number }[];
    lost: number;
  }
  const states: SinkState[] = o.sinks.map((sink) => ({
    sink, stateFile: join(dir, `${live}.forward-${sink.name}.json`), pos: undefined, busy: false, failures: 0, retryAt: 0,
    timer: undefined, alerted: false, waiters: [], recent: [], lost: 0,
  }));
  for (const s of states) s.sink.onLost?.(() => rewind(s));

  /** Sends again what the sink may not have read before its connection dropped (duplicates, never gaps). */
  function rewind(s: SinkState): void {
    s.lost += 1;
    const since = Date.now() - (s.sink.unconfirmedMs ?? 0);
    const first = s.recent.find((b) => b.at >= since);
    s.recent = [];
    if (first === undefined || s.pos === undefined || first.start.seq >= s.pos.seq) return;
    s.pos = first.start;
    void savePosition(s, first.start).catch((err: Error) => o.onError(s.sink.name, err));
    schedule(s, 0);
  }
  let closed = false;

  async function loadPosition(s: SinkState): Promise<Position> {
    try {
      const p = JSON.parse(await readFile(s.stateFile, 'utf8')) as Position;
      if (typeof p.file === 'string' && Number.isSafeInteger(p.offset) && Number.isSafeInteger(p.seq)) return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.onError(s.sink.name, new Error(`cannot read ${s.stateFile} (${(err as Error).message}); starting from the oldest audit file`));
    }
    return { file: '', offset: 0, seq: 0 };
  }

  let saves = 0;
  async function savePosition(s: SinkState, p: Position): Promise<void> {
    const tmp = `${s.stateFile}.${process.pid}-${++saves}.tmp`;
    await writeFile(tmp, JSON.stringify(p));
    await rename(tmp, s.stateFile);
  }

  /** The files of the series, oldest first (rotated names, then the live file). */
  async function seriesFiles(): Promise<string[]> {
    return [...(await listRotated(o.path)), live];
  }

  /** Where the record after `seq` starts: found by reading each file's first record, then scanning one file. */
  async function locate(seq: number): Promise<Position | undefined> {
    const files = await seriesFiles();
    let chosen: string | undefined;
    for (const f of files) {
      const first = await readLinesAt(join(dir, f), 0, 1);
      const firstSeq = first && first.lines.length > 0 ? seqOf(first.lines[0]) : undefined;
      if (firstSeq === undefined) continue;
      if (firstSeq <= seq + 1) chosen = f;
      else break;
    }
    if (chosen === undefined) {
      // Nothing that old is left (retention): start from the oldest file there is.
      const oldest = files.find((f) => f !== live) ?? live;
      return { file: oldest, offset: 0, seq };
    }
    let offset = 0;
    for (;;) {
      const got = await readLinesAt(join(dir, chosen), offset, batchLines);
      if (!got || got.lines.length === 0) return { file: chosen, offset, seq };
      for (let i = 0; i < got.lines.length; i++) {
        const n = seqOf(got.lines[i]);
        if (n !== undefined && n > seq) return { file: chosen, offset, seq };
        offset = got.ends[i];
      }
    }
  }

  /** Bytes not yet sent: the rest of the current file and every later one. */
  async function backlog(p: Position): Promise<number> {
    const files = await seriesFiles();
    let total = 0;
    let counting = false;
    for (const f of files) {
      if (f === p.file) counting = true;
      if (!counting) continue;
      const size = await stat(join(dir, f)).then((st) => st.size, () => 0);
      total += f === p.file ? Math.max(0, size - p.offset) : size;
    }
    return total;
  }

  /** The next batch of durable records after `p`, relocating when `p` no longer points at seq + 1. */
  async function nextBatch(s: SinkState): Promise<{ lines: string[]; end: Position } | undefined> {
    const durable = o.durableSeq();
    let p = s.pos!;
    if (p.seq >= durable) return undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = p.file === '' ? undefined : await readLinesAt(join(dir, p.file), p.offset, batchLines);
      const lines: string[] = [];
      let end = p;
      let expected = p.seq + 1;
      let lost = got === undefined;
      for (let i = 0; got && i < got.lines.length; i++) {
        const n = seqOf(got.lines[i]);
        if (n === undefined || n > durable) break;
        if (n !== expected) {
          // The first line of a rotated-in file continues the chain too; anything else means the position is stale.
          lost = lines.length === 0;
          break;
        }
        lines.push(got.lines[i]);
        end = { file: p.file, offset: got.ends[i], seq: n };
        expected += 1;
      }
      if (lines.length > 0) return { lines, end };
      if (!lost && got && got.lines.length > 0) return undefined; // waiting for durability
      // At the end of this file (or lost): the next record is elsewhere.
      const found = await locate(p.seq);
      if (!found || (found.file === p.file && found.offset === p.offset)) return undefined;
      p = found;
      s.pos = found;
    }
    return undefined;
  }

  function schedule(s: SinkState, delay: number): void {
    if (closed || s.timer) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void pump(s);
    }, delay);
    s.timer.unref();
  }

  async function pump(s: SinkState): Promise<void> {
    if (closed || s.busy) return;
    if (Date.now() < s.retryAt) return schedule(s, s.retryAt - Date.now());
    s.busy = true;
    try {
      s.pos ??= await loadPosition(s);
      for (;;) {
        const batch = await nextBatch(s);
        if (!batch) break;
        try {
          await s.sink.send(batch.lines);
        } catch (err) {
          s.failures += 1;
          const delay = Math.min(o.retryMaxMs, retryMin * 2 ** Math.min(s.failures - 1, 20));
          s.retryAt = Date.now() + delay * (0.8 + Math.random() * 0.4);
          if (s.failures === 1 || s.failures % 10 === 0) o.onError(s.sink.name, err as Error);
          const unsent = await backlog(s.pos!);
          if (unsent > o.queueMax && !s.alerted) {
            s.alerted = true;
            o.onQueueFull(s.sink.name, unsent);
          }
          schedule(s, s.retryAt - Date.now());
          return;
        }
        s.failures = 0;
        s.retryAt = 0;
        if (s.sink.unconfirmedMs !== undefined) {
          const now = Date.now();
          s.recent = s.recent.filter((b) => b.at >= now - s.sink.unconfirmedMs!);
          s.recent.push({ start: s.pos!, at: now });
        }
        s.pos = batch.end;
        await savePosition(s, batch.end);
        if (s.alerted && (await backlog(batch.end)) < o.queueMax / 2) s.alerted = false;
        s.waiters = s.waiters.filter((w) => (w.seq <= batch.end.seq ? (w.resolve(), false) : true));
      }
    } catch (err) {
      o.onError(s.sink.name, err as Error);
      schedule(s, retryMin);
    } finally {
      s.busy = false;
    }
    // Records that arrived while this pump ran.
    if (!closed && s.pos && s.pos.seq < o.durableSeq() && s.retryAt === 0) schedule(s, 0);
  }

  return {
    notify() {
      for (const s of states) void pump(s);
    },
    retryNow() {
      for (const s of states) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
        s.retryAt = 0;
        void pump(s);
      }
    },
    status() {
      return Object.fromEntries(states.map((s) => [s.sink.name, { sentSeq: s.pos?.seq ?? 0, failures: s.failures, up: s.failures === 0, lost: s.lost }]));
    },
    drained(seq) {
      return Promise.all(states.map((s) => (s.pos && s.pos.seq >= seq ? undefined : new Promise<void>((resolve) => s.waiters.push({ seq, resolve }))))).then(() => undefined);
    },
    async close() {
      closed = true;
      for (const s of states) {
        if (s.timer) clearTimeout(s.timer);
        s.sink.close();
      }
    },
  };
}
