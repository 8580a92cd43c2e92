// What the gateway told this app about the user, read from the identity headers
// (README "Identity to the upstream"). Pure: headers in, a plain record out.
// The portal only displays it; it does not verify the assertion (a real app
// would check it against the gateway's JWKS).

import type { IncomingHttpHeaders } from 'node:http';

export const DEFAULT_HEADER_PREFIX = 'X-Gatehouse-';

export interface GatewayIdentity {
  user?: string;
  email?: string;
  groups: string[];
  authMethods: string[];
  authTime?: number;            // unix seconds
  assertion?: AssertionSummary; // present when the assertion header was sent
}

export interface AssertionSummary {
  alg?: string;
  sub?: string;
  exp?: number;
  wellFormed: boolean;          // three base64url parts whose first two parse as JSON
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v.join(', ') : v;
  return s === undefined || s === '' ? undefined : s;
}

function splitList(value: string | undefined, separator: RegExp): string[] {
  return value === undefined ? [] : value.split(separator).map((s) => s.trim()).filter((s) => s !== '');
}

function decodeJsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function summarizeAssertion(token: string): AssertionSummary {
  const parts = token.split('.');
  const header = parts.length === 3 ? decodeJsonPart(parts[0]) : undefined;
  const payload = parts.length === 3 ? decodeJsonPart(parts[1]) : undefined;
  if (header === undefined || payload === undefined) return { wellFormed: false };
  return {
    wellFormed: true,
    alg: typeof header.alg === 'string' ? header.alg : undefined,
    sub: typeof payload.sub === 'string' ? payload.sub : undefined,
    exp: typeof payload.exp === 'number' ? payload.exp : undefined,
  };
}

export function readGatewayIdentity(headers: IncomingHttpHeaders, prefix: string = DEFAULT_HEADER_PREFIX): GatewayIdentity {
  const authTime = Number(headerValue(headers, `${prefix}Auth-Time`));
  const assertion = headerValue(headers, `${prefix}Assertion`);
  return {
    user: headerValue(headers, `${prefix}User`),
    email: headerValue(headers, `${prefix}Email`),
    groups: splitList(headerValue(headers, `${prefix}Groups`), /,/),
    authMethods: splitList(headerValue(headers, `${prefix}Auth-Methods`), /[\s,]+/),
    authTime: Number.isFinite(authTime) && authTime > 0 ? authTime : undefined,
    assertion: assertion === undefined ? undefined : summarizeAssertion(assertion),
  };
}
