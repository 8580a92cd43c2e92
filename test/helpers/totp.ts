// TOTP codes for tests from Debian's oathtool (an implementation independent of
// the gateway's), at a time the caller passes in, and enrollment of TOTP on
// the gateway's own pages for a signed-in client.

import { execFileSync } from 'node:child_process';
import type { Client } from './gateway.ts';

/** The code for `secret` at `at` (unix ms; default: now plus `offsetSteps` 30 s steps). */
export function totpCode(secret: string, at: number = Date.now(), offsetSteps = 0): string {
  const when = new Date(at + offsetSteps * 30_000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return execFileSync('oathtool', ['--totp', '-b', '--now', when, secret.replace(/\s+/g, '')]).toString().trim();
}

/** Enrolls TOTP for a signed-in client that has no second factor yet; returns the enrollment answer and the secret. */
export async function enrollTotp(c: Client, rd: string, now: () => number = Date.now): Promise<{ r: Response; secret: string }> {
  const html = await (await c.fetch(`/.gatehouse/enroll?rd=${encodeURIComponent(rd)}&method=totp`)).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1];
  if (!secret) throw new Error('no TOTP secret on the enrollment page');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
  const r = await c.postForm('/.gatehouse/enroll', { csrf, rd, action: 'totp', code: totpCode(secret, now()) });
  return { r, secret };
}

/** Passes a TOTP challenge for a signed-in client (a code one step ahead, so it is not the enrollment's code replayed). */
export async function passTotp(c: Client, secret: string, rd: string, now: () => number = Date.now): Promise<Response> {
  const csrf = await c.csrf(`/.gatehouse/challenge?rd=${encodeURIComponent(rd)}&method=totp`);
  return c.postForm('/.gatehouse/challenge', { csrf, rd, method: 'totp', code: totpCode(secret, now(), 1) });
}
