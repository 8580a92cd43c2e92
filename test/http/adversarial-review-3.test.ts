// Adversarial review, part 3: second factors and the identity provider
// (enrollment, recovery codes, WebAuthn as a second factor, OIDC sign-in).
// Real gateways over HTTP, a software authenticator
// (test/helpers/soft-authenticator.ts), oathtool codes (test/helpers/totp.ts)
// and a real OpenID provider (test/helpers/oidc-idp.ts). Each case asserts on
// what a lenient upstream received or what the client was answered.
// `fixed: …` tests were holes when the review found them; `held: …` pins what
// was found sound. The one `hole: …` left is the documented default (README
// "Explicit rules bind everyone": the first factor is enrolled on the password
// alone unless rollout.verify_email_first), marked todo (REVEAL_HOLES=1 shows
// it failing).

import t from 'tap';
import { bindPort, Client, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { startLenientUpstream, plainAnswer } from '../helpers/lenient-upstream.ts';
import { authOptions, authVerify, csrfOf, getStatus, KEYS_ONLY, registerPasskey, startPasskeyGateway } from '../helpers/passkey-ceremony.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { enrollTotp, enrollTotpOverHttp, passTotp, TotpDevice } from '../helpers/totp.ts';
import { resumeTarget } from '../../src/policy/resume-marker.ts';
import { startTestIdp, type IdpAccount } from '../helpers/oidc-idp.ts';
import { CookieAgent, type Hop } from '../helpers/cookie-agent.ts';

const hole = (reason: string) => (process.env.REVEAL_HOLES ? {} : { todo: `hole: ${reason}` });

const FORM = 'application/x-www-form-urlencoded';
const USERS = {
  alice: { password: 'alice-test-pass' },
  bob: { password: 'bob-test-pass' },
  carol: { password: 'carol-test-pass' },
  dan: { password: 'dan-test-pass' },
  erin: { password: 'erin-test-pass' },
  frank: { password: 'frank-test-pass' },
  gina: { password: 'gina-test-pass' },
};

const { f, up, signedIn } = await startPasskeyGateway(t, USERS, [
  KEYS_ONLY,
  { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', max_age: '5m' },
]);

const RECOVERY = /\b[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}\b/g;

// ---------------------------------------------------------------------------
// 1. Enrollment
// ---------------------------------------------------------------------------

t.test('fixed: with only the password no recovery codes are minted, and codes made before the first factor die with it', async (t) => {
  // The attacker knows alice's password; alice has not enrolled anything yet.
  const attacker = await signedIn('alice');
  const page = await (await attacker.fetch('/.gatehouse/enroll?rd=%2F&step=recovery')).text();
  const planted = [...new Set(page.match(RECOVERY) ?? [])];
  t.same(planted, [], 'no recovery codes are handed out before a factor exists');

  // Later alice enrolls her authenticator app, as the gateway asks her to.
  const owner = await signedIn('alice');
  const { r: enrolled } = await enrollTotp(owner, '/', f.clock);
  t.match(enrolled.headers.get('location'), /step=recovery/, 'after enrolling, alice is shown recovery codes of her own');

  // Any planted code is a way into alice's account that she never saw.
  if (planted.length > 0) {
    const again = await signedIn('alice');
    const csrf = await again.csrf('/.gatehouse/challenge?rd=%2F&method=recovery');
    const r = await again.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'recovery', code: planted[0] });
    t.not(r.status, 303, 'a code minted by the attacker before alice enrolled does not pass alice\'s challenge');
  }
});

t.test("fixed: the authenticator-app secret an attacker's session was shown is never the one the owner is given", async (t) => {
  const secretOn = async (c: Client) => /<code>([A-Z2-7 ]{16,})<\/code>/.exec(await (await c.fetch('/.gatehouse/enroll?rd=%2F&method=totp')).text())?.[1]?.replace(/\s+/g, '');
  // The attacker knows gina's password; she has no factor yet. He opens the setup page and stops there.
  const attacker = await signedIn('gina');
  const seen = await secretOn(attacker);
  t.ok(seen, 'the attacker is shown a setup secret');
  // Minutes later gina sets up her authenticator app in her own browser.
  const owner = await signedIn('gina');
  const hers = await secretOn(owner);
  t.not(hers, seen, 'gina is given a secret of her own, not the one shown to another browser');
  const { r } = await enrollTotp(owner, '/', f.clock);
  t.equal(r.status, 303, 'gina enrolled');
  // With the seed he copied, the attacker makes gina's codes.
  f.clock.advance(61_000); // past the time step gina's confirmation used
  const again = await signedIn('gina');
  const passed = await passTotp(again, new TotpDevice(seen!, f.clock), '/');
  t.not(passed.status, 303, 'a code from the secret the attacker saw does not pass gina\'s challenge');
});

t.test('fixed: registering a passkey of his own after a fresh authenticator-app code does not meet a webauthn-only step-up rule', async (t) => {
  // bob has an authenticator app and a passkey (his real one).
  const owner = new Client(f.url);
  const device = await enrollTotpOverHttp(f, 'bob', USERS.bob.password, owner);
  t.equal((await registerPasskey(owner, new SoftAuthenticator('localhost', f.url))).status, 200, 'bob registers his passkey');

  // The attacker phished bob's password and one TOTP code (both relayable by a look-alike site).
  const attacker = await signedIn('bob');
  t.equal((await passTotp(attacker, device, '/')).status, 303, 'the attacker passes the TOTP challenge');
  t.equal(await getStatus(attacker, '/keys/x'), 401, 'the webauthn-only rule still asks for bob\'s passkey');

  const mine = new SoftAuthenticator('localhost', f.url);
  const registered = (await registerPasskey(attacker, mine)).status;
  t.equal(await getStatus(attacker, '/keys/x'), 401, `after registering a passkey of his own (register-verify ${registered}), the webauthn-only rule still asks for a passkey check`);
});

t.test('hole: a stolen password of a not-yet-enrolled user pays bills (README "Explicit rules bind everyone")', hole('by default a first factor is enrolled on the password alone and the stashed POST /billing/pay is replayed right after; rollout.verify_email_first closes it (test/ui/enroll-verify-email.test.ts)'), async (t) => {
  const attacker = await signedIn('carol');
  const pay = await attacker.fetch('/billing/pay', { method: 'POST', headers: { 'content-type': FORM, origin: f.url }, body: 'amount=9999&to=attacker' });
  t.equal(pay.status, 302, 'the payment is kept and carol is sent to enrollment');
  const enroll = new URL(pay.headers.get('location')!, f.url);
  t.equal(enroll.pathname, '/.gatehouse/enroll');
  const q = enroll.searchParams;
  // The attacker sets up an authenticator app of his own on carol's account, in the flow the gateway offered.
  const html = await (await attacker.fetch(`/.gatehouse/enroll?${q}&method=totp`)).text();
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const r = await attacker.postForm('/.gatehouse/enroll', { csrf, rd: q.get('rd')!, rule: q.get('rule') ?? '', stash: q.get('stash') ?? '', action: 'totp', code: await new TotpDevice(secret, f.clock).next() });
  t.equal(r.status, 303, 'enrolled');
  // The confirmation page's Continue: the kept request is sent.
  const resume = resumeTarget(q.get('rd')!, q.get('stash')!);
  await attacker.fetch(resume);
  t.notOk(up.requests.some((x) => x.method === 'POST' && x.target === '/billing/pay' && x.body.includes('attacker')), 'the payment never reaches the app');
});

// ---------------------------------------------------------------------------
// 2. WebAuthn as a second factor (the passkey sign-in has its own tests: test/ui/passkey-attacks.test.ts)
// ---------------------------------------------------------------------------

t.test('held: the second-factor WebAuthn ceremony refuses another user\'s key, no user verification, a replay, another origin and a counter going back', async (t) => {
  const danKey = new SoftAuthenticator('localhost', f.url);
  const erinKey = new SoftAuthenticator('localhost', f.url);
  const dan = await signedIn('dan');
  t.equal((await registerPasskey(dan, danKey)).status, 200);
  const erin = await signedIn('erin');
  t.equal((await registerPasskey(erin, erinKey)).status, 200);

  const s = await signedIn('dan');
  let o = await authOptions(s);
  t.equal(await authVerify(s, o.csrf, erinKey.assert(o.challenge)), 401, 'erin\'s passkey in dan\'s session: refused');
  o = await authOptions(s);
  t.equal(await authVerify(s, o.csrf, erinKey.assert(o.challenge, { userHandle: danKey.userHandle })), 401, 'erin\'s passkey naming dan\'s handle: refused');
  o = await authOptions(s);
  t.equal(await authVerify(s, o.csrf, danKey.assert(o.challenge, { uv: false })), 401, 'dan\'s passkey without user verification: refused');
  o = await authOptions(s);
  // dan's own key, signing for a look-alike site (its origin, then its RP ID) that relays the gateway's challenge.
  const asSite = (field: 'origin' | 'rpId', value: string) => {
    const key = danKey as unknown as Record<string, string>;
    const real = key[field];
    key[field] = value;
    try { return danKey.assert(o.challenge, { counter: 1 }); } finally { key[field] = real; }
  };
  t.equal(await authVerify(s, o.csrf, asSite('origin', 'https://gatehouse.example.net')), 401, 'an assertion made on another origin: refused');
  o = await authOptions(s);
  t.equal(await authVerify(s, o.csrf, asSite('rpId', 'example.net')), 401, 'an assertion for another RP ID: refused');
  t.equal(await getStatus(s, '/keys/x'), 401, 'none of them passed the webauthn-only rule');

  o = await authOptions(s);
  const good = danKey.assert(o.challenge, { counter: 5 });
  t.equal(await authVerify(s, o.csrf, good), 200, 'dan\'s own passkey passes');
  t.equal(await getStatus(s, '/keys/x'), 200, 'the webauthn-only rule is met');
  const later = await signedIn('dan');
  o = await authOptions(later);
  t.equal(await authVerify(later, o.csrf, good), 401, 'the same assertion again, in another session: refused (its challenge is spent)');
  o = await authOptions(later);
  t.equal(await authVerify(later, o.csrf, danKey.assert(o.challenge, { counter: 3 })), 401, 'a counter that went back (a clone): refused');
  t.equal(await getStatus(later, '/keys/x'), 401, 'and that session has no webauthn check');
  const reasons = readAudit(f).filter((e) => e.event === 'factor.failure' && e.user === 'dan').map((e) => String(e.reason));
  t.match(reasons, [
    'unknown credential', 'unknown credential', /user verification required/i, /origin "https:\/\/gatehouse\.example\.net"/, /RP ID hash/, /challenge/, 'counter regression',
  ], 'each refused for its own reason (audited)');
});

t.test('fixed: a second-factor WebAuthn challenge is bound to the browser: an assertion made in one session does not pass in another', async (t) => {
  const key = new SoftAuthenticator('localhost', f.url);
  t.equal((await registerPasskey(await signedIn('frank'), key)).status, 200, 'frank registers a passkey');
  // An attacker holding frank's password has a session of his own; frank starts a check in his browser.
  const attacker = await signedIn('frank');
  const victim = await signedIn('frank');
  const v = await authOptions(victim);
  // The assertion frank's browser made reaches the attacker's session (a proxy log, an extension, a shared machine).
  const assertion = key.assert(v.challenge);
  const csrf = csrfOf(await (await attacker.fetch('/.gatehouse/challenge?method=webauthn')).text());
  t.equal(await authVerify(attacker, csrf, assertion), 401, 'an assertion for the challenge another browser was given is refused');
  t.equal(await getStatus(attacker, '/keys/x'), 401, 'the attacker\'s session has no webauthn check');
});

// ---------------------------------------------------------------------------
// 3. OIDC
// ---------------------------------------------------------------------------

t.test('fixed: an email the IdP marks unverified never reaches the app', async (t) => {
  const socket = await bindPort();
  const SECRET = 'idp-client-secret-0123456789-abcdef';
  const accounts: Record<string, IdpAccount> = {
    // Self-service sign-up at the IdP: any address can be typed, and the IdP says it is not verified.
    mallory: { password: 'mallory-idp-pass', amr: ['pwd'], claims: { email: 'ceo@example.com', email_verified: false, name: 'Mallory' } },
  };
  const idp = await startTestIdp({ clients: [{ client_id: 'gw', client_secret: SECRET, redirect_uris: [`http://localhost:${socket.port}/.gatehouse/oidc/callback`] }], accounts });
  const oidcUp = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`));
  const g = await startTestGateway({
    socket, upstream: false,
    config: {
      routes: [{ path: '/', upstream: oidcUp.origin }],
      identity: { source: 'oidc', oidc: { issuer: idp.issuer, client_id: 'gw', client_secret: SECRET, scopes: ['openid', 'profile', 'email'] } },
      policy: { default: 'login', rules: [] },
    },
  });
  t.teardown(async () => { await g.close(); await oidcUp.close(); await idp.close(); });

  const agent = new CookieAgent();
  const hops = await agent.go(`${g.url}/inbox`);
  const login = hops.at(-1)!;
  const action = /action="([^"]+)"/.exec(login.body)?.[1];
  t.ok(action, 'at the IdP login page');
  const back: Hop[] = await agent.go(new URL(action!.replace(/&amp;/g, '&'), login.url).href, { form: { username: 'mallory', password: 'mallory-idp-pass' } });
  const reached = oidcUp.requests.find((x) => x.target === '/inbox');
  const email = reached?.header('x-gatehouse-email');
  t.not(email, 'ceo@example.com', `the app is not told mallory is ceo@example.com (last hop ${back.at(-1)?.status})`);
});
