// What bounds passkey sign-in starts. A start used to leave its challenge in
// shared state for the ceremony's lifetime, bounded for the whole gateway: a
// handful of addresses at their per-address ceiling could fill that pool, and
// passkey sign-in was then refused for everyone. Bounding what each address
// holds cannot fix that without turning away a busy NAT (hundreds of people on
// one address need as much as an attacker's address takes). So a start holds
// nothing: the challenge carries its own expiry and the browser it belongs to
// under a MAC (factors/passkey-challenge.ts), and only answering it writes
// shared state, to spend it once; answers count against the address like
// password attempts. What one address can still do is make work, hence the
// per-address ceiling on starts (ui/passkey-signin.ts), high for NAT; an IPv6
// client counts by its /64 (startSource).
// README "Passkey sign-in" states the figures.

import { isIP } from 'node:net';
import { expandIPv6 } from '../session/session-registry.ts';

/**
 * What the per-address ceiling counts: an IPv4 address, or the /64 of an IPv6
 * one. One IPv6 host is routinely given a whole /64: counted by address, it
 * would have a fresh ceiling for every address it picks.
 */
export function startSource(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  return `${expandIPv6(ip.split('%')[0]).slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
