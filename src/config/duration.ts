// Durations (`30s`, `1h30m`) and byte sizes (`1MiB`, `10MB`) as operators write
// them in the config, turned into plain numbers (milliseconds, bytes).

/** A duration after loading. */
export type Millis = number;

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PART = /(\d+)(ms|s|m|h|d|w)/y;

/**
 * Milliseconds for `500ms`, `30s`, `5m`, `12h`, `30d`, `2w` or a combination
 * such as `1h30m`. `0` (number or string) is 0. A bare non-zero number is
 * rejected: `timeout: 30` could mean seconds or milliseconds, so we make the
 * operator say which.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (input === 0) return 0;
    throw new Error(`"${input}" needs a unit: write e.g. ${input}s, ${input}ms or ${input}m`);
  }
  const s = input.trim();
  if (s === '0') return 0;
  if (s === '') throw new Error('empty duration: write e.g. 30s, 5m, 12h or 1h30m');
  if (/^\d+$/.test(s)) throw new Error(`"${s}" needs a unit: write e.g. ${s}s, ${s}ms or ${s}m`);
  let total = 0;
  let seen = '';
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const at = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(s);
    if (!m) {
      throw new Error(`invalid duration "${s}" at "${s.slice(at)}": use units ms, s, m, h, d, w (e.g. 30s, 5m, 1h30m)`);
    }
    const unit = m[2];
    if (seen.includes(`|${unit}|`)) throw new Error(`invalid duration "${s}": unit "${unit}" appears twice`);
    seen += `|${unit}|`;
    total += Number(m[1]) * DURATION_UNITS[unit];
  }
  if (!Number.isSafeInteger(total)) throw new Error(`duration "${s}" is too large`);
  return total;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Bytes for a non-negative integer or `512KiB`, `1MiB`, `10MB` (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024). */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new Error(`invalid size ${input}: use a whole number of bytes or e.g. 512KiB, 1MiB, 10MB`);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(input.trim());
  const unit = m ? (m[2] ?? 'b').toLowerCase() : '';
  if (!m || !(unit in BYTE_UNITS)) {
    throw new Error(`invalid size "${input}": use e.g. 16384, 512KiB, 1MiB, 10MB or 1GiB`);
  }
  const bytes = Number(m[1]) * BYTE_UNITS[unit];
  if (!Number.isSafeInteger(bytes)) {
    throw new Error(`invalid size "${input}": must come to a whole number of bytes`);
  }
  return bytes;
}
