// `gatehouse audit verify [FILE...] [--config FILE] [--anchor SEQ:HASH]`
//
// Checks the audit log's hash chain (see src/audit/chain.ts). With no FILE it
// takes `audit.path` from the config and walks back through the rotated files
// via each file's `file_prev`, then verifies the series oldest first. Files are
// streamed, so a log of any size works. FILEs given are verified in the order
// given, as one series; the first continues from the head its first record
// claims.
//
// Prints `ok: N events in M files, last hash <hex>` (exit 0) or
// `TAMPERED: <file>:<line>: <reason>` (exit 1). Unreadable logs or config exit 1,
// usage errors 2. A truncated last line (a crash mid-write) is a warning only.
// A rotated file that was deleted is tampering when older rotated files remain,
// and a note when it was the oldest (retention).
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CHAIN_ORIGIN, ChainVerifier, claimedStart } from '../audit/chain.ts';
import type { ChainHead } from '../audit/chain.ts';
import { listRotated } from '../audit/audit-log.ts';

const USAGE = 'usage: gatehouse audit verify [FILE...] [--config FILE] [--anchor SEQ:HASH]';
const DEFAULT_CONFIG = 'config/gatehouse.yaml';
const DEFAULT_AUDIT_PATH = 'data/audit.log';

interface Anchor {
  seq: number;
  hash: string;
}

/** Problems the user can fix (exit 1), as opposed to tampering. */
class AuditCliError extends Error {}

export async function runAudit(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { config: { type: 'string' }, anchor: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command, ...files] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'verify') {
    process.stderr.write(`${command === undefined ? 'missing subcommand' : `unknown subcommand "${command}"`}\n${USAGE}\n`);
    return 2;
  }
  let anchor: Anchor | undefined;
  if (parsed.values.anchor !== undefined) {
    const m = /^(\d+):([0-9a-f]{64})$/.exec(parsed.values.anchor);
    if (!m || Number(m[1]) < 1) {
      process.stderr.write(`--anchor wants SEQ:HASH (a record's seq and its 64-hex hash)\n${USAGE}\n`);
      return 2;
    }
    anchor = { seq: Number(m[1]), hash: m[2] };
  }
  if (files.length > 0 && parsed.values.config !== undefined) {
    process.stderr.write(`give FILEs or --config, not both\n${USAGE}\n`);
    return 2;
  }

  try {
    let series: string[];
    const notes: string[] = [];
    if (files.length > 0) {
      for (const f of files) if (!existsSync(f)) throw new AuditCliError(`no such file: ${f}`);
      series = files;
    } else {
      const live = await auditPathFromConfig(parsed.values.config);
      const found = await discoverSeries(live);
      if ('tampered' in found) {
        process.stdout.write(`TAMPERED: ${found.tampered}\n`);
        return 1;
      }
      series = found.files;
      notes.push(...found.notes);
    }
    const result = await verifySeries(series, anchor);
    for (const note of [...notes, ...result.notes]) process.stdout.write(`${note}\n`);
    if (!result.ok) {
      process.stdout.write(`TAMPERED: ${result.where}: ${result.reason}\n`);
      return 1;
    }
    const n = series.length;
    process.stdout.write(`ok: ${result.count} events in ${n} file${n === 1 ? '' : 's'}, last hash ${result.last.hash}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AuditCliError || (err as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

/** `audit.path` from the config (read minimally: no validation of the rest). */
async function auditPathFromConfig(configPath: string | undefined): Promise<string> {
  const path = configPath ?? DEFAULT_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (configPath === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_AUDIT_PATH;
    throw new AuditCliError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AuditCliError(`config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const audit = (doc as { audit?: { path?: unknown } } | null)?.audit;
  const value = audit?.path;
  if (value === undefined) return DEFAULT_AUDIT_PATH;
  if (typeof value !== 'string' || value === '') throw new AuditCliError(`config ${path}: audit.path must be a non-empty string`);
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = process.env[name];
    if (v === undefined) throw new AuditCliError(`config ${path}: audit.path uses \${${name}}, which is not set`);
    return v;
  });
}

/** The first line of a file, or undefined when it has none. */
async function firstLine(path: string): Promise<string | undefined> {
  for await (const piece of fileLines(path)) return piece.text;
  return undefined;
}

/** The live file and its rotated predecessors, oldest first, found via `file_prev`. */
async function discoverSeries(live: string): Promise<{ files: string[]; notes: string[] } | { tampered: string }> {
  const dir = dirname(live);
  const rotated = await listRotated(live);
  const files: string[] = [];
  const notes: string[] = [];
  let cursor: string | undefined;
  if (existsSync(live)) {
    files.push(live);
    if ((await stat(live)).size === 0 && rotated.length > 0) cursor = join(dir, rotated[rotated.length - 1]);
    else cursor = await predecessorOf(live);
  } else if (rotated.length > 0) {
    cursor = join(dir, rotated[rotated.length - 1]);
  } else {
    throw new AuditCliError(`no audit log at ${live}`);
  }
  const visited = new Set(files);
  while (cursor !== undefined) {
    if (visited.has(cursor)) return { tampered: `${files[0]}:1: file_prev links form a loop through ${cursor}` };
    if (!existsSync(cursor)) {
      const missing = basename(cursor);
      // Rotated files older than the oldest one reached should have been reached.
      const oldestReached = rotated.indexOf(basename(files[0]));
      const older = rotated.slice(0, oldestReached === -1 ? rotated.length : oldestReached);
      if (older.length > 0) return { tampered: `${files[0]}:1: its predecessor ${missing} is missing while older rotated files remain (${older[0]}...)` };
      notes.push(`note: chain checked from ${files[0]}; its predecessor ${missing} is gone (retention?)`);
      break;
    }
    visited.add(cursor);
    files.unshift(cursor);
    cursor = await predecessorOf(cursor);
  }
  const unreached = rotated.filter((name) => !visited.has(join(dir, name)));
  if (unreached.length > 0 && notes.length === 0) notes.push(`note: ${unreached.length} rotated file(s) not linked into this chain, not checked (${unreached[0]}...)`);
  return { files, notes };
}

async function predecessorOf(file: string): Promise<string | undefined> {
  const line = await firstLine(file);
  if (line === undefined) return undefined;
  const claim = claimedStart(line);
  return claim.ok && claim.filePrev !== undefined ? join(dirname(file), claim.filePrev) : undefined;
}

type SeriesResult =
  | { ok: true; count: number; last: ChainHead; notes: string[] }
  | { ok: false; where: string; reason: string; notes: string[] };

/** Verifies files as one chain, oldest first, streaming each. */
async function verifySeries(files: string[], anchor: Anchor | undefined): Promise<SeriesResult> {
  const notes: string[] = [];
  let head: ChainHead | undefined;
  let count = 0;
  let anchorSeen = false;
  for (const file of files) {
    let verifier: ChainVerifier | undefined;
    let tail = '';
    for await (const piece of fileLines(file)) {
      if (!piece.complete) {
        tail = piece.text;
        break;
      }
      if (verifier === undefined) {
        if (head === undefined) {
          const claim = claimedStart(piece.text);
          if (!claim.ok) return { ok: false, where: `${file}:1`, reason: claim.reason, notes };
          head = claim.start;
          if (anchor && anchor.seq <= head.seq) {
            anchorSeen = true;
            notes.push(`note: anchor seq ${anchor.seq} precedes the first record checked (seq ${head.seq + 1}); not checked`);
          }
        }
        verifier = new ChainVerifier(head);
      }
      const broken = verifier.push(piece.text);
      if (broken) return { ok: false, where: `${file}:${broken.line}`, reason: broken.reason, notes };
      if (anchor && verifier.head.seq === anchor.seq) {
        anchorSeen = true;
        if (verifier.head.hash !== anchor.hash) {
          return { ok: false, where: `${file}:${verifier.lineNumber}`, reason: `hash differs from the anchor recorded for seq ${anchor.seq}`, notes };
        }
      }
    }
    if (verifier === undefined) verifier = new ChainVerifier(head ?? CHAIN_ORIGIN);
    const end = verifier.end(tail);
    if (!end.ok) return { ok: false, where: `${file}:${end.line}`, reason: end.reason, notes };
    for (const w of end.warnings) notes.push(`warning: ${file}: ${w}`);
    count += end.count;
    head = end.last;
  }
  const last = head ?? CHAIN_ORIGIN;
  if (anchor && !anchorSeen) {
    return { ok: false, where: `${files[files.length - 1]}`, reason: `the log ends at seq ${last.seq}, before the anchor's seq ${anchor.seq} (records cut off the end)`, notes };
  }
  return { ok: true, count, last, notes };
}

/**
 * Streams a file's lines, split on '\n' only, decoded byte for byte (latin1) so
 * the text hashed is exactly the bytes on disk. The piece after the last
 * newline, if any, comes last with `complete: false`.
 */
async function* fileLines(path: string): AsyncGenerator<{ text: string; complete: boolean }> {
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: 256 * 1024 })) {
    const parts = (carry + (chunk as string)).split('\n');
    carry = parts.pop() ?? '';
    for (const text of parts) yield { text, complete: true };
  }
  if (carry !== '') yield { text: carry, complete: false };
}
