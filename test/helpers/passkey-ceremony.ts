// The WebAuthn ceremonies over plain HTTP, as views/static/webauthn.js runs
// them (JSON endpoints, CSRF in a header), with a SoftAuthenticator for the
// browser's part; and a gateway with a webauthn-only rule to run them against.

import type { Test } from 'tap';
import { Client, type GatewayFixture, type TestUser } from './gateway.ts';
import { startLenientGateway } from './lenient-gateway.ts';
import type { LenientUpstream } from './lenient-upstream.ts';
import type { SoftAuthenticator } from './soft-authenticator.ts';

/** The headers of webauthn.js's fetches: a JSON answer, not a page. */
export const json = { accept: 'application/json', 'sec-fetch-mode': 'cors' } as const;

/** `/keys/**` needs a webauthn check of the last ten minutes. */
export const KEYS_ONLY = { id: 'keys-only', match: { path: '/keys/**' }, require: 'mfa', max_age: '10m', factors: ['webauthn'] };

export interface PasskeyGateway<U extends Record<string, TestUser>> {
  f: GatewayFixture;
  up: LenientUpstream;
  /** A new client signed in as `user` with its password (throws unless the sign-in succeeds). */
  signedIn(user: keyof U & string): Promise<Client>;
}

/**
 * A gateway in front of a lenient upstream (answers `seen METHOD TARGET`) for
 * `users`, enforcing for everyone: default `mfa`, plus `rules`.
 */
export async function startPasskeyGateway<U extends Record<string, TestUser>>(t: Test, users: U, rules: Record<string, unknown>[] = [KEYS_ONLY]): Promise<PasskeyGateway<U>> {
  const { f, up } = await startLenientGateway(t, {
    users,
    config: { policy: { default: 'mfa', rules }, rollout: { enforce_for: ['everyone'], grace_until: '2099-12-31' } },
  });
  const signedIn = async (user: keyof U & string) => {
    const c = new Client(f.url);
    const r = await c.signIn(user, users[user].password);
    if (r.status !== 303) throw new Error(`sign-in of ${user}: ${r.status}`);
    return c;
  };
  return { f, up, signedIn };
}

/** What the gateway decided for a GET: 200 = let through to the upstream, 401 = challenged. */
export async function getStatus(c: Client, path: string): Promise<number> {
  return (await c.fetch(path, { headers: json })).status;
}

/** A POST to a ceremony endpoint, as webauthn.js sends it. */
export function postJson(c: Client, path: string, csrf: string, body: unknown): Promise<Response> {
  return c.fetch(path, { method: 'POST', headers: { ...json, 'content-type': 'application/json', origin: c.origin, 'x-csrf-token': csrf }, body: JSON.stringify(body) });
}

/** The CSRF token a page hands its script (data-csrf); '' when there is none. */
export function csrfOf(html: string): string {
  return /data-csrf="([^"]+)"/.exec(html)?.[1] ?? '';
}

export interface CeremonyAnswer { status: number; redirect?: string; error?: string }

/**
 * Registers `key` as a passkey from the setup page at `query`
 * (/.gatehouse/enroll?QUERY&method=webauthn): register-options, then
 * register-verify. `csrf` is that page's token; without it the page is fetched
 * for one. The register-verify answer, or the refusal of register-options.
 */
export async function registerPasskey(c: Client, key: SoftAuthenticator, o: { query?: string; csrf?: string } = {}): Promise<CeremonyAnswer> {
  const query = o.query ?? 'rd=%2F';
  const csrf = o.csrf ?? csrfOf(await (await c.fetch(`/.gatehouse/enroll?${query}&method=webauthn`)).text());
  const opts = await postJson(c, '/.gatehouse/webauthn/register-options', csrf, { kind: 'passkey', query });
  const ob = await opts.json() as { options?: { challenge: string; user: { id: string } }; redirect?: string; error?: string };
  if (opts.status !== 200) return { status: opts.status, redirect: ob.redirect, error: ob.error };
  const r = await postJson(c, '/.gatehouse/webauthn/register-verify', csrf, { kind: 'passkey', name: 'Key', query, response: key.register(ob.options!) });
  const rb = await r.json() as { redirect?: string; error?: string };
  return { status: r.status, redirect: rb.redirect, error: rb.error };
}

/** The second-factor challenge page at `path` (GET), then auth-options: the page's CSRF token and the challenge. */
export async function authOptions(c: Client, path = '/.gatehouse/challenge?method=webauthn'): Promise<{ csrf: string; challenge: string }> {
  const csrf = csrfOf(await (await c.fetch(path)).text());
  const r = await postJson(c, '/.gatehouse/webauthn/auth-options', csrf, {});
  if (r.status !== 200) throw new Error(`auth-options: ${r.status}`);
  return { csrf, challenge: (await r.json() as { options: { challenge: string } }).options.challenge };
}

function postAssertion(c: Client, csrf: string, response: unknown, query: string): Promise<Response> {
  return postJson(c, '/.gatehouse/webauthn/auth-verify', csrf, { query, response });
}

/** auth-verify with `response` (any assertion, made for any challenge): its status. */
export async function authVerify(c: Client, csrf: string, response: unknown, query = ''): Promise<number> {
  return (await postAssertion(c, csrf, response, query)).status;
}

/** A whole ceremony with `key` on the challenge page at `path`: the auth-verify status and redirect. */
export async function useKey(c: Client, path: string, key: SoftAuthenticator): Promise<CeremonyAnswer> {
  const { csrf, challenge } = await authOptions(c, path);
  const r = await postAssertion(c, csrf, key.assert(challenge), new URL(path, c.base).search.slice(1));
  return { status: r.status, redirect: (await r.json() as { redirect?: string }).redirect };
}
