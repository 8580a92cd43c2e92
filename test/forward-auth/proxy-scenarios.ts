// The same end-to-end checks behind each real proxy (nginx, Caddy): gatehouse
// is only the authorizer; the proxy serves the demo portal and routes
// /.gatehouse/ to the gateway. Requests go to the proxy's public origin.

import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { normalizeTarget } from '../../src/policy/normalize.ts';
import { Client, portForDaemon, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import type { RealProxy } from './real-proxy.ts';
import { rawGet } from '../helpers/raw-http.ts';

/** One raw request over a socket, so nothing on the client side normalizes the target. */
export const rawRequest = (port: number, target: string, headers: Record<string, string>) =>
  rawGet(port, target, Object.entries(headers).map(([k, v]) => `${k}: ${v}`));

type StartProxy = (o: { dir: string; port: number; gatehouse: string; app: string }) => Promise<RealProxy>;

type Tap = Test;

export function oathtool(secret: string): string {
  return execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, '')]).toString().trim();
}


const POLICY = {
  default: 'login',
  rules: [
    { id: 'public', match: { path: '/echo/public/**' }, require: 'none' },
    { id: 'admin', match: { path: '/admin/**' }, require: 'deny' },
    { id: 'billing', match: { path: '/billing/**', methods: ['POST'] }, require: 'mfa', factors: ['totp'] },
  ],
};

/** Ways a client could spell /.gatehouse/authz (proxies normalize some; gatehouse normalizes the rest). */
export const AUTHZ_SPELLINGS = [
  '/.gatehouse/authz', '/.gatehouse/authz?mode=302', '/.gatehouse/authz/', '/.gatehouse/authz//', '/.gatehouse/authz/x',
  '/.gatehouse/AUTHZ', '/.gatehouse/Authz/', '/.GATEHOUSE/authz', '/.Gatehouse/AuthZ',
  '/.gatehouse/%61uthz', '/.gatehouse/%41UTHZ', '/%2egatehouse/authz', '/%2Egatehouse/%61uthz/', '/.gatehouse%2fauthz', '/.gatehouse/authz%2f',
  '//.gatehouse/authz', '/.gatehouse//authz', '///.gatehouse///authz/',
  '/.gatehouse/./authz', '/.gatehouse/x/../authz', '/x/../.gatehouse/authz', '/.gatehouse/%2e/authz', '/echo/%2e%2e/.gatehouse/authz',
];

export async function runProxyScenarios(t: Tap, name: string, startProxy: StartProxy): Promise<void> {
  const proxyPort = await portForDaemon();
  const origin = `http://localhost:${proxyPort}`;
  const f: GatewayFixture = await startTestGateway({
    config: { server: { public_url: origin, trusted_proxies: ['127.0.0.1/32'] }, policy: POLICY },
  });
  t.teardown(() => f.close());
  const proxy = await startProxy({ dir: f.dir, port: proxyPort, gatehouse: `127.0.0.1:${f.port}`, app: `127.0.0.1:${f.portal!.port}` });
  t.teardown(() => proxy.close());
  const portal = f.portal!;
  t.comment(`${name} on ${origin}, gatehouse on ${f.port}, portal on ${portal.port}`);
  const alice = new Client(origin);

  await t.test('anonymous: sent to the gateway\'s sign-in page, served through the proxy', async (t) => {
    const c = new Client(origin);
    const r = await c.fetch('/billing');
    t.equal(r.status, 302, 'a browser is redirected');
    t.equal(r.headers.get('location'), `${origin}/.gatehouse/login?rd=%2Fbilling`, 'absolute, on the public origin, rd = the path');
    const page = await c.fetch('/.gatehouse/login?rd=%2Fbilling');
    t.equal(page.status, 200);
    t.match(await page.text(), /name="csrf"/, 'the gateway\'s login form');
    const api = await c.fetch('/billing', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
    t.equal(api.status, 401, 'an API client gets a 401');
    t.match(await api.json(), { challenge_url: `${origin}/.gatehouse/login?rd=%2Fbilling` });
    t.notOk(portal.received.some((q) => q.url.startsWith('/billing')), 'nothing reached the app');
  });

  await t.test('sign-in through the proxy; the app gets alice\'s identity, never a client\'s claim', async (t) => {
    const s = await alice.signIn('alice', 'alice-test-pass', '/echo/me');
    t.equal(s.status, 303);
    t.equal(s.headers.get('location'), '/echo/me');
    const r = await alice.fetch('/echo/me', {
      headers: { accept: 'application/json', 'X-Gatehouse-User': 'mallory', 'x-gatehouse-groups': 'root', 'X-Gatehouse-Assertion': 'forged' },
    });
    t.equal(r.status, 200);
    const body = await r.json() as { url: string; headers: Record<string, string>; rawHeaders: string[] };
    t.equal(body.url, '/echo/me');
    t.equal(body.headers['x-gatehouse-user'], 'alice');
    t.equal(body.headers['x-gatehouse-email'], 'alice@example.com');
    t.equal(body.headers['x-gatehouse-groups'], 'admins,finance');
    t.equal(body.headers['x-gatehouse-auth-methods'], 'pwd');
    t.match(body.headers['x-gatehouse-assertion'], /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    const userLines = body.rawHeaders.filter((_, i) => i % 2 === 0 && body.rawHeaders[i].toLowerCase() === 'x-gatehouse-user');
    t.equal(userLines.length, 1, 'one X-Gatehouse-User line, not the client\'s plus ours');

    const anon = new Client(origin);
    const p = await anon.fetch('/echo/public/x', { headers: { accept: 'application/json', 'X-Gatehouse-User': 'mallory', 'X-Gatehouse-Groups': 'admins' } });
    t.equal(p.status, 200, 'a public page is let through anonymously');
    const pb = await p.json() as { headers: Record<string, string> };
    t.notOk(pb.headers['x-gatehouse-user'], `the client's X-Gatehouse-User is gone (got ${JSON.stringify(pb.headers['x-gatehouse-user'])})`);
    t.notOk(pb.headers['x-gatehouse-groups'], 'and its groups claim');

    // Other spellings CGI and PHP read as X-Gatehouse-User, and X-Original-URL: nginx drops such
    // names itself; Caddy passes them on, and gatehouse refuses the request (403).
    for (const name of ['X_Gatehouse_User', 'X.Gatehouse.User', 'X-Original-URL']) {
      const before = portal.received.length;
      const q = await alice.fetch('/echo/public/x', { headers: { accept: 'application/json', [name]: name === 'X-Original-URL' ? '/admin/x' : 'mallory' } });
      const names = portal.received.slice(before).flatMap((e) => e.rawHeaders.filter((_, i) => i % 2 === 0));
      const reached = names.filter((n) => /^x\Woriginal\Wurl$|^x\Wgatehouse\Wuser$/i.test(n) && n.toLowerCase() !== 'x-gatehouse-user');
      t.ok(q.status === 403 || q.status === 200, `${name}: refused or passed without it (${q.status})`);
      t.same(reached, [], `${name}: never reached the app`);
    }
  });

  await t.test('a step-up rule (POST /billing/** needs TOTP) challenges; after enrolling TOTP the payment goes through once', async (t) => {
    const before = portal.state.payments.length;
    const form = { amount: '12.50', payee: 'ACME Ltd' };
    let r = await alice.postForm('/billing/pay', form, { referer: `${origin}/billing` });
    t.equal(r.status, 302, 'challenged');
    t.equal(r.headers.get('location'), `${origin}/.gatehouse/enroll?rd=%2Fbilling&rule=billing`, 'enrollment (alice has no TOTP yet), back to the form');
    t.equal(portal.state.payments.length, before, 'no payment while challenged');

    r = await alice.fetch('/.gatehouse/enroll?rd=%2Fbilling&rule=billing&method=totp');
    t.equal(r.status, 200);
    const html = await r.text();
    const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1];
    t.ok(secret, 'the TOTP secret is shown');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
    r = await alice.postForm('/.gatehouse/enroll', { csrf, rd: '/billing', rule: 'billing', action: 'totp', code: oathtool(secret!) });
    t.equal(r.status, 303, 'TOTP enrolled through the proxy');

    r = await alice.postForm('/billing/pay', form, { referer: `${origin}/billing` });
    t.equal(r.status, 200, 'the payment form now reaches the app');
    t.equal(portal.state.payments.length, before + 1, 'exactly one payment');
    t.equal(portal.state.payments.at(-1)?.by, 'alice');
  });

  await t.test('path variants: decided on the path the app receives; none reaches /admin', async (t) => {
    const variants = [
      '/admin', '/admin/', '/admin/x', '/x/../admin', '/echo/../admin/x', '/echo/%2e%2e/admin', '/echo/.%2e/admin',
      '/%2e%2e/admin', '/%61dmin/x', '//admin', '/./admin', '/echo/..%2fadmin', '/admin%2fx', '/echo%2f..%2fadmin',
      '/admin;x', '/echo/..;/admin', '/echo/%252e%252e/admin', '/echo\\..\\admin', '/admin%00', '/ADMIN/../admin',
      // allowed ones, to see that what is decided is what arrives
      '/admin/../echo/a', '/echo/%2e/b', '/echo/./b',
      '/echo//c', '/echo/a%20b', '/echo/%41', '/echo/a.b/..c',
    ];
    const headers = { host: `localhost:${proxyPort}`, cookie: alice.cookieHeader(), accept: 'application/json' };
    for (const target of variants) {
      const seen = portal.received.length;
      const logged = f.logs.length;
      const r = await rawRequest(proxyPort, target, headers);
      const arrived = portal.received.slice(seen);
      const decided = f.logs.slice(logged).filter((l) => l.msg === 'request' && l.decision !== undefined);
      for (const q of arrived) {
        const n = normalizeTarget(q.url, { pathParams: 'reject', caseInsensitive: false });
        t.ok(n.ok, `${target}: the app got ${q.url}, a target gatehouse would accept`);
        if (!n.ok) continue;
        t.notOk(n.matchPath === '/admin' || n.matchPath.startsWith('/admin/'), `${target}: did not reach /admin (app got ${q.url})`);
        t.ok(decided.some((l) => l.path === n.matchPath && (l.decision === 'allow' || l.decision === 'report')),
          `${target}: gatehouse allowed exactly the path the app got (${n.matchPath}); decided ${JSON.stringify(decided.map((l) => [l.path, l.decision]))}`);
      }
      if (arrived.length === 0) t.ok(r.status >= 400 && r.status < 500, `${target}: refused with ${r.status}`);
    }
    t.notOk(portal.received.some((q) => /^\/admin(\/|$|\?)/i.test(q.url)), 'the app never saw /admin');
    for (const allowed of ['/echo//c', '/echo/a%20b', '/echo/a.b/..c']) {
      const r = await rawRequest(proxyPort, allowed, headers);
      t.equal(r.status, 200, `${allowed} is let through`);
    }
  });

  await t.test('sign-out through the proxy is honoured at once', async (t) => {
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await alice.fetch('/.gatehouse/logout')).text())?.[1];
    t.ok(csrf);
    const cookieBefore = alice.cookieHeader();
    const r = await alice.postForm('/.gatehouse/logout', { csrf: csrf! });
    t.equal(r.status, 200);
    const again = await new Client(origin).fetch('/echo/me', { headers: { cookie: cookieBefore } });
    t.equal(again.status, 302, 'the old cookie is refused');
    t.match(again.headers.get('location'), /\/\.gatehouse\/login\?rd=%2Fecho%2Fme$/);
  });

  await t.test('clients cannot reach /.gatehouse/authz through the proxy, in any spelling', async (t) => {
    // What a client would forge to be asked about: every forwarded-request header gatehouse reads.
    const forged = {
      host: `localhost:${proxyPort}`, cookie: alice.cookieHeader(), accept: 'application/json',
      'x-original-uri': '/echo/x', 'x-original-method': 'GET', 'x-forwarded-uri': '/echo/x', 'x-forwarded-method': 'GET',
    };
    for (const target of AUTHZ_SPELLINGS) {
      const logged = f.logs.length;
      const seen = portal.received.length;
      const r = await rawRequest(proxyPort, target, forged);
      t.ok(r.status === 404 || r.status === 400, `${target}: refused by ${name} (${r.status})`);
      t.notMatch(r.head, /x-gatehouse-user:\s*alice/i, `${target}: no identity handed to the client`);
      const lines = f.logs.slice(logged).filter((l) => l.msg === 'request');
      t.same(lines.map((l) => [l.path, l.status]), [], `${target}: gatehouse never saw it`);
      t.equal(portal.received.length, seen, `${target}: nor did the app`);
    }
  });
}
