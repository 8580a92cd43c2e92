// session: the gateway's session cookie and how long a session lasts.

import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { duration, nonEmpty, obj, type PropertiesOf } from '../schema-kit.ts';
import { secretValue } from '../secret-value.ts';

export const sessionSchema = obj({
  secret: nonEmpty,
  secret_file: nonEmpty,
  cookie_name: nonEmpty,
  max_age: duration,
  idle_timeout: duration,
  remember_device: duration,
} satisfies PropertiesOf<SessionConfig, 'secret_file'>);

export interface SessionConfig {
  secret: string;                 // >= 32 chars
  cookie_name: string;            // default __gatehouse (or __Host-gatehouse on https)
  max_age: Millis;                // absolute; default 12h
  idle_timeout: Millis;           // default 30m
  remember_device: Millis;        // 0 disables; default 30d
}

export function buildSession(r: Reader, s: Obj, publicUrl: string, env: NodeJS.ProcessEnv): SessionConfig {
  const at = ['session'];
  const secret = secretValue(r, s, 'secret', at, env, 'GATEHOUSE_SESSION_SECRET');
  const https = publicUrl.startsWith('https:');
  const cookie_name = r.str(s, 'cookie_name') ?? (https ? '__Host-gatehouse' : 'gatehouse');
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookie_name)) r.fail([...at, 'cookie_name'], 'must be a valid cookie name (letters, digits, - _ . etc.)');
  // Browsers drop __Host-/__Secure- cookies that are not Secure, i.e. on http.
  if (!https && /^__(Host|Secure)-/.test(cookie_name)) {
    r.fail([...at, 'cookie_name'], 'a __Host- or __Secure- cookie needs an https server.public_url; browsers would drop it');
  }
  return {
    secret,
    cookie_name,
    max_age: r.duration(s, 'max_age', at, '12h'),
    idle_timeout: r.duration(s, 'idle_timeout', at, '30m'),
    remember_device: r.duration(s, 'remember_device', at, '30d'),
  };
}
