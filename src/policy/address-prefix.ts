// What a client address says coarser than itself, for everything that groups
// clients by address: a sign-in's network (risk-signals.ts), where a browser
// was seen (session/session-registry.ts), and what a per-address ceiling
// counts (ui/passkey-signin.ts, identity/throttle.ts). Pure.

import { isIPv4, isIPv6 } from 'node:net';

/** The address alone (brackets, an IPv6 zone and the IPv4-mapped prefix taken off) and its family; 0 when not an address. */
export function plainAddress(ip: string): { addr: string; family: 0 | 4 | 6 } {
  let addr = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = addr.indexOf('%');
  if (zone !== -1) addr = addr.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped) addr = mapped[1];
  return { addr, family: isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0 };
}

/** The eight 16-bit groups of an IPv6 address, lower-case (an embedded IPv4 tail as two groups). */
export function expandIPv6(addr: string): string[] {
  let a = addr.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b1, b2, b3, b4] = v4.slice(1).map(Number);
    a = `${a.slice(0, v4.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head, tail] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right];
}

/** The first `groups` groups of an IPv6 address as a prefix: `2001:db8:0::/48`. */
function ipv6Prefix(addr: string, groups: number): string {
  return `${expandIPv6(addr).slice(0, groups).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/${groups * 16}`;
}

/** The client's network: `a.b.c.0/24` for IPv4 (IPv4-mapped IPv6 too), `x:y:z::/48` for IPv6; null when not an address. */
export function networkOf(ip: string): string | null {
  const { addr, family } = plainAddress(ip);
  if (family === 4) return `${addr.split('.').slice(0, 3).join('.')}.0/24`;
  return family === 6 ? ipv6Prefix(addr, 3) : null;
}

/**
 * What a per-address ceiling counts: an IPv4 address itself, or the /64 of an
 * IPv6 one (one host is routinely given a whole /64: counted by address, it
 * would have a fresh ceiling for every address it picks). Not an address: as given.
 */
export function addressSource(ip: string): string {
  const { addr, family } = plainAddress(ip);
  return family === 6 ? ipv6Prefix(addr, 4) : family === 4 ? addr : ip;
}
