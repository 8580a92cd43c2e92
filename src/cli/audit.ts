// `gatehouse audit verify [FILE...] [--config FILE] [--key-file FILE | --allow-unkeyed]
//                         [--anchor SEQ:HASH] [--checkpoint FILE|URL]... [--jwks FILE|URL]`
//
// Checks the audit log's chain (see src/audit/chain.ts). With no FILE it takes
// `audit.path` from the config and walks back through the rotated files via
// each file's `file_prev`, then verifies the series oldest first. Files are
// streamed, so a log of any size works. FILEs given are grouped by the instance
// named in their first record (one chain per instance) and each group is
// verified in the order given, as one series; the first continues from the
// head its first record claims.
//
// Integrity needs the audit key (--key-file, else the config's audit.key, its
// *_file, GATEHOUSE_AUDIT_KEY or a stored development key): every line's MAC is
// checked. Without a key only the structure can be checked, which anyone able
// to write the file can fake; that is refused unless --allow-unkeyed says so.
// A checkpoint (the JSON served at /.gatehouse/audit/checkpoint or sent to the
// webhook) requires the chain to reach its seq with its hash: a cut tail fails.
// Its signature is checked against --jwks, or the gateway's /.gatehouse/jwks.json
// when the checkpoint was fetched from a URL.
//
// Prints `ok: N events in M files, last hash <hex>` per chain (exit 0) or
// `TAMPERED: <file>:<line>: <reason>` (exit 1). Unreadable logs or config exit 1
// (`error: ...`), usage errors 2. Every line starts with what it is (ok, TAMPERED,
// note, warning, error), so scripts can read the result. A truncated last line (a crash mid-write) is a warning only.
// A rotated file that was deleted is tampering when older rotated files remain,
// and a note when it was the oldest (retention).
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CHAIN_ORIGIN, ChainVerifier, claimedStart, deriveAuditMacKey, parseRecord } from '../audit/chain.ts';
import type { ChainHead } from '../audit/chain.ts';
import { listRotated } from '../audit/audit-log.ts';
import { checkpointSignatureProblem, parseCheckpoint } from '../audit/checkpoint.ts';
import type { Checkpoint } from '../audit/checkpoint.ts';
import type { Config } from '../config/types.ts';
import {
  CliError, CONFIG_OPTION, DEFAULT_CONFIG, EXIT, loadOperatorConfig, parseOptions, printUsage, runCommand, STD_IO, usageError,
  type CliIO, type CommandInfo,
} from './operator.ts';

export const AUDIT: CommandInfo = {
  // Every line verify prints starts with what it is: errors too.
  label: 'error',
  usage: `usage: gatehouse audit verify [FILE...] [--config FILE] [--key-file FILE | --allow-unkeyed] [--anchor SEQ:HASH] [--checkpoint FILE|URL]... [--jwks FILE|URL]
  FILE...                the log files, oldest first (default: audit.path from the config and its rotated files)
  --config FILE          the gateway config (default ${DEFAULT_CONFIG}, when it exists)
  --key-file FILE        the audit key (default: the config's audit.key, else GATEHOUSE_AUDIT_KEY)
  --allow-unkeyed        without a key: check the structure only
  --anchor SEQ:HASH      the chain must reach record SEQ with this hash
  --checkpoint FILE|URL  a checkpoint the chain must reach (repeatable)
  --jwks FILE|URL        the keys that signed the checkpoints (default for a URL: the gateway's /.gatehouse/jwks.json)
`,
};
const DEFAULT_AUDIT_PATH = 'data/audit.log';

/** A head the chain must reach: from --anchor or a checkpoint. */
interface Anchor {
  seq: number;
  hash: string;
  what: string;
}

export async function runAudit(args: string[], io: CliIO = STD_IO): Promise<number> {
  return runCommand(AUDIT, io, () => audit(args, io));
}

async function audit(args: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseOptions(args, {
    ...CONFIG_OPTION,
    anchor: { type: 'string' },
    'key-file': { type: 'string' },
    'allow-unkeyed': { type: 'boolean' },
    checkpoint: { type: 'string', multiple: true },
    jwks: { type: 'string' },
  }, true);
  const [command, ...files] = positionals;
  if (v.help) return printUsage(AUDIT, io);
  if (command !== 'verify') throw usageError(command === undefined ? 'missing subcommand' : `unknown subcommand "${command}"`);
  let anchor: Anchor | undefined;
  if (v.anchor !== undefined) {
    const m = /^(\d+):([0-9a-f]{64})$/.exec(v.anchor);
    if (!m || Number(m[1]) < 1) throw usageError('--anchor wants SEQ:HASH (a record\'s seq and its 64-hex hash)');
    anchor = { seq: Number(m[1]), hash: m[2], what: 'the anchor' };
  }
  if (v['key-file'] !== undefined && v['allow-unkeyed']) throw usageError('give --key-file or --allow-unkeyed, not both');

  const configs = lazyConfig(v.config);
  const macKey = await auditKey(v['key-file'], configs);
  if (macKey === undefined && !v['allow-unkeyed']) {
    throw new CliError(EXIT.FAILED, 'no audit key, so integrity cannot be proven: give --key-file FILE, set GATEHOUSE_AUDIT_KEY, or --config with audit.key; --allow-unkeyed checks the structure only');
  }
  let groups: { instance: string; files: string[] }[];
  const notes: string[] = [];
  if (files.length > 0) {
    for (const f of files) if (!existsSync(f)) throw new CliError(EXIT.FAILED, `no such file: ${f}`);
    groups = await groupByInstance(files);
  } else {
    const live = (await configs.get())?.audit.path ?? DEFAULT_AUDIT_PATH;
    const found = await discoverSeries(live);
    if ('tampered' in found) {
      io.stdout.write(`TAMPERED: ${found.tampered}\n`);
      return EXIT.FAILED;
    }
    groups = [{ instance: await instanceOf(found.files.at(-1)!), files: found.files }];
    notes.push(...found.notes);
  }
  if (anchor && groups.length > 1) throw new CliError(EXIT.FAILED, '--anchor names one chain; these files hold several instances (use --checkpoint)');
  const checkpoints: Checkpoint[] = [];
  for (const source of v.checkpoint ?? []) {
    const { cp, note } = await loadCheckpoint(source, v.jwks);
    if (note) notes.push(note);
    checkpoints.push(cp);
  }
  for (const note of notes) io.stdout.write(`${note}\n`);

  let failed = false;
  for (const group of groups) {
    const anchors: Anchor[] = anchor ? [anchor] : [];
    for (const cp of checkpoints) {
      if (cp.instance === group.instance || (groups.length === 1 && group.instance === '')) {
        anchors.push({ seq: cp.seq, hash: cp.hash, what: `the checkpoint of ${cp.ts}` });
      }
    }
    const result = await verifySeries(group.files, anchors, macKey);
    const label = groups.length > 1 ? `instance ${group.instance || '(unnamed)'}: ` : '';
    for (const note of result.notes) io.stdout.write(`${label}${note}\n`);
    if (!result.ok) {
      io.stdout.write(`TAMPERED: ${label}${result.where}: ${result.reason}\n`);
      failed = true;
      continue;
    }
    const n = group.files.length;
    io.stdout.write(`ok: ${label}${result.count} events in ${n} file${n === 1 ? '' : 's'}, last hash ${result.last.hash}\n`);
  }
  const unmatched = checkpoints.filter((cp) => !groups.some((g) => g.instance === cp.instance || (groups.length === 1 && g.instance === '')));
  for (const cp of unmatched) {
    io.stdout.write(`TAMPERED: the checkpoint for instance ${cp.instance} (seq ${cp.seq}) matches none of the logs checked (${groups.map((g) => g.instance || '(unnamed)').join(', ')})\n`);
    failed = true;
  }
  if (failed) return EXIT.FAILED;
  io.stdout.write(macKey
    ? 'integrity: every line\'s MAC checked under the audit key\n'
    : 'warning: no audit key: structure checked only; whoever can write the files could have rewritten them\n');
  return EXIT.OK;
}

/** The config, read once and only when needed (absent: the default file does not exist). */
function lazyConfig(configPath: string | undefined): { get(): Promise<Config | undefined> } {
  let loaded: Promise<Config | undefined> | undefined;
  return {
    get() {
      loaded ??= (async () => {
        const path = configPath ?? DEFAULT_CONFIG;
        if (configPath === undefined && !existsSync(path)) return undefined;
        // A stored development key may be used; a generated one would make every MAC look forged.
        return loadOperatorConfig(path, { generateDevSecrets: false });
      })();
      return loaded;
    },
  };
}

/** The chain's MAC key: --key-file, else the config's (audit.key, its file, GATEHOUSE_AUDIT_KEY, stored dev key), else the environment. */
async function auditKey(keyFile: string | undefined, configs: { get(): Promise<Config | undefined> }): Promise<Buffer | undefined> {
  let secret: string | undefined;
  if (keyFile !== undefined) {
    try {
      secret = (await readFile(keyFile, 'utf8')).trim();
    } catch (err) {
      throw new CliError(EXIT.FAILED, `cannot read the key file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (secret.length < 32) throw new CliError(EXIT.FAILED, `the key in ${keyFile} is shorter than 32 characters`);
  } else {
    secret = (await configs.get())?.audit.key || process.env.GATEHOUSE_AUDIT_KEY || undefined;
  }
  return secret ? deriveAuditMacKey(secret) : undefined;
}

/** The instance named by a file's first record ('' for unnamed or empty files). */
async function instanceOf(file: string): Promise<string> {
  const line = await firstLine(file);
  if (line === undefined) return '';
  const r = parseRecord(line);
  return r.ok ? r.record.instance ?? '' : '';
}

/** FILEs split into one series per instance, each in the order given. */
async function groupByInstance(files: string[]): Promise<{ instance: string; files: string[] }[]> {
  const groups = new Map<string, string[]>();
  for (const f of files) {
    const inst = await instanceOf(f);
    groups.set(inst, [...(groups.get(inst) ?? []), f]);
  }
  return [...groups].map(([instance, fs]) => ({ instance, files: fs }));
}

async function readSource(source: string): Promise<string> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
      throw new CliError(EXIT.FAILED, `cannot fetch ${source}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    });
    if (!res.ok) throw new CliError(EXIT.FAILED, `cannot fetch ${source}: HTTP ${res.status}`);
    return res.text();
  }
  try {
    return await readFile(source, 'utf8');
  } catch (err) {
    throw new CliError(EXIT.FAILED, `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A checkpoint and its signature check (against --jwks, or the gateway's own key set for a URL). */
async function loadCheckpoint(source: string, jwksSource: string | undefined): Promise<{ cp: Checkpoint; note?: string }> {
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(await readSource(source));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.FAILED, `${source} is not an audit checkpoint: ${(err as Error).message}`);
  }
  const keysFrom = jwksSource ?? (/^https?:\/\//.test(source) ? new URL('/.gatehouse/jwks.json', source).href : undefined);
  if (keysFrom === undefined) return { cp, note: `note: the signature of the checkpoint in ${source} was not checked (give --jwks FILE|URL)` };
  let jwks: { keys?: unknown[] };
  try {
    jwks = JSON.parse(await readSource(keysFrom)) as { keys?: unknown[] };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.FAILED, `${keysFrom} is not a JSON key set`);
  }
  const problem = checkpointSignatureProblem(cp, jwks);
  if (problem !== undefined) throw new CliError(EXIT.FAILED, `the checkpoint in ${source} cannot be trusted: ${problem}`);
  return { cp };
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
    throw new CliError(EXIT.FAILED, `no audit log at ${live}`);
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

/** Verifies files as one chain, oldest first, streaming each; every anchor must be reached with its hash. */
async function verifySeries(files: string[], anchors: Anchor[], macKey: Buffer | undefined): Promise<SeriesResult> {
  const notes: string[] = [];
  let head: ChainHead | undefined;
  let count = 0;
  const pending = new Map(anchors.map((a) => [a.seq, a]));
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
          for (const a of pending.values()) {
            if (a.seq > head.seq) continue;
            pending.delete(a.seq);
            notes.push(`note: ${a.what} (seq ${a.seq}) precedes the first record checked (seq ${head.seq + 1}); not checked`);
          }
        }
        verifier = new ChainVerifier(head, macKey);
      }
      const broken = verifier.push(piece.text);
      if (broken) return { ok: false, where: `${file}:${broken.line}`, reason: broken.reason, notes };
      const a = pending.get(verifier.head.seq);
      if (a) {
        pending.delete(a.seq);
        if (verifier.head.hash !== a.hash) {
          return { ok: false, where: `${file}:${verifier.lineNumber}`, reason: `hash differs from ${a.what} recorded for seq ${a.seq}`, notes };
        }
      }
    }
    if (verifier === undefined) verifier = new ChainVerifier(head ?? CHAIN_ORIGIN, macKey);
    const end = verifier.end(tail);
    if (!end.ok) return { ok: false, where: `${file}:${end.line}`, reason: end.reason, notes };
    for (const w of end.warnings) notes.push(`warning: ${file}: ${w}`);
    count += end.count;
    head = end.last;
  }
  const last = head ?? CHAIN_ORIGIN;
  const missed = [...pending.values()].sort((x, y) => y.seq - x.seq)[0];
  if (missed) {
    return { ok: false, where: `${files[files.length - 1]}`, reason: `the log ends at seq ${last.seq}, before ${missed.what}'s seq ${missed.seq} (records cut off the end)`, notes };
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
