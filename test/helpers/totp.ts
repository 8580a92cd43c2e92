// TOTP codes from Debian's oathtool (an implementation independent of the
// gateway's) and enrollment of an authenticator app over plain HTTP.

import { execFileSync } from 'node:child_process';
import { Client, type GatewayFixture, type TestClock } from './gateway.ts';

export const TOTP_PERIOD_MS = 30_000;

/** The TOTP code of `secret` for time step `step` (oathtool, base32 secret). */
export function oathtoolAt(secret: string, step: number): string {
  const when = new Date(step * TOTP_PERIOD_MS + 1_000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return execFileSync('oathtool', ['--totp', '-b', '--now', when, secret.replace(/\s+/g, '')]).toString().trim();
}

/**
 * Hands out TOTP codes the gateway will accept: each from a later time step
 * than the last one used (the replay guard refuses a step at or before the
 * newest used one), within the ±1 step window. When the window is used up it
 * moves the gateway's clock to the next step; a gateway in another process
 * (no clock to move) is waited for on the real clock.
 */
export class TotpDevice {
  readonly secret: string;
  readonly #clock: TestClock | undefined;
  #lastStep = -Infinity;
  constructor(secret: string, clock?: TestClock) {
    this.secret = secret.replace(/\s+/g, '');
    this.#clock = clock;
  }

  async next(): Promise<string> {
    const clockNow = this.#clock?.now ?? Date.now;
    for (;;) {
      const at = clockNow();
      const now = Math.floor(at / TOTP_PERIOD_MS);
      // Stay clear of the window's far edge: a code for now+1 is fine, now+2 is not.
      const step = Math.max(this.#lastStep + 1, now - 1);
      // Near a step boundary the server's clock may already be past `now - 1`.
      const safe = step === now - 1 && at % TOTP_PERIOD_MS > TOTP_PERIOD_MS - 3_000 ? step + 1 : step;
      if (safe <= now + 1) {
        this.#lastStep = safe;
        return oathtoolAt(this.secret, safe);
      }
      const untilNextStep = (now + 1) * TOTP_PERIOD_MS - at + 200;
      if (this.#clock) this.#clock.advance(untilNextStep);
      else await new Promise((r) => setTimeout(r, untilNextStep));
    }
  }
}

/**
 * Enrolls an authenticator app for `username` over plain HTTP (no browser, as
 * test/factors/mfa-flow.test.ts does) and returns the device that makes its codes.
 */
export async function enrollTotpOverHttp(f: GatewayFixture, username: string, password: string, http = new Client(f.url)): Promise<TotpDevice> {
  await http.signIn(username, password, '/');
  const setup = await (await http.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(setup)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(setup)?.[1];
  if (!secret || !csrf) throw new Error(`no TOTP setup page for ${username}`);
  const device = new TotpDevice(secret, f.clock);
  const r = await http.postForm('/.gatehouse/enroll', { csrf, rd: '/', action: 'totp', code: await device.next() });
  if (r.status !== 303) throw new Error(`TOTP enrollment for ${username} answered ${r.status}`);
  return device;
}

/** The code for `secret` at `at` (unix ms, a clock the caller passes in). */
export function totpCode(secret: string, at: number): string {
  return oathtoolAt(secret, Math.floor(at / TOTP_PERIOD_MS));
}

/**
 * Enrolls TOTP for a client already signed in (e.g. on an app's own form under
 * identity.source upstream_form) that has no second factor yet; returns the
 * enrollment answer and the device (pass the gateway's clock: see TotpDevice).
 */
export async function enrollTotp(c: Client, rd: string, clock?: TestClock): Promise<{ r: Response; device: TotpDevice }> {
  const html = await (await c.fetch(`/.gatehouse/enroll?rd=${encodeURIComponent(rd)}&method=totp`)).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!secret || !csrf) throw new Error('no TOTP setup page');
  const device = new TotpDevice(secret, clock);
  const r = await c.postForm('/.gatehouse/enroll', { csrf, rd, action: 'totp', code: await device.next() });
  return { r, device };
}

/** Passes a TOTP challenge for a signed-in client with the device's next code. */
export async function passTotp(c: Client, device: TotpDevice, rd: string): Promise<Response> {
  const csrf = await c.csrf(`/.gatehouse/challenge?rd=${encodeURIComponent(rd)}&method=totp`);
  return c.postForm('/.gatehouse/challenge', { csrf, rd, method: 'totp', code: await device.next() });
}

/** Passes the TOTP check a kept request was sent to (`challenge`: its challenge URL, with rd, rule and stash); a 303 to the resume target on success. */
export async function passStashedChallenge(c: Client, challenge: URL, device: TotpDevice): Promise<Response> {
  const q = challenge.searchParams;
  const csrf = await c.csrf(`/.gatehouse/challenge?${q}&method=totp`);
  return c.postForm('/.gatehouse/challenge', { csrf, rd: q.get('rd')!, rule: q.get('rule')!, stash: q.get('stash')!, method: 'totp', code: await device.next() });
}
