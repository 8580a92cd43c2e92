// What the upstream answers, as the browser sees it through the real gateway:
// redirects to the upstream's own origin point at the public origin, the
// upstream's cookies pass (minus internal Domain scoping), and the upstream can
// never set the gateway's own session cookie.

import t from 'tap';
import http from 'node:http';
import { request } from 'undici';
import { startTestGateway, Client } from '../helpers/gateway.ts';

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { headers });
  await r.body.text();
  return r;
}

t.test('the demo portal: /set-cookie redirects are rewritten to the public origin', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const internal = `http://127.0.0.1:${f.portal!.port}`;

  const abs = await get(`${f.url}/set-cookie?absolute=1`);
  t.equal(abs.statusCode, 302);
  t.equal(abs.headers.location, `${f.url}/`, `absolute ${internal}/ rewritten to ${f.url}/`);
  t.equal(abs.headers['set-cookie'], 'demo_cookie=from-portal; Path=/', "the app's own cookie passes");
  t.equal(f.portal!.received.at(-1)!.headers.host, `127.0.0.1:${f.portal!.port}`, 'the upstream was addressed by its own host');

  const rel = await get(`${f.url}/set-cookie`);
  t.equal(rel.statusCode, 302);
  t.equal(rel.headers.location, '/', 'a relative Location is left alone');

  // With preserve_host the app builds its URLs from the public host already: nothing to rewrite.
  const cfg = f.gw.current().config;
  t.ok(await f.gw.reload({ ...cfg, routes: [{ ...cfg.routes[0], preserve_host: true }] }));
  const kept = await get(`${f.url}/set-cookie?absolute=1`);
  t.equal(f.portal!.received.at(-1)!.headers.host, `localhost:${f.port}`, 'preserve_host sends the public host');
  t.equal(kept.headers.location, `${f.url}/`);
});

t.test('an upstream cannot set the gateway cookie nor scope cookies to its internal host', async (t) => {
  let upstreamPort = 0;
  let gatewayCookie = 'gatehouse'; // set from the running gateway below
  const upstream = http.createServer((req, res) => {
    res.writeHead(302, {
      location: req.url === '/upper' ? `HTTP://127.0.0.1:${upstreamPort}/landing?x=1` : `http://127.0.0.1:${upstreamPort}/landing`,
      'set-cookie': [
        `${gatewayCookie}=forged-by-upstream; Path=/; HttpOnly`,
        `${gatewayCookie}_device=forged; Path=/`,
        `${gatewayCookie}.1=forged; Path=/`,
        'JSESSIONID=app-session; Path=/; HttpOnly',
        'scoped=1; Domain=127.0.0.1; Path=/',
        'dotted=1; Path=/; domain=.127.0.0.1',
      ],
      'content-length': '0',
    });
    res.end();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as { port: number }).port;
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())));

  const f = await startTestGateway({
    upstream: false,
    config: { routes: [{ path: '/', upstream: `http://127.0.0.1:${upstreamPort}` }], policy: { default: 'login', rules: [] } },
  });
  t.teardown(() => f.close());
  gatewayCookie = f.gw.services.sessions.cookieName;
  const c = new Client(f.url);
  const signed = await c.signIn('alice', 'alice-test-pass');
  t.equal(signed.status, 303);
  const session = c.cookies.get(gatewayCookie);
  t.ok(session, 'signed in with the gateway cookie');

  const r = await c.fetch('/anything');
  t.equal(r.status, 302);
  t.equal(r.headers.get('location'), `${f.url}/landing`);
  const cookies = r.headers.getSetCookie();
  t.notOk(cookies.some((sc) => sc.startsWith(gatewayCookie)), `no gateway cookie from the upstream: ${JSON.stringify(cookies)}`);
  t.ok(cookies.includes('JSESSIONID=app-session; Path=/; HttpOnly'), "the app's session cookie passes untouched");
  const scoped = cookies.find((sc) => sc.startsWith('scoped='));
  const dotted = cookies.find((sc) => sc.startsWith('dotted='));
  t.ok(scoped && !/domain/i.test(scoped), `Domain=127.0.0.1 dropped: ${scoped}`);
  t.ok(dotted && !/domain/i.test(dotted), `domain=.127.0.0.1 dropped: ${dotted}`);
  t.equal(c.cookies.get(gatewayCookie), session, 'the session cookie is still the gateway-issued one');
  t.equal((await c.fetch('/anything')).status, 302, 'and it still works');

  const upper = await c.fetch('/upper');
  t.equal(upper.headers.get('location'), `${f.url}/landing?x=1`, 'scheme/host case does not hide the internal origin');
});

t.test('informational answers (102, 103) before the real one do not break the exchange', async (t) => {
  const upstream = http.createServer((req, res) => {
    if (req.url === '/hints') res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    if (req.url === '/processing') res.writeProcessing();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('final');
    }, 50);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())));
  const f = await startTestGateway({
    upstream: false,
    config: { routes: [{ path: '/', upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }], policy: { default: 'none', rules: [] } },
  });
  t.teardown(() => f.close());
  for (const path of ['/hints', '/processing']) {
    const r = await request(`${f.url}${path}`);
    t.equal(r.statusCode, 200, `${path}: the final status`);
    t.equal(await r.body.text(), 'final', `${path}: the final body`);
  }
});
