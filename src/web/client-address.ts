// Who is the client? Only peers inside server.trusted_proxies may tell us
// (X-Forwarded-For/-Proto/-Host); from anyone else those headers are ignored
// and later replaced, never appended to.

import { BlockList, isIP } from 'node:net';

export interface ClientFacts {
  ip: string;            // the client address we believe
  proto: 'http' | 'https';
  host: string;          // host[:port] as the client addressed us
  viaTrustedProxy: boolean;
  /** The X-Forwarded-For value to send upstream. */
  forwardedFor: string;
}

/** A set of addresses from CIDRs (server.trusted_proxies, server.metrics_allow). */
export function addressList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [addr, bits] = entry.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export const trustedProxyList = addressList;

const empty = new WeakMap<BlockList, boolean>();
/** An empty list (the default) needs no address parsing per request. */
function trustsNobody(list: BlockList): boolean {
  let e = empty.get(list);
  if (e === undefined) empty.set(list, (e = list.rules.length === 0));
  return e;
}

export function isTrusted(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 6 && ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) {
    return list.check(ip.slice(7), 'ipv4') || list.check(ip, 'ipv6');
  }
  return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** Strips an IPv4-mapped IPv6 prefix so logs and rules see 10.0.0.1, not ::ffff:10.0.0.1. */
export function plainAddress(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function firstValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v[0] : v;
  const comma = s.indexOf(',');
  return (comma === -1 ? s : s.slice(0, comma)).trim() || undefined;
}

/**
 * Resolves the client from the socket peer and, when the peer is trusted, the
 * forwarded headers: the client is the right-most X-Forwarded-For hop that is
 * not itself a trusted proxy.
 */
export function resolveClient(
  peer: string,
  headers: { 'x-forwarded-for'?: string | string[]; 'x-forwarded-proto'?: string | string[]; 'x-forwarded-host'?: string | string[]; host?: string },
  trusted: BlockList,
  ownProto: 'http' | 'https',
): ClientFacts {
  const peerIp = plainAddress(peer);
  const host = headers.host ?? '';
  if (trustsNobody(trusted) || !isTrusted(trusted, peerIp)) {
    return { ip: peerIp, proto: ownProto, host, viaTrustedProxy: false, forwardedFor: peerIp };
  }
  const xff = headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : xff ?? '')
    .split(',').map((s) => s.trim()).filter((s) => isIP(plainAddress(s)) !== 0);
  let ip = peerIp;
  for (let i = chain.length - 1; i >= 0; i--) {
    ip = plainAddress(chain[i]);
    if (!isTrusted(trusted, ip)) break;
  }
  const proto = firstValue(headers['x-forwarded-proto']);
  const fwdHost = firstValue(headers['x-forwarded-host']);
  return {
    ip,
    proto: proto === 'https' ? 'https' : proto === 'http' ? 'http' : ownProto,
    host: fwdHost ?? host,
    viaTrustedProxy: true,
    forwardedFor: chain.length ? `${chain.join(', ')}, ${peerIp}` : peerIp,
  };
}
