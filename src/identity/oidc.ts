// `identity.source: oidc`: the gateway signs people in at the
// company's OpenID provider and adds its own second factor, or counts the
// IdP's when the operator trusts it. The protocol work is openid-client v6
// (discovery, PKCE, state/nonce/iss/aud/exp/signature checks); this file keeps
// the gateway's side of it: per-flow state, the choices below, and back-channel
// logout.
//
// Design choices:
// - Discovery from `issuer` (/.well-known/openid-configuration), lazily and
//   cached: the gateway starts even while the IdP is down (sign-ins answer 503
//   until it is back; a failed discovery is retried on the next sign-in).
//   Every call to the IdP times out (10 s): never a hung sign-in.
// - Authorization code flow with PKCE (S256), `state` and `nonce`, always,
//   also for confidential clients. The verifier, nonce, return target and a
//   binding to the browser live in shared state under `oidc:flow:<state>`
//   (10 min, taken once: a replayed or forged callback finds nothing), so a
//   flow started on one instance finishes on another.
// - Login CSRF: the flow is bound to the browser that started it (a hash of
//   its gateway session's CSRF token, which survives session-id rotation); a
//   callback URL carried to another browser is refused.
// - Client authentication: no client_secret → a public client (PKCE only);
//   with one, client_secret_basic when the IdP lists it (or lists nothing: the
//   spec's default), else client_secret_post.
// - Claims: the ID token's, plus userinfo's when the IdP has a userinfo
//   endpoint (spec-conformant IdPs put profile/email/groups there, not in the
//   ID token); the ID token wins on a conflict. A failing userinfo call fails
//   the sign-in: missing groups could skip a `not_groups` rule (fail closed).
//   User id = the `username_claim` claim, default `sub` (stable, not editable
//   by users, scoped by the one issuer); preferred_username or email only when
//   the operator asks (`check` warns: users may change them at the IdP); never
//   a fallback from one claim to another. Groups from `groups_claim` (array, or a space/comma-separated
//   string; a dotted name walks nested claims). See oidc-claims.ts.
// - The IdP's `amr` is recorded (session amr = ['ext', ...idp amr]) and
//   `trust_idp_mfa` lists the amr values counted as a second factor, with the
//   IdP's auth_time as its freshness: hwk/phr → a 'webauthn' check
//   (phishing-resistant), anything else trusted → a 'totp' check (so rules
//   accepting an authenticator app count the IdP's OTP, and webauthn-only
//   rules do not). The trusted kind is also recorded as enrolled, so a stale
//   IdP factor leads to a step-up challenge, which offers "sign in again at
//   your identity provider" (login with fresh=1 → prompt=login, max_age=0,
//   and the returned auth_time must then be fresh).
// - Logout: RP-initiated. After the gateway revokes its session it sends the
//   browser to the IdP's end_session_endpoint with client_id and
//   post_logout_redirect_uri = <public_url>/.gatehouse/logout (no
//   id_token_hint: keeping ID tokens would bloat the cookie or shared state;
//   the IdP then asks the user to confirm). Back-channel logout: the IdP POSTs
//   a logout_token to /.gatehouse/oidc/backchannel-logout; it is verified
//   against the IdP's JWKS (iss, aud, iat, events, no nonce, jti once), and its
//   `sid`/`sub` are mapped (shared state, kept as long as a session lives) to
//   the gateway user, whose sessions are all revoked. (Gateway session ids
//   rotate at every step-up, so per-session precision is not kept.)
// - Register at the IdP: redirect URI <public_url>/.gatehouse/oidc/callback,
//   post-logout redirect URI <public_url>/.gatehouse/logout, back-channel
//   logout URI <public_url>/.gatehouse/oidc/backchannel-logout.
// - Reload: issuer, client_id and client_secret are read at start (restart to
//   change them); claims mapping and trust_idp_mfa follow the running config.

import { createHash, timingSafeEqual } from 'node:crypto';
import type * as OpenId from 'openid-client';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import type { OidcIdentityConfig } from '../config/types.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { AuthResult, IdentitySource } from './types.ts';
import type { Claims } from './oidc-claims.ts';

export const CALLBACK_PATH = '/.gatehouse/oidc/callback';
export const BACKCHANNEL_LOGOUT_PATH = '/.gatehouse/oidc/backchannel-logout';
export const POST_LOGOUT_PATH = '/.gatehouse/logout';

const FLOW_TTL_MS = 10 * 60_000;
const IDP_TIMEOUT_S = 10;
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Why a sign-in at the IdP did not complete; pages word each for the user. */
export type OidcFailure =
  | 'expired'      // no such flow: expired, already used, or a forged state
  | 'mismatch'     // the flow was started by another browser
  | 'denied'       // the IdP answered with an error (user cancelled, access_denied, …)
  | 'rejected'     // the response failed validation (code, nonce, iss, signature, auth_time …)
  | 'unavailable'; // the IdP could not be reached

export class OidcError extends Error {
  readonly kind: OidcFailure;
  constructor(kind: OidcFailure, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.kind = kind;
    this.name = 'OidcError';
  }
}

/** What a flow start remembers until the callback. */
interface FlowState { v: string; n: string; rd: string; fresh: boolean; b: string; t: number }

export interface OidcSignIn {
  /** ID token claims (validated). */
  idToken: Claims;
  /** ID token claims over userinfo claims. */
  claims: Claims;
  rd: string;
  fresh: boolean;
}

export interface OidcClientOptions {
  config: Pick<OidcIdentityConfig, 'issuer' | 'client_id' | 'client_secret' | 'scopes'>;
  publicUrl: string;
  shared: SharedState;
  /** Session lifetime: how long the back-channel mapping sub/sid → user is kept. */
  sessionMaxAge: number;
  now?: () => number;
}

/** The browser binding of a flow: a hash of the session's CSRF token (never the token itself in shared state). */
export function flowBinding(csrf: string): string {
  return createHash('sha256').update(`gatehouse-oidc-flow:${csrf}`).digest('base64url');
}

function sameBinding(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function isNetworkError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: unknown };
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' || (err instanceof TypeError && /fetch failed/i.test(err.message))
    || e?.code === 'OAUTH_TIMEOUT' || (e?.cause !== undefined && e.cause !== err && isNetworkError(e.cause));
}

// The OIDC libraries are loaded on first use: a gateway without an OIDC identity source starts without them.
let openidClientModule: Promise<typeof OpenId> | undefined;
function openidClient(): Promise<typeof OpenId> {
  return (openidClientModule ??= import('openid-client'));
}

export class OidcClient {
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  readonly #o: OidcClientOptions;
  readonly #now: () => number;
  #discovered: Promise<OpenId.Configuration> | undefined;
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(o: OidcClientOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    const origin = new URL(o.publicUrl).origin;
    this.redirectUri = origin + CALLBACK_PATH;
    this.postLogoutRedirectUri = origin + POST_LOGOUT_PATH;
  }

  get issuer(): string { return this.#o.config.issuer; }

  /** The IdP's configuration, discovered once; a failure is not cached (the next call tries again). */
  configuration(): Promise<OpenId.Configuration> {
    this.#discovered ??= this.#discover().catch((err: unknown) => {
      this.#discovered = undefined;
      throw new OidcError('unavailable', `OIDC discovery at ${this.#o.config.issuer} failed: ${(err as Error).message}`, { cause: err });
    });
    return this.#discovered;
  }

  async #discover(): Promise<OpenId.Configuration> {
    const oidc = await openidClient();
    const { issuer, client_id, client_secret } = this.#o.config;
    const server = new URL(issuer);
    // config validation allows http only for localhost issuers (development, tests).
    const insecure = server.protocol === 'http:';
    const execute = insecure ? [oidc.allowInsecureRequests] : [];
    const found = await oidc.discovery(server, client_id, undefined, oidc.None(), { execute, timeout: IDP_TIMEOUT_S });
    const meta = found.serverMetadata();
    const methods = meta.token_endpoint_auth_methods_supported;
    const auth = client_secret === undefined ? oidc.None()
      : methods === undefined || methods.includes('client_secret_basic') ? oidc.ClientSecretBasic(client_secret)
      : oidc.ClientSecretPost(client_secret);
    const config = new oidc.Configuration(meta, client_id, client_secret === undefined ? undefined : { client_secret }, auth);
    if (insecure) oidc.allowInsecureRequests(config);
    config.timeout = IDP_TIMEOUT_S;
    return config;
  }

  /**
   * Starts a sign-in: stores the flow and returns the IdP's authorization URL.
   * `fresh` asks the IdP for a new primary sign-in (prompt=login, max_age=0).
   */
  async authorizationUrl(flow: { rd: string; fresh: boolean; binding: string }): Promise<URL> {
    const config = await this.configuration();
    const oidc = await openidClient();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      response_type: 'code',
      scope: this.#o.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (flow.fresh) {
      params.prompt = 'login';
      params.max_age = '0';
    }
    // auth_time is how fresh the IdP's factor is: ask for it where the IdP takes the claims parameter.
    if (config.serverMetadata().claims_parameter_supported === true) {
      params.claims = JSON.stringify({ id_token: { auth_time: { essential: true }, amr: null, acr: null } });
    }
    const saved: FlowState = { v: verifier, n: nonce, rd: flow.rd, fresh: flow.fresh, b: flow.binding, t: this.#now() };
    await this.#o.shared.set(`oidc:flow:${state}`, JSON.stringify(saved), FLOW_TTL_MS);
    return oidc.buildAuthorizationUrl(config, params);
  }

  /**
   * Finishes a sign-in from the callback URL (as the browser requested it, on
   * the public origin). The flow is taken first, so a callback is good once.
   */
  async finish(callbackUrl: URL, binding: string | undefined): Promise<OidcSignIn> {
    const state = callbackUrl.searchParams.get('state');
    if (!state || state.length > 256) throw new OidcError('expired', 'the callback has no state');
    const raw = await this.#o.shared.take(`oidc:flow:${state}`);
    if (raw === null) throw new OidcError('expired', 'no sign-in flow for this state (expired, already used or forged)');
    let flow: FlowState;
    try { flow = JSON.parse(raw) as FlowState; } catch { throw new OidcError('expired', 'unreadable flow state'); }
    if (binding === undefined || !sameBinding(flow.b, binding)) throw new OidcError('mismatch', 'the sign-in was started in another browser');
    const config = await this.configuration();
    const oidc = await openidClient();
    if (callbackUrl.searchParams.has('error')) {
      const error = callbackUrl.searchParams.get('error') ?? '';
      const description = callbackUrl.searchParams.get('error_description');
      throw new OidcError('denied', `the identity provider answered ${error.slice(0, 64)}${description ? `: ${description.slice(0, 200)}` : ''}`);
    }
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: flow.v,
        expectedNonce: flow.n,
        expectedState: state,
        idTokenExpected: true,
        ...(flow.fresh ? { maxAge: 0 } : {}),
      });
    } catch (err) {
      if (isNetworkError(err)) throw new OidcError('unavailable', `the identity provider could not be reached: ${(err as Error).message}`, { cause: err });
      throw new OidcError('rejected', `the identity provider's response was refused: ${(err as Error).message}`, { cause: err });
    }
    const idToken = tokens.claims() as Claims | undefined;
    if (!idToken) throw new OidcError('rejected', 'no ID token');
    let userinfo: Claims = {};
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      try {
        userinfo = await oidc.fetchUserInfo(config, tokens.access_token, String(idToken.sub)) as Claims;
      } catch (err) {
        if (isNetworkError(err)) throw new OidcError('unavailable', `userinfo could not be fetched: ${(err as Error).message}`, { cause: err });
        throw new OidcError('rejected', `userinfo was refused: ${(err as Error).message}`, { cause: err });
      }
    }
    return { idToken, claims: { ...userinfo, ...idToken }, rd: flow.rd, fresh: flow.fresh };
  }

  /** The IdP's end-session URL (RP-initiated logout), or undefined when it has none or cannot be reached. */
  async endSessionUrl(): Promise<URL | undefined> {
    let config: OpenId.Configuration;
    try { config = await this.configuration(); } catch { return undefined; }
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    return (await openidClient()).buildEndSessionUrl(config, { client_id: this.#o.config.client_id, post_logout_redirect_uri: this.postLogoutRedirectUri });
  }

  /** Remembers which gateway user an IdP subject and session are, for back-channel logout. */
  async rememberSubject(user: string, idToken: Claims): Promise<void> {
    const ttl = this.#o.sessionMaxAge + 60_000;
    const writes: Promise<void>[] = [];
    if (typeof idToken.sub === 'string') writes.push(this.#o.shared.set(`oidc:sub:${idToken.sub}`, user, ttl));
    if (typeof idToken.sid === 'string') writes.push(this.#o.shared.set(`oidc:sid:${idToken.sid}`, user, ttl));
    await Promise.all(writes);
  }

  /**
   * Verifies a back-channel logout token (OpenID Connect Back-Channel Logout
   * 1.0 §2.6) and returns the gateway users it ends. Throws OidcError
   * ('rejected') on any failed check.
   */
  async usersToLogOut(logoutToken: string): Promise<string[]> {
    const config = await this.configuration();
    const meta = config.serverMetadata();
    if (!meta.jwks_uri) throw new OidcError('rejected', 'the identity provider publishes no jwks_uri');
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    this.#jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: IDP_TIMEOUT_S * 1000 });
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(logoutToken, this.#jwks, {
        issuer: meta.issuer,
        audience: this.#o.config.client_id,
        algorithms: ASYMMETRIC_ALGS,
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: '10m',
        clockTolerance: 30,
        currentDate: new Date(this.#now()),
      }));
    } catch (err) {
      throw new OidcError('rejected', `logout token refused: ${(err as Error).message}`, { cause: err });
    }
    const events = payload.events as Record<string, unknown> | undefined;
    if (!events || typeof events !== 'object' || typeof events[LOGOUT_EVENT] !== 'object') throw new OidcError('rejected', 'logout token has no back-channel logout event');
    if ('nonce' in payload) throw new OidcError('rejected', 'logout token must not carry a nonce');
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (sub === undefined && sid === undefined) throw new OidcError('rejected', 'logout token names neither sub nor sid');
    if (!(await this.#o.shared.setIfAbsent(`oidc:jti:${payload.jti}`, '1', 15 * 60_000))) throw new OidcError('rejected', 'logout token replayed');
    const users = await Promise.all([
      sid === undefined ? null : this.#o.shared.get(`oidc:sid:${sid}`),
      sub === undefined ? null : this.#o.shared.get(`oidc:sub:${sub}`),
    ]);
    return [...new Set(users.filter((u): u is string => u !== null))];
  }
}

/**
 * The IdentitySource of an OIDC gateway: users are known only from their
 * sessions (the profile sealed in the cookie), so there is nobody to look up
 * and no password to check here.
 */
export function createOidcIdentitySource(): IdentitySource & { close(): void } {
  const invalid: AuthResult = Object.freeze({ ok: false, reason: 'invalid' });
  return {
    authenticate: async () => invalid,
    getUser: () => undefined,
    listUsers: () => [],
    close: () => {},
  };
}
