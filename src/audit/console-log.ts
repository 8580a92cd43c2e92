// The log as a person at a terminal reads it: one line per entry, time,
// level, message, then the other fields as key=value. pino and the request
// log write JSON lines; this stream turns each into text before it reaches
// the terminal. Used only when standard output is a terminal: a file or a
// pipe gets the JSON lines unchanged, for log tooling.

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
// ANSI colours per level (dim, dim, green, yellow, red, red).
const COLOURS: Record<number, string> = { 10: '2', 20: '2', 30: '32', 40: '33', 50: '31', 60: '31' };
// pino's fixed fields, shown in the line's head (or not at all: svc, pid, hostname say nothing at a terminal).
const HEAD = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname']);

export interface ConsoleLogOptions {
  colour?: boolean;
}

/** One JSON log line as text; a line that is not JSON passes through as is. */
export function formatLogLine(line: string, options: ConsoleLogOptions = {}): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line;
  const e = entry as Record<string, unknown>;
  const level = typeof e.level === 'number' ? e.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const time = typeof e.time === 'number' ? new Date(e.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(e)
    .filter(([key, value]) => !HEAD.has(key) && value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const head = options.colour ? `\x1b[${COLOURS[level] ?? '0'}m${name}\x1b[0m` : name;
  return [time, head, typeof e.msg === 'string' ? e.msg : '', ...fields].filter((p) => p !== '').join(' ');
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object') {
    // An error pino serialized: its stack is what a person wants to read.
    const stack = (value as { stack?: unknown }).stack;
    if (typeof stack === 'string') return `\n    ${stack.split('\n').join('\n    ')}\n`;
    return JSON.stringify(value);
  }
  return String(value);
}

/** A log destination for pino and the request log that writes text lines to `out`. */
export function consoleLogDestination(out: { write(s: string): unknown }, options: ConsoleLogOptions = {}): { write(s: string): void } {
  return {
    write(chunk: string) {
      const lines = chunk.split('\n').filter((l) => l !== '');
      if (lines.length > 0) out.write(`${lines.map((l) => formatLogLine(l, options)).join('\n')}\n`);
    },
  };
}
