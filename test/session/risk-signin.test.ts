// Adaptive MFA over real sockets (README "Risk signals"): a real gateway
// in front of the real demo portal, clients that come from several networks
// (X-Forwarded-For from a trusted proxy on loopback), places from an
// operator's locations file (the bundled GeoIP database has countries but no
// coordinates, and documentation ranges are in no database).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Client, readAudit, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';

const LONDON_A = '198.51.100.10';
const LONDON_B = '198.51.100.77';     // the same /24
const NEW_YORK = '203.0.113.5';
const MIN = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-risk-places-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const PLACES = join(dir, 'places.txt');
writeFileSync(PLACES, '# test networks\n198.51.100.0/24 51.5074 -0.1278 GB\n203.0.113.0/24 40.7128 -74.0060 US\n');

const RISK = {
  signals: { new_device: 20, new_network: 60, new_country: 10, impossible_travel: 80, recent_failures: 30, risky_network: 60 },
  rules: [{ above: 50, require: 'mfa', max_age: 0 }, { above: 90, require: 'deny' }],
  locations: PLACES,
};

/** A browser on a network: every request carries the address the trusted proxy saw. */
class From extends Client {
  readonly ip: string;
  readonly extra: Record<string, string>;
  constructor(base: string, ip: string, extra: Record<string, string> = {}) {
    super(base);
    this.ip = ip;
    this.extra = extra;
  }
  override fetch(path: string, init: Parameters<Client['fetch']>[1] = {}): Promise<Response> {
    return super.fetch(path, { ...init, headers: { 'x-forwarded-for': this.ip, ...this.extra, ...(init.headers ?? {}) } });
  }
}

async function gateway(t: Test, risk: Record<string, unknown>, policyDefault: string, ui?: Record<string, unknown>): Promise<GatewayFixture> {
  const f = await startTestGateway({ config: { server: { trusted_proxies: ['127.0.0.1/32'] }, policy: { default: policyDefault, rules: [] }, risk, ...(ui ? { ui } : {}) } });
  t.teardown(() => f.close());
  return f;
}

const signIns = (f: GatewayFixture, user: string) => readAudit(f).filter((e) => e.event === 'signin.success' && e.user === user);
type Mail = { to: string; kind: string; text: string };
const outbox = (f: GatewayFixture): Mail[] => {
  try {
    return readFileSync(join(f.dir, 'outbox.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Mail);
  } catch {
    return [];
  }
};
/** Notices leave in the background (the sign-in does not wait for the mail): the new-country notices once `n` are written, or what there is after 10 s. */
async function newCountryMail(f: GatewayFixture, n: number): Promise<Mail[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = outbox(f).filter((m) => m.kind === 'signin_new_country');
    if (mails.length >= n || Date.now() > deadline) return mails;
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('a known user from a new network is asked for the second factor, even on a trusted browser', async (t) => {
  const f = await gateway(t, RISK, 'mfa');
  // First sign-in from London: no baseline yet, nothing is new but the browser; the network becomes known.
  const home = new From(f.url, LONDON_A);
  const device = await enrollTotpOverHttp(f, 'alice', 'alice-test-pass', home);
  t.match(signIns(f, 'alice')[0], { risk: { score: 20, signals: ['new_device'], outcome: 'none', network: '198.51.100.0/24', country: 'GB', mode: 'enforce' } });
  // "Trust this browser" on a routine challenge.
  const csrf = await home.csrf('/.gatehouse/challenge?rd=%2F&method=totp');
  const trusted = await home.postForm('/.gatehouse/challenge', { csrf, rd: '/', method: 'totp', code: await device.next(), remember: '1' });
  t.equal(trusted.status, 303, 'factor passed, browser remembered');
  const deviceCookie = [...home.cookies].find(([k]) => k.endsWith('_device'));
  t.ok(deviceCookie, 'the browser has a device cookie');

  // The trusted browser on the same network: straight through.
  const sameNet = new From(f.url, LONDON_B);
  sameNet.cookies.set(deviceCookie![0], deviceCookie![1]);
  t.equal((await sameNet.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  const before = f.portal!.received.length;
  t.equal((await sameNet.fetch('/echo')).status, 200, 'known device, known network: the routine factor is the device');
  t.equal(f.portal!.received.length, before + 1, 'the upstream got it');
  t.match(signIns(f, 'alice').at(-1), { method: 'pwd+device', risk: { score: 0, signals: [], outcome: 'none' } });

  // The same trusted browser from New York.
  const away = new From(f.url, NEW_YORK);
  away.cookies.set(deviceCookie![0], deviceCookie![1]);
  f.clock.advance(24 * 60 * MIN); // a day later: the flight is possible
  t.equal((await away.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  t.match(signIns(f, 'alice').at(-1), { method: 'pwd+device', risk: { score: 70, signals: ['new_network', 'new_country'], outcome: 'mfa', country: 'US' } });
  const received = f.portal!.received.length;
  const asked = await away.fetch('/echo');
  t.equal(asked.status, 302, 'asked despite the trusted browser');
  t.equal(asked.headers.get('location'), '/.gatehouse/challenge?rd=%2Fecho&rule=risk');
  t.equal(f.portal!.received.length, received, 'nothing reached the upstream');
  const line = f.logs.filter((l) => l.msg === 'request' && l.path === '/echo').at(-1)!;
  t.match(line, { decision: 'challenge', rule: 'risk', reason: /^risk 70 \(new_network 60, new_country 10\) above 50: needs a second factor since the sign-in \(a remembered device does not count\)$/ });
  t.match(await newCountryMail(f, 1), [{ to: 'alice@example.com', text: /from a country you have not signed in from recently: US \(address 203\.0\.113\.5/ }], 'alice hears of the new country');

  const page = await (await away.fetch('/.gatehouse/challenge?rd=%2Fecho&rule=risk&method=totp')).text();
  t.notMatch(page, /Trust this browser|remember/i, 'a risk challenge offers no "trust this browser"');
  t.match(page, /<p class="lead" data-why>This sign-in is not like your usual ones \(a new network, place or browser\), so it needs a fresh check\.<\/p>/, 'the page says why');
  const riskCsrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
  const passed = await away.postForm('/.gatehouse/challenge', { csrf: riskCsrf, rd: '/echo', rule: 'risk', method: 'totp', code: await device.next() });
  t.equal(passed.status, 303, 'the factor passes');
  t.equal((await away.fetch('/echo')).status, 200, 'then through');
  t.match(readAudit(f).filter((e) => e.event === 'stepup.passed').at(-1), { user: 'alice', rule: 'risk', factor: 'totp' });

  // New York is now a known network of alice's: the trusted browser goes straight through again.
  const again = new From(f.url, NEW_YORK);
  again.cookies.set(deviceCookie![0], deviceCookie![1]);
  f.clock.advance(MIN);
  await again.signIn('alice', 'alice-test-pass', '/echo');
  t.match(signIns(f, 'alice').at(-1), { risk: { score: 0, outcome: 'none' } });
  t.equal((await again.fetch('/echo')).status, 200, 'a network vouched for by a factor is known');
});

t.test('an impossible-travel pair is refused at sign-in: no session, no cookie, a page that says so', async (t) => {
  const f = await gateway(t, RISK, 'mfa');
  const london = new From(f.url, LONDON_A);
  await london.signIn('bob', 'bob-test-pass', '/echo');
  t.match(signIns(f, 'bob')[0], { risk: { outcome: 'none' } });
  f.clock.advance(10 * MIN);
  const newYork = new From(f.url, NEW_YORK);
  const sessionsBefore = (await f.gw.services.store.listSessions('bob', f.clock.now())).length;
  for (let i = 0; i < 3; i++) {
    const refused = await newYork.signIn('bob', 'bob-test-pass', '/echo');
    t.equal(refused.status, 403, `attempt ${i + 1}: the sign-in itself is refused`);
    t.same(refused.headers.getSetCookie(), [], 'no cookie is set');
    const page = await refused.text();
    t.match(page, /<h1>Sign-in refused<\/h1>/, 'the page says the sign-in was refused');
    t.match(page, /too unlike your usual ones/, 'and why');
    t.match(page, /<code>risk<\/code>/, 'naming the rule');
  }
  t.equal(signIns(f, 'bob').length, 1, 'no signin.success for the refused sign-ins');
  const failures = readAudit(f).filter((e) => e.event === 'signin.failure' && e.user === 'bob');
  t.equal(failures.length, 3, 'each refusal is audited');
  t.match(failures[0], {
    reason: 'risk denied', ip: NEW_YORK,
    risk: { score: 170, signals: ['new_device', 'new_network', 'new_country', 'impossible_travel'], outcome: 'deny', mode: 'enforce', travel: { from: '198.51.100.0/24', hours: 0.17 } },
  });
  t.equal((await f.gw.services.store.listSessions('bob', f.clock.now())).length, sessionsBefore, 'no session was added to the list');
  t.equal(readAudit(f).filter((e) => e.event === 'signin.lockout').length, 0, 'no lock-out');

  const received = f.portal!.received.length;
  const after = await newYork.fetch('/echo');
  t.equal(after.status, 302, 'the browser is not signed in');
  t.match(after.headers.get('location'), /^\/\.gatehouse\/login\?/);
  t.equal(f.portal!.received.length, received, 'nothing reached the upstream');
  t.match(await newCountryMail(f, 1), [{ to: 'bob@example.com', text: /The sign-in was refused/ }]);

  // An API client gets the refusal as JSON (English), without a cookie either.
  const csrf = await newYork.csrf('/.gatehouse/login');
  const api = await newYork.postForm('/.gatehouse/login', { csrf, username: 'bob', password: 'bob-test-pass', rd: '/' }, { accept: 'application/json', 'sec-fetch-mode': 'cors' });
  t.equal(api.status, 403);
  t.same(api.headers.getSetCookie(), []);
  t.match(await api.json(), { error: 'forbidden', rule: 'risk', message: /too unlike your usual ones/ });

  // Refusals are not wrong passwords: bob at home is neither throttled nor scored for recent failures,
  // and the refused sign-ins did not move bob's baseline: London is still where bob was last seen.
  f.clock.advance(MIN);
  const home = new From(f.url, LONDON_B);
  t.equal((await home.signIn('bob', 'bob-test-pass', '/echo')).status, 303);
  t.match(signIns(f, 'bob')[1], { risk: { signals: ['new_device'], outcome: 'none' } });
});

t.test('the new-country mail tells the time in the reader\'s language and the configured zone', async (t) => {
  // London is remembered long enough for the jump below.
  const f = await gateway(t, { ...RISK, remember_networks: '400d' }, 'login', { languages: ['en', 'de', 'fr'], time_zone: 'Europe/Berlin' });
  await new From(f.url, LONDON_A).signIn('alice', 'alice-test-pass', '/echo');
  // The gateway's clock on the next 15 January, 12:00 UTC at least a day ahead: winter time in Berlin (MEZ, UTC+1).
  const now = new Date(f.clock.now());
  let year = now.getUTCFullYear();
  if (Date.UTC(year, 0, 15, 12) - now.getTime() < 24 * 60 * MIN) year += 1;
  f.clock.advance(Date.UTC(year, 0, 15, 12) - now.getTime());
  f.clock.hold();
  t.teardown(() => f.clock.release());
  await new From(f.url, NEW_YORK, { 'accept-language': 'de-DE,de;q=0.9' }).signIn('alice', 'alice-test-pass', '/echo');
  const [mail] = await newCountryMail(f, 1);
  // German words, Berlin time, the zone named.
  const want = `15. Januar ${year} um 13:00 MEZ`;
  t.match(mail, { to: 'alice@example.com', text: /Land verwendet, aus dem Sie sich zuletzt nicht angemeldet haben: US/ }, 'the mail is German');
  t.ok(mail.text.includes(`(Adresse 203.0.113.5, ${want}).`), `the time in German, Berlin time: ${JSON.stringify(mail.text.split('\n')[0])}`);
  t.notMatch(mail.text, /\d{4}-\d{2}-\d{2}|UTC/, 'no ISO time, no UTC');
});

t.test('a signed-in session is still judged per request: a risky network denies its requests', async (t) => {
  const risky = join(dir, 'risky.txt');
  writeFileSync(risky, '203.0.113.0/24\n');
  const f = await gateway(t, { ...RISK, signals: { ...RISK.signals, risky_network: 80 }, risky_networks: [risky] }, 'login');
  const london = new From(f.url, LONDON_A);
  t.equal((await london.signIn('alice', 'alice-test-pass', '/echo')).status, 303, 'signed in from a usual place (score 20)');
  t.equal((await london.fetch('/echo')).status, 200);
  // The same session from the risky network: new_device 20 + risky_network 80 = 100, above 90.
  const moved = new From(f.url, NEW_YORK);
  moved.cookies = new Map(london.cookies);
  const received = f.portal!.received.length;
  t.equal((await moved.fetch('/echo')).status, 403, 'denied per request');
  t.equal(f.portal!.received.length, received, 'nothing reached the upstream');
  const line = f.logs.filter((l) => l.msg === 'request' && l.path === '/echo').at(-1)!;
  t.match(line, { decision: 'deny', rule: 'risk', reason: /^risk 100 \(risky_network 80, new_device 20\) above 90: denied$/ });
});

t.test('report mode only logs', async (t) => {
  const f = await gateway(t, { ...RISK, mode: 'report' }, 'login');
  const london = new From(f.url, LONDON_A);
  await london.signIn('alice', 'alice-test-pass', '/echo');
  f.clock.advance(10 * MIN);
  const newYork = new From(f.url, NEW_YORK);
  await newYork.signIn('alice', 'alice-test-pass', '/echo');
  t.match(signIns(f, 'alice')[1], { risk: { score: 170, outcome: 'deny', mode: 'report' } });
  const received = f.portal!.received.length;
  const r = await newYork.fetch('/echo?report=1');
  t.equal(r.status, 200, 'the request goes through');
  const got = f.portal!.received.slice(received);
  t.equal(got.length, 1, 'the upstream got exactly the request');
  t.equal(got[0].url, '/echo?report=1');
  t.equal(got[0].headers['x-gatehouse-user'], 'alice');
  const line = f.logs.filter((l) => l.msg === 'request' && l.path === '/echo').at(-1)!;
  t.match(line, { decision: 'report', rule: 'risk', status: 200, reason: /^risk 170 \(impossible_travel 80, new_network 60, new_device 20, new_country 10\) above 90: denied \[report only; enforced: default policy: signed in\]$/ });
});

t.test('recent failures: three wrong passwords before the right one', async (t) => {
  const f = await gateway(t, RISK, 'login');
  const c = new From(f.url, LONDON_A);
  for (let i = 0; i < 3; i++) t.equal((await c.signIn('alice', 'wrong-password', '/echo')).status, 401, `wrong password ${i + 1}`);
  t.equal((await c.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  t.match(signIns(f, 'alice')[0], { risk: { score: 50, signals: ['new_device', 'recent_failures'], outcome: 'none' } });
  t.equal((await c.fetch('/echo')).status, 200, 'score 50 is not above 50');
  const later = new From(f.url, LONDON_A);
  for (let i = 0; i < 2; i++) await later.signIn('alice', 'wrong-password', '/echo');
  await later.signIn('alice', 'alice-test-pass', '/echo');
  t.match(signIns(f, 'alice')[1], { risk: { score: 20, signals: ['new_device'] } }, 'a success starts the count afresh; two failures are not yet a signal');
});

t.test('a deny the failures raised holds on the retry: the refused right password does not clear them', async (t) => {
  // Without recent_failures this sign-in scores 90 (not above 90): the failures alone make it a deny.
  const f = await gateway(t, { ...RISK, rules: [{ above: 90, require: 'deny' }] }, 'login');
  await new From(f.url, LONDON_A).signIn('alice', 'alice-test-pass', '/echo');
  f.clock.advance(10 * 60 * MIN);
  const attacker = new From(f.url, NEW_YORK);
  for (let i = 0; i < 3; i++) t.equal((await attacker.signIn('alice', 'wrong-password', '/echo')).status, 401, `wrong password ${i + 1}`);
  const refused = await attacker.signIn('alice', 'alice-test-pass', '/echo');
  t.equal(refused.status, 403, 'the right password after three wrong ones: refused');
  t.match(readAudit(f).filter((e) => e.event === 'signin.failure' && e.reason === 'risk denied').at(-1), { risk: { signals: ['new_device', 'new_network', 'new_country', 'recent_failures'] } });
  const received = f.portal!.received.length;
  const retry = await attacker.signIn('alice', 'alice-test-pass', '/echo');
  t.equal(retry.status, 403, 'the same password again at once: still refused (the failures still count)');
  t.same(retry.headers.getSetCookie(), []);
  t.equal((await attacker.fetch('/echo')).status, 302, 'not signed in');
  t.equal(f.portal!.received.length, received, 'nothing reached the upstream');
  t.equal(signIns(f, 'alice').length, 1, 'only the sign-in from home succeeded');
  // Alice at home: her failures are scored (new_device 20 + recent_failures 30, under the bar), and her success clears them.
  const home = new From(f.url, LONDON_B);
  t.equal((await home.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  t.match(signIns(f, 'alice')[1], { risk: { signals: ['new_device', 'recent_failures'], outcome: 'none' } });
});
