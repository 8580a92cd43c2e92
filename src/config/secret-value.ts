// Reading one secret of the config (session.secret, factors.encryption_key,
// audit.key): from the file, else from the environment. The section builders
// use it; the rules across sections are in secrets.ts.

import type { PathSegment } from './interpolate.ts';
import type { Obj, Reader } from './reader.ts';

/** A secret from the config, else from its environment variable (so production needs no config edit), else '' (dev secret later). */
export function secretValue(r: Reader, o: Obj, key: string, at: PathSegment[], env: NodeJS.ProcessEnv, envName: string): string {
  const fromEnv = o[key] === undefined && env[envName] ? env[envName] : undefined;
  const value = fromEnv ?? r.str(o, key) ?? '';
  if ((o[key] !== undefined || fromEnv !== undefined) && value.length < 32) {
    r.fail([...at, key], `${fromEnv !== undefined ? `(from ${envName}) ` : ''}must be at least 32 characters (got ${value.length})`);
  }
  return value;
}
