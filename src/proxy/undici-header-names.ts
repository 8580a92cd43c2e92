// undici checks every request header it is given, per request: it looks the
// name up in its table of well-known names (name → lower case), and a name not
// found there is lowercased and checked against the token grammar again. The
// names gatehouse adds to every proxied request (X-Forwarded-*, X-Request-Id,
// the identity headers and the assertion) are fixed per config, so they are
// entered into that table once per load: undici then finds them as it finds
// `Host`. Under callgrind that is about 15,000 instructions per signed-in request
// (README, Performance). The table maps a name to its lower case and undici
// reads nothing else from it, so an entry changes no answer: it only skips the
// token check, which is done here first. If the table is not where or what this
// expects (another undici), undici is left alone and requests cost what they did.

import { createRequire } from 'node:module';
import { TOKEN } from '../config/value-checks.ts';

function undiciNameTable(): Record<string, string> | undefined {
  try {
    const constants = createRequire(import.meta.url)('undici/lib/core/constants.js') as { headerNameLowerCasedRecord?: unknown };
    const table = constants.headerNameLowerCasedRecord as Record<string, string> | undefined;
    return typeof table === 'object' && table !== null && table.Host === 'host' && table.host === 'host' ? table : undefined;
  } catch {
    return undefined;
  }
}

const table = undiciNameTable();

/** Enters header names into undici's table of known names; returns how many were new. Not a token: left for undici to check (and refuse). */
export function makeKnownToUndici(names: Iterable<string>): number {
  if (table === undefined) return 0;
  let added = 0;
  for (const name of names) {
    if (!TOKEN.test(name)) continue;
    const lower = name.toLowerCase();
    for (const key of [name, lower]) {
      if (table[key] === undefined) {
        table[key] = lower;
        added++;
      }
    }
  }
  return added;
}
