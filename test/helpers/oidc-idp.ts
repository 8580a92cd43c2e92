// A real OpenID provider for tests: oidc-provider (the certified Node
// implementation) on a loopback port, with a plain login page of its own.
// Accounts say which authentication methods (amr) the IdP reports for them,
// as a real IdP would after a password, an OTP or a security key. Consent is
// granted automatically (a first-party client). Every page it serves is
// self-contained: the library's default pages import web fonts, and tests
// must not reach outside the machine.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { bindPort, type BoundPort } from './gateway.ts';

export interface IdpAccount {
  password: string;
  /** amr the IdP reports after this account signs in (e.g. ['pwd'], ['pwd', 'hwk'], ['pwd', 'otp', 'mfa']). */
  amr: string[];
  claims: { preferred_username?: string; email?: string; name?: string; groups?: string[] | string; [k: string]: unknown };
}

export interface IdpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
}

export interface TestIdp {
  issuer: string;
  port: number;
  provider: Provider;
  /** Back-channel logout deliveries: 'ok' or the error message, in order. */
  backchannel: string[];
  /** Authorization requests' query parameters, in order (to check PKCE, prompt, max_age…). */
  authorizations: URLSearchParams[];
  /** When set, rewrites the Location of the IdP's redirects (a man in the middle tampering with the way back). */
  rewriteLocation?: (location: string) => string;
  close(): Promise<void>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main>${body}</main></body></html>`;
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function loginForm(uid: string, error?: string): string {
  return page('Sign in at Test IdP', `
    <h1>Test IdP</h1>
    ${error ? `<p role="alert">${esc(error)}</p>` : ''}
    <form method="post" action="/interaction/${esc(uid)}/login">
      <label for="idp-user">IdP username</label><input id="idp-user" name="username" autocomplete="username">
      <label for="idp-pass">IdP password</label><input id="idp-pass" name="password" type="password">
      <button type="submit">Continue</button>
    </form>`);
}

/** `socket`: a port bound in advance (bindPort) when the gateways' config must name the IdP first. */
export async function startTestIdp(opts: { socket?: BoundPort; clients: IdpClient[]; accounts: Record<string, IdpAccount> }): Promise<TestIdp> {
  const socket = opts.socket ?? (await bindPort());
  const issuer = `http://localhost:${socket.port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-idp-key' };
  const backchannel: string[] = [];
  const authorizations: URLSearchParams[] = [];

  const provider = new Provider(issuer, {
    clients: opts.clients.map((c) => ({
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : 'none',
      require_auth_time: true,
      ...(c.backchannel_logout_uri ? { backchannel_logout_session_required: true } : {}),
      ...c,
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-idp-cookie-key-0123456789abcdef'] },
    claims: {
      acr: null, amr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    async findAccount(_ctx: unknown, id: string) {
      const a = opts.accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...a.claims }) };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      // amr is released when asked for through the claims parameter (the gateway asks where it is supported).
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: { body: string }, form: string) {
          ctx.body = page('Sign out of Test IdP', `<h1>Sign out of Test IdP?</h1>${form}
            <button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
            <button type="submit" form="op.logoutForm">No, stay signed in</button>`);
        },
        async postLogoutSuccessSource(ctx: { body: string }) {
          ctx.body = page('Signed out of Test IdP', '<h1>Signed out of Test IdP</h1>');
        },
      },
    },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    async renderError(ctx: { type: string; body: string }, out: Record<string, unknown>) {
      ctx.type = 'html';
      ctx.body = page('Test IdP error', `<h1>Test IdP error</h1><pre>${esc(JSON.stringify(out))}</pre>`);
    },
    // The library refuses loopback targets (SSRF guard); the gateway under test is on loopback.
    fetch: (url: string, options: Record<string, unknown>) => globalThis.fetch(url, { ...options, dispatcher: undefined } as RequestInit),
    // Auto-consent: the gateway is a first-party client.
    async loadExistingGrant(ctx: { oidc: { client: { clientId: string }; session: { accountId: string; grantIdFor(id: string): string | undefined }; params: { scope?: string }; provider: Provider } }) {
      const { client, session, params } = ctx.oidc;
      const existing = session.grantIdFor(client.clientId);
      const grant = (existing && await ctx.oidc.provider.Grant.find(existing)) || new ctx.oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      grant.addOIDCScope(params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
  });
  provider.on('backchannel.success', () => backchannel.push('ok'));
  provider.on('backchannel.error', (_ctx, err) => backchannel.push((err as Error).message));
  const handle = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
    if (!m) return send(res, 404, page('Not found', 'not found'));
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      if (details.prompt.name === 'login') return send(res, 200, loginForm(details.uid));
      return send(res, 400, page('Unexpected', `unexpected prompt ${esc(details.prompt.name)}`));
    }
    const form = await readBody(req);
    const username = form.get('username') ?? '';
    const account = opts.accounts[username];
    if (!account || account.password !== form.get('password')) return send(res, 200, loginForm(details.uid, 'Wrong IdP username or password.'));
    await provider.interactionFinished(req, res, { login: { accountId: username, amr: account.amr } }, { mergeWithLastSubmission: false });
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (name, value) => setHeader(name, name.toLowerCase() === 'location' && idp.rewriteLocation ? idp.rewriteLocation(String(value)) : value);
    if (url.pathname === '/auth') authorizations.push(url.searchParams);
    if (url.pathname.startsWith('/interaction/')) {
      interaction(req, res, url).catch((err: Error) => { if (!res.headersSent) send(res, 500, page('Error', esc(err.message))); });
      return;
    }
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(socket.server, resolve));
  const idp: TestIdp = {
    issuer, port: socket.port, provider, backchannel, authorizations,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  return idp;
}
