// identity.source: oidc against a real OpenID provider (oidc-provider on a
// loopback port, with its own login page), through real gateways, over HTTP
// with a browser-like cookie jar: the protocol as the gateway speaks it
// (PKCE S256, state, nonce, the claims parameter), identity to the upstream,
// the IdP's amr trusted or not, refused callbacks (replayed, forged state,
// another browser, IdP error), a step-up that asks the IdP for a fresh
// sign-in, RP-initiated and back-channel logout, and an IdP that is down.

import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { bindPort, CLOSED_PORT, readAudit, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { startTestIdp, type IdpAccount, type TestIdp } from '../helpers/oidc-idp.ts';
import { CookieAgent, type Hop } from '../helpers/cookie-agent.ts';

const SECRET = 'idp-client-secret-0123456789-abcdef';
const ACCOUNTS: Record<string, IdpAccount> = {
  carol: { password: 'carol-idp-pass', amr: ['pwd'], claims: { preferred_username: 'carol', email: 'carol@example.com', name: 'Carol Example', groups: ['staff'] } },
  hank: { password: 'hank-idp-pass', amr: ['pwd', 'hwk'], claims: { preferred_username: 'hank', email: 'hank@example.com', name: 'Hank Example', groups: 'finance staff' } },
  // Renamed herself at the IdP: her preferred_username is now another user's name.
  mallory: { password: 'mallory-idp-pass', amr: ['pwd', 'hwk'], claims: { preferred_username: 'hank', email: 'mallory@example.com', name: 'Mallory', groups: ['staff'] } },
  // More groups than a session cookie can carry.
  greta: { password: 'greta-idp-pass', amr: ['pwd', 'hwk'], claims: { preferred_username: 'greta', groups: Array.from({ length: 150 }, (_, i) => `department-of-long-group-names-${i}`) } },
};

const [trustSocket, plainSocket] = [await bindPort(), await bindPort()];
const [trustPort, plainPort] = [trustSocket.port, plainSocket.port];
const client = (id: string, port: number) => ({
  client_id: id, client_secret: SECRET,
  redirect_uris: [`http://localhost:${port}/.gatehouse/oidc/callback`],
  post_logout_redirect_uris: [`http://localhost:${port}/.gatehouse/logout`],
  backchannel_logout_uri: `http://localhost:${port}/.gatehouse/oidc/backchannel-logout`,
});
const idp: TestIdp = await startTestIdp({ clients: [client('gw-trust', trustPort), client('gw-plain', plainPort)], accounts: ACCOUNTS });
const idpPort = idp.port;

function gatewayConfig(clientId: string, trust: string[]): Record<string, unknown> {
  return {
    identity: { source: 'oidc', oidc: { issuer: idp.issuer, client_id: clientId, client_secret: SECRET, scopes: ['openid', 'profile', 'email', 'groups'], trust_idp_mfa: trust } },
    policy: { default: 'mfa', rules: [{ id: 'billing', match: { path: '/billing/**' }, require: 'mfa', factors: ['webauthn'], max_age: '8s' }] },
    rollout: { enforce_for: ['everyone'] },
  };
}
const trusting: GatewayFixture = await startTestGateway({ socket: trustSocket, config: gatewayConfig('gw-trust', ['hwk']) });
const plain: GatewayFixture = await startTestGateway({ socket: plainSocket, config: gatewayConfig('gw-plain', []) });
t.teardown(async () => { await trusting.close(); await plain.close(); await idp.close(); });

/** Audit lines are written asynchronously: wait until one matches. */
async function audited(f: GatewayFixture, match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 40; i++) {
    const hit = readAudit(f).findLast(match);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

const isCallback = (u: URL) => u.pathname === '/.gatehouse/oidc/callback';
const path = (h: Hop) => new URL(h.url).pathname;

/** From a gateway URL to the IdP's login form; returns the form's hops. */
async function toIdpLogin(agent: CookieAgent, url: string): Promise<Hop[]> {
  const hops = await agent.go(url);
  const last = hops[hops.length - 1];
  if (new URL(last.url).port !== String(idpPort) || !/Test IdP/.test(last.body)) throw new Error(`expected the IdP login page, got ${last.status} ${last.url}`);
  return hops;
}

/** Submits the IdP login form on `page`; follows up to the gateway callback (not followed when `stop`). */
async function submitIdpLogin(agent: CookieAgent, page: Hop, username: string, password: string, stop = false): Promise<Hop[]> {
  const action = /action="([^"]+)"/.exec(page.body)?.[1];
  if (!action) throw new Error('no login form on the IdP page');
  return agent.go(new URL(action.replace(/&amp;/g, '&'), page.url).href, { form: { username, password }, ...(stop ? { until: isCallback } : {}) });
}

async function signIn(agent: CookieAgent, f: GatewayFixture, username: string, target = '/echo'): Promise<Hop[]> {
  const hops = await toIdpLogin(agent, f.url + target);
  return [...hops, ...await submitIdpLogin(agent, hops[hops.length - 1], username, ACCOUNTS[username].password)];
}

t.test('sign-in: PKCE S256, state, nonce and the claims parameter; the IdP identity reaches the upstream', async (t) => {
  const agent = new CookieAgent();
  const before = idp.authorizations.length;
  const hops = await signIn(agent, trusting, 'hank');
  const auth = idp.authorizations[before];
  t.equal(auth.get('response_type'), 'code');
  t.equal(auth.get('code_challenge_method'), 'S256');
  t.match(auth.get('code_challenge'), /^[\w-]{43}$/);
  t.match(auth.get('state'), /^[\w-]{43}$/);
  t.match(auth.get('nonce'), /^[\w-]{43}$/);
  t.equal(auth.get('scope'), 'openid profile email groups');
  t.same(JSON.parse(auth.get('claims') ?? '{}').id_token?.auth_time, { essential: true }, 'auth_time asked for through the claims parameter');
  t.notOk(auth.has('prompt'), 'no prompt on a routine sign-in');
  t.equal(auth.get('redirect_uri'), `${trusting.url}/.gatehouse/oidc/callback`);

  const last = hops[hops.length - 1];
  t.equal(last.status, 200, 'back at the upstream');
  t.equal(path(last), '/echo');
  t.notOk(hops.some((h) => /\/\.gatehouse\/(challenge|enroll)/.test(h.url)), 'no gateway challenge: the IdP\'s hwk is trusted');
  const seen = JSON.parse(last.body).headers as Record<string, string>;
  t.equal(seen['x-gatehouse-user'], 'hank');
  t.equal(seen['x-gatehouse-email'], 'hank@example.com');
  t.equal(seen['x-gatehouse-groups'], 'finance,staff', 'groups from a space-separated claim');
  t.equal(seen['x-gatehouse-auth-methods'], 'ext pwd hwk', 'the IdP\'s amr, marked external');
  t.ok(Math.abs(Number(seen['x-gatehouse-auth-time']) - Date.now() / 1000) < 30, 'auth time is the IdP sign-in');

  const r = await agent.go(`${trusting.url}/billing`);
  t.equal(r[r.length - 1].status, 200, 'a factors: [webauthn] rule is satisfied by the trusted hwk');
  t.equal(r.length, 1, 'without any challenge');
  const audit = await audited(trusting, (e) => e.event === 'signin.success' && e.user === 'hank');
  t.match(audit?.method, /oidc pwd hwk \(idp hwk trusted as webauthn\)/, 'the audit log says how hank signed in');
});

t.test('the user is the IdP\'s sub: a preferred_username a user can edit does not make her someone else', async (t) => {
  const agent = new CookieAgent();
  const hops = await signIn(agent, trusting, 'mallory');
  const last = hops[hops.length - 1];
  t.equal(path(last), '/echo');
  const seen = JSON.parse(last.body).headers as Record<string, string>;
  t.equal(seen['x-gatehouse-user'], 'mallory', 'the id is sub (mallory), not the preferred_username she chose (hank)');
  t.equal(seen['x-gatehouse-email'], 'mallory@example.com');
});

t.test('without trust_idp_mfa the same hwk sign-in is asked for a gateway factor', async (t) => {
  const agent = new CookieAgent();
  const hops = await signIn(agent, plain, 'hank', '/billing');
  const last = hops[hops.length - 1];
  t.equal(path(last), '/.gatehouse/enroll', 'a passkey rule sends hank to set one up at the gateway');
  t.equal(new URL(last.url).searchParams.get('rule'), 'billing');
  const echo = await agent.go(`${plain.url}/echo`);
  t.equal(path(echo[echo.length - 1]), '/.gatehouse/enroll', 'routine MFA too: the IdP\'s factor does not count');
});

t.test('a password-only IdP sign-in is asked for a gateway factor even where hwk is trusted', async (t) => {
  const agent = new CookieAgent();
  const hops = await signIn(agent, trusting, 'carol');
  t.equal(path(hops[hops.length - 1]), '/.gatehouse/enroll');
});

t.test('a profile too large for the session cookie is refused, not silently cut', async (t) => {
  const agent = new CookieAgent();
  const hops = await signIn(agent, trusting, 'greta');
  const last = hops[hops.length - 1];
  t.equal(last.status, 400);
  t.match(last.body, /Sign-in could not be completed/);
  t.notOk([...agent.jar.keys()].some((k) => k.includes('gatehouse') && !k.endsWith('_device') && (agent.jar.get(k) ?? '').length > 4096), 'no oversized cookie kept');
  const echo = await agent.go(`${trusting.url}/echo`, { until: (u) => u.port === String(idpPort) });
  t.equal(new URL(echo[echo.length - 1].location ?? 'http://x/').port, String(idpPort), 'not signed in');
  t.ok(await audited(trusting, (e) => e.event === 'signin.failure' && /too large/.test(String(e.reason))), 'audited with the reason');
});

t.test('refused callbacks: replayed, forged state, another browser, an IdP error', async (t) => {
  // A callback used once is good once.
  const agent = new CookieAgent();
  const login = await toIdpLogin(agent, `${trusting.url}/echo`);
  const toCallback = await submitIdpLogin(agent, login[login.length - 1], 'hank', ACCOUNTS.hank.password, true);
  const callback = toCallback[toCallback.length - 1].location!;
  const url = new URL(callback);

  // A forged state is refused and spends nothing: the genuine callback still works after it.
  const forged = new URL(callback);
  forged.searchParams.set('state', 'A'.repeat(43));
  let r = await agent.send(forged.href);
  t.equal(r.status, 400, 'a forged state is refused');
  t.match(r.body, /This sign-in link has expired/);
  t.notOk(r.headers['set-cookie'], 'and no session is set');

  const ok = await agent.go(callback);
  t.equal(ok[ok.length - 1].status, 200, 'the genuine callback signs in');
  t.equal(JSON.parse(ok[ok.length - 1].body).headers['x-gatehouse-user'], 'hank');

  r = await agent.send(callback);
  t.equal(r.status, 400, 'the same callback again is refused');
  t.match(r.body, /already used or is too old/);
  const stripped = new URL(callback);
  stripped.searchParams.delete('state');
  t.equal((await agent.send(stripped.href)).status, 400, 'no state at all is refused');
  t.ok(url.searchParams.get('code'), 'the callback carried a code');

  // A callback carried to another browser (login CSRF) is refused, and spent.
  const victim = new CookieAgent();
  const attacker = new CookieAgent();
  const aLogin = await toIdpLogin(attacker, `${trusting.url}/echo`);
  const aCallback = (await submitIdpLogin(attacker, aLogin[aLogin.length - 1], 'carol', ACCOUNTS.carol.password, true)).at(-1)!.location!;
  r = await victim.send(aCallback);
  t.equal(r.status, 400, 'another browser\'s callback is refused');
  t.match(r.body, /not started in this browser/);
  t.notOk(r.headers['set-cookie'], 'the victim gets no session');
  t.equal((await attacker.send(aCallback)).status, 400, 'and the flow is spent');

  // The IdP answering with an error (the user cancelled).
  const c = new CookieAgent();
  const start = await c.go(`${trusting.url}/echo`, { until: (u) => u.port === String(idpPort) });
  const state = new URL(start[start.length - 1].location!).searchParams.get('state')!;
  r = await c.send(`${trusting.url}/.gatehouse/oidc/callback?error=access_denied&error_description=cancelled&state=${state}`);
  t.equal(r.status, 400, 'an IdP error is shown as a refused sign-in');
  t.match(r.body, /Sign-in was not completed/);
  t.match(r.body, /href="\/\.gatehouse\/login\?rd=%2F"/, 'with a way to start again');
  for (const reason of [/oidc expired/, /oidc mismatch/, /oidc denied: .*access_denied/]) {
    t.ok(await audited(trusting, (e) => e.event === 'signin.failure' && reason.test(String(e.reason))), `audited: ${reason.source}`);
  }
});

t.test('a stale IdP factor: the step-up offers a fresh sign-in at the IdP (prompt=login, max_age=0)', async (t) => {
  const agent = new CookieAgent();
  await signIn(agent, trusting, 'hank');
  // The billing rule's max_age is 8s (roomy: the fresh IdP round trip below, with auth_time
  // rounded down to the second, must fit in it on a loaded machine). Real time, not the
  // gateway's clock: the IdP's auth_time follows the real clock, so a jump would make the
  // fresh IdP sign-in below look stale too.
  await new Promise((r) => setTimeout(r, 8_500));
  let hops = await agent.go(`${trusting.url}/billing`);
  const challenge = hops[hops.length - 1];
  t.equal(path(challenge), '/.gatehouse/challenge', 'an old IdP factor is challenged');
  const link = /href="([^"]*fresh=1[^"]*)"[^>]*>Sign in again at your identity provider/.exec(challenge.body)?.[1]?.replace(/&amp;/g, '&');
  t.ok(link, 'the challenge offers a fresh sign-in at the IdP');

  const before = idp.authorizations.length;
  hops = await toIdpLogin(agent, trusting.url + link!);
  const auth = idp.authorizations[before];
  t.equal(auth.get('prompt'), 'login', 'prompt=login');
  t.equal(auth.get('max_age'), '0', 'max_age=0');
  hops = await submitIdpLogin(agent, hops[hops.length - 1], 'hank', ACCOUNTS.hank.password);
  const last = hops[hops.length - 1];
  t.equal(path(last), '/billing', 'after signing in again at the IdP the step-up is satisfied');
  t.equal(last.status, 200);
});

t.test('RP-initiated logout goes on to the IdP; back-channel logout ends the gateway sessions the IdP ended', async (t) => {
  const a = new CookieAgent();
  await signIn(a, trusting, 'hank');
  const confirm = await a.send(`${trusting.url}/.gatehouse/logout`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)?.[1];
  const out = await a.send(`${trusting.url}/.gatehouse/logout`, { form: { csrf: csrf! } });
  t.equal(out.status, 200);
  t.match(out.body, /You've signed out|You’ve signed out|You&#39;ve signed out/);
  const refresh = String(out.headers.refresh ?? '');
  const endSession = new URL(/url=(.*)$/.exec(refresh)?.[1] ?? 'http://invalid/');
  t.equal(endSession.origin + endSession.pathname, `${idp.issuer}/session/end`, 'the signed-out page goes on to the IdP\'s end_session_endpoint');
  t.equal(endSession.searchParams.get('client_id'), 'gw-trust');
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${trusting.url}/.gatehouse/logout`);
  let echo = await a.go(`${trusting.url}/echo`, { until: (u) => u.port === String(idpPort) });
  t.equal(new URL(echo[echo.length - 1].location!).port, String(idpPort), 'the gateway session is gone: back to the IdP');

  // Back-channel: b is signed in as hank in another browser; a signs out at the IdP directly.
  const b = new CookieAgent();
  await signIn(b, trusting, 'hank');
  echo = await b.go(`${trusting.url}/echo`);
  t.equal(echo[echo.length - 1].status, 200, 'b is signed in');
  echo = await a.go(`${trusting.url}/echo`);
  t.equal(echo[echo.length - 1].status, 200, 'a signs in again without a password: the IdP session is still alive');
  const idpLogout = await a.send(endSession.href);
  t.match(idpLogout.body, /Sign out of Test IdP\?/, 'the IdP asks to confirm');
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(idpLogout.body)?.[1];
  const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(idpLogout.body)?.[1];
  const n = idp.backchannel.length;
  const done = await a.go(new URL(action!, idpLogout.url).href, { form: { xsrf: xsrf!, logout: 'yes' } });
  t.same(idp.backchannel.slice(n), ['ok'], 'the IdP delivered a logout token and the gateway accepted it');
  t.equal(done[done.length - 1].url, `${trusting.url}/.gatehouse/logout`, 'the IdP returns to the gateway');
  t.match(done[done.length - 1].body, /signed out/i);
  echo = await b.go(`${trusting.url}/echo`, { until: (u) => u.port === String(idpPort) });
  t.equal(new URL(echo[echo.length - 1].location ?? 'http://x/').port, String(idpPort), 'b\'s gateway session was revoked too');
  t.ok(await audited(trusting, (e) => e.event === 'session.revoked' && e.user === 'hank' && /back-channel/.test(String(e.reason))), 'audited');
});

t.test('back-channel logout refuses tokens that are not the IdP\'s', async (t) => {
  const url = `${trusting.url}/.gatehouse/oidc/backchannel-logout`;
  const agent = new CookieAgent();
  const post = (logout_token: string) => agent.send(url, { form: { logout_token }, headers: { accept: 'application/json', 'sec-fetch-mode': 'no-cors' } });
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sub: 'hank', jti: 'j1' })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-idp-key', typ: 'logout+jwt' }).setIssuer(idp.issuer).setAudience('gw-trust').setIssuedAt().sign(privateKey);
  let r = await post(forged);
  t.equal(r.status, 400, 'a token signed with another key is refused');
  r = await post('not.a.jwt');
  t.equal(r.status, 400, 'garbage is refused');
  r = await agent.send(url, { form: {}, headers: { accept: 'application/json' } });
  t.equal(r.status, 400, 'no token is refused');
  t.equal((await agent.send(url)).status, 405, 'GET is not allowed');
  t.ok(await exportJWK((await generateKeyPair('ES256')).publicKey), 'jose works here');
});

t.test('an IdP that is down: the gateway starts, and sign-in answers 503 (nothing let through)', async (t) => {
  const deadPort = CLOSED_PORT;
  const f = await startTestGateway({ config: { identity: { source: 'oidc', oidc: { issuer: `http://localhost:${deadPort}`, client_id: 'x', client_secret: SECRET } }, policy: { default: 'login' } } });
  t.teardown(() => f.close());
  const agent = new CookieAgent();
  const hops = await agent.go(`${f.url}/echo`);
  const last = hops[hops.length - 1];
  t.equal(last.status, 503);
  t.match(last.body, /Sign-in is temporarily unavailable/);
  t.equal((await agent.send(`${f.url}/.gatehouse/healthz`)).status, 200, 'the gateway itself is up');
});
