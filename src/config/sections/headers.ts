// headers: the identity headers (and signed assertion) sent to upstreams.

import type { Obj, Reader } from '../reader.ts';
import { bool, obj, type PropertiesOf } from '../schema-kit.ts';

const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", errorHint: 'must be a valid HTTP header name' };

export const headersSchema = obj({
  prefix: headerName,
  jwt: bool,
  names: obj({
    user: headerName,
    email: headerName,
    groups: headerName,
    auth_methods: headerName,
    auth_time: headerName,
    assertion: headerName,
  } satisfies PropertiesOf<HeaderNames>),
} satisfies PropertiesOf<HeadersConfig>);

export interface HeaderNames {
  user: string;
  email: string;
  groups: string;
  auth_methods: string;
  auth_time: string;
  assertion: string;
}
export interface HeadersConfig {
  prefix: string;                 // default X-Gatehouse-
  jwt: boolean;                   // default true
  names: HeaderNames;             // built from prefix unless set: User, Email, Groups, Auth-Methods, Auth-Time, Assertion
}

/**
 * The same string, as V8's one shared copy (a property key is one): these names go
 * with every proxied request, and a name built by concatenation or parsed from YAML
 * costs undici a string-table lookup each time it looks one up (proxy/undici-header-names.ts).
 */
function interned(s: string): string {
  return Object.keys({ [s]: 0 })[0];
}

export function buildHeaders(r: Reader, h: Obj): HeadersConfig {
  const prefix = r.str(h, 'prefix') ?? 'X-Gatehouse-';
  const n = r.section(h, 'names');
  const name = (key: string, suffix: string) => interned(r.str(n, key) ?? `${prefix}${suffix}`);
  return {
    prefix,
    jwt: r.bool(h, 'jwt', true),
    names: {
      user: name('user', 'User'),
      email: name('email', 'Email'),
      groups: name('groups', 'Groups'),
      auth_methods: name('auth_methods', 'Auth-Methods'),
      auth_time: name('auth_time', 'Auth-Time'),
      assertion: name('assertion', 'Assertion'),
    },
  };
}
