// The bundled demo upstream ("Acme Legacy Portal"), over real sockets.

import t from 'tap';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startDemoPortal, RECEIVED_LIMIT } from '../../examples/demo-portal/server.ts';
import type { DemoPortal } from '../../examples/demo-portal/server.ts';
import { dataSha256, DATA_BLOCK } from '../../examples/demo-portal/deterministic-data.ts';
import { readGatewayIdentity, summarizeAssertion } from '../../examples/demo-portal/identity.ts';
import { parsePaymentForm } from '../../examples/demo-portal/state.ts';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number }

const agent = new http.Agent({ keepAlive: true });
t.teardown(() => agent.destroy());

/** A raw request: the path is sent exactly as given (no URL normalisation, unlike fetch). */
function request(port: number, method: string, path: string, opts: { headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const formHeaders = { 'Content-Type': 'application/x-www-form-urlencoded' };

let portal: DemoPortal;
t.before(async () => { portal = await startDemoPortal({ port: 0 }); });
t.teardown(() => portal.close());

t.test('identity headers from the gateway are shown in the banner, escaped', async (t) => {
  const r = await request(portal.port, 'GET', '/', {
    headers: {
      'X-Gatehouse-User': 'alice', 'X-Gatehouse-Email': 'alice@example.com', 'X-Gatehouse-Groups': 'admins,finance',
      'X-Gatehouse-Auth-Methods': 'pwd totp', 'X-Gatehouse-Auth-Time': '1790000000',
      'X-Gatehouse-Assertion': 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln', 'X-Gatehouse-Custom': '<script>x</script>',
    },
  });
  const html = r.body.toString();
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /text\/html/);
  t.match(html, 'Acme Legacy Portal');
  t.match(html, '<td>alice</td>');
  t.match(html, '<td>admins, finance</td>');
  t.match(html, '<td>pwd totp</td>');
  t.match(html, '2026-09-21T14:13:20.000Z');
  t.match(html, 'present (ES256, sub=alice');
  const hostile = await request(portal.port, 'GET', '/reports', { headers: { 'X-Gatehouse-User': '<img src=x onerror=alert(1)>' } });
  t.notMatch(hostile.body.toString(), '<img src=x');
  t.match(hostile.body.toString(), '&lt;img src=x onerror=alert(1)&gt;');
  const anonymous = await request(portal.port, 'GET', '/');
  t.match(anonymous.body.toString(), 'No identity headers on this request');
});

t.test('readGatewayIdentity reads the configured prefix; assertion summary', async (t) => {
  const cases: [Record<string, string>, string, ReturnType<typeof readGatewayIdentity>][] = [
    [{}, 'X-Gatehouse-', { user: undefined, email: undefined, groups: [], authMethods: [], authTime: undefined, assertion: undefined }],
    [{ 'remote-user': 'bob', 'remote-groups': ' a, ,b ', 'remote-auth-methods': 'pwd  hwk', 'remote-auth-time': 'nope' }, 'Remote-',
      { user: 'bob', email: undefined, groups: ['a', 'b'], authMethods: ['pwd', 'hwk'], authTime: undefined, assertion: undefined }],
    [{ 'x-gatehouse-user': 'bob' }, 'Remote-', { user: undefined, email: undefined, groups: [], authMethods: [], authTime: undefined, assertion: undefined }],
  ];
  for (const [headers, prefix, want] of cases) t.same(readGatewayIdentity(headers, prefix), want, `${prefix} ${JSON.stringify(headers)}`);
  t.same(summarizeAssertion('not-a-jwt'), { wellFormed: false });
  t.same(summarizeAssertion('e30.e30.x'), { wellFormed: true, alg: undefined, sub: undefined, exp: undefined });
});

t.test('payment form validation table', async (t) => {
  const cases: [string, boolean][] = [
    ['amount=10&payee=Globex', true], ['amount=10.50&payee=Globex', true], ['amount=0&payee=Globex', false],
    ['amount=-5&payee=Globex', false], ['amount=1e3&payee=Globex', false], ['amount=10&payee=', false], ['payee=Globex', false],
  ];
  for (const [body, ok] of cases) t.equal(parsePaymentForm(new URLSearchParams(body)).ok, ok, body);
});

t.test('POST /billing/pay submits once and the counter shows it', async (t) => {
  const before = portal.state.payments.length;
  const ok = await request(portal.port, 'POST', '/billing/pay', { headers: { ...formHeaders, 'X-Gatehouse-User': 'alice' }, body: 'amount=12.50&payee=Globex+Ltd' });
  t.equal(ok.status, 200);
  t.match(ok.body.toString(), 'Payment of 12.50 to Globex Ltd submitted');
  t.equal(portal.state.payments.length, before + 1);
  t.equal(portal.state.payments.at(-1)?.by, 'alice');
  const bad = await request(portal.port, 'POST', '/billing/pay', { headers: formHeaders, body: 'amount=abc&payee=Globex' });
  t.equal(bad.status, 400);
  t.equal(portal.state.payments.length, before + 1, 'an invalid form pays nothing');
  const page = await request(portal.port, 'GET', '/billing');
  t.match(page.body.toString(), `<b id="payment-count">${before + 1}</b>`);
  t.match(page.body.toString(), 'action="/billing/pay"');
  const get = await request(portal.port, 'GET', '/billing/pay');
  t.equal(get.status, 405);
  t.equal(get.headers.allow, 'POST');
});

t.test('export, API keys, reports, static', async (t) => {
  const csv = await request(portal.port, 'GET', '/export/download');
  t.equal(csv.status, 200);
  t.match(csv.headers['content-type'], /text\/csv/);
  t.match(csv.headers['content-disposition'], /attachment; filename="customers.csv"/);
  t.match(csv.body.toString(), /^id,name,email,country,balance\r\n1001,Globex Ltd/);
  const keysBefore = portal.state.apiKeys.length;
  const created = await request(portal.port, 'POST', '/settings/api-keys', { headers: formHeaders, body: 'name=ci-bot' });
  t.equal(created.status, 200);
  t.match(created.body.toString(), /Created key ci-bot: <code>acme_[0-9a-f]{40}<\/code>/);
  t.equal(portal.state.apiKeys.length, keysBefore + 1);
  const list = await request(portal.port, 'GET', '/settings/api-keys');
  t.match(list.body.toString(), '<td>ci-bot</td>');
  t.equal((await request(portal.port, 'GET', '/reports')).status, 200);
  t.match((await request(portal.port, 'GET', '/export')).body.toString(), 'href="/export/download"');
  t.match((await request(portal.port, 'GET', '/sse')).body.toString(), '<script src="/static/sse.js"></script>');
  const css = await request(portal.port, 'GET', '/static/app.css');
  t.match(css.headers['content-type'], /text\/css/);
  const js = await request(portal.port, 'GET', '/static/sse.js');
  t.match(js.body.toString(), "new EventSource('/events')");
  t.equal((await request(portal.port, 'GET', '/nope')).status, 404);
});

t.test('/events delivers an SSE event within 3 s, unbuffered', async (t) => {
  const started = Date.now();
  const { headers, firstEvent } = await new Promise<{ headers: http.IncomingHttpHeaders; firstEvent: string }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: portal.port, path: '/events' }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const end = buf.indexOf('\n\n');
        if (end >= 0) { resolve({ headers: res.headers, firstEvent: buf.slice(0, end) }); req.destroy(); }
      });
    });
    req.on('error', reject);
    req.setTimeout(3000, () => { req.destroy(); reject(new Error('no SSE event within 3 s')); });
  });
  // Sent at 0.5 s; a buffering server would hold ~80-byte events until its buffer filled (tens of seconds).
  t.ok(Date.now() - started < 3000, 'first event inside 3 s');
  t.match(headers['content-type'], /^text\/event-stream/);
  t.equal(headers['cache-control'], 'no-cache');
  t.match(firstEvent, /^id: 1\nevent: tick\ndata: \{"n":1,/);
  const finite = await request(portal.port, 'GET', '/events?count=2');
  t.equal(finite.body.toString().match(/event: tick/g)?.length, 2, '?count=N ends the stream');
  t.ok(finite.ms >= 900, 'events are spaced 500 ms apart');
});

t.test('/ws echoes text and binary frames', async (t) => {
  const ws = new WebSocket(`ws://127.0.0.1:${portal.port}/ws`, { headers: { 'X-Gatehouse-User': 'carol' } });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const next = () => new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
  let reply = next();
  ws.send('hello portal');
  t.same(await reply, { data: Buffer.from('hello portal'), isBinary: false });
  const bytes = randomBytes(70_000);
  reply = next();
  ws.send(bytes);
  const bin = await reply;
  t.equal(bin.isBinary, true);
  t.ok(bin.data.equals(bytes), 'binary frame echoed intact');
  ws.close();
  const upgrade = portal.received.findLast((r) => r.url === '/ws');
  t.equal(upgrade?.headers['x-gatehouse-user'], 'carol', 'upgrade requests are recorded with their headers');
  const elsewhere = new WebSocket(`ws://127.0.0.1:${portal.port}/not-ws`);
  const status = await new Promise<number>((resolve) => {
    elsewhere.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    elsewhere.once('error', () => resolve(-1));
  });
  t.equal(status, 404);
});

t.test('/upload streams the body and returns its size and sha256', async (t) => {
  const size = 5 * 1024 * 1024 + 17;
  const data = randomBytes(size);
  const result = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: portal.port, method: 'POST', path: '/upload', headers: { 'Content-Type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    for (let off = 0; off < size; off += 256 * 1024) req.write(data.subarray(off, off + 256 * 1024)); // chunked, in pieces
    req.end();
  });
  const sha = createHash('sha256').update(data).digest('hex');
  t.same(result, { bytes: size, sha256: sha });
  const rec = portal.received.findLast((r) => r.url === '/upload');
  t.equal(rec?.bodyLength, size);
  t.equal(rec?.bodySha256, sha);

  // A client that vanishes mid-upload does not take the portal down.
  await new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: portal.port, method: 'POST', path: '/upload', headers: { 'Content-Length': 1_000_000 } });
    req.on('error', () => resolve());
    req.write(data.subarray(0, 1000), () => setTimeout(() => { req.destroy(); resolve(); }, 50));
  });
  t.equal((await request(portal.port, 'GET', '/echo')).status, 200, 'still answering after an aborted upload');
});

t.test('/download streams N deterministic bytes', async (t) => {
  const size = 3_000_001;
  const r = await request(portal.port, 'GET', `/download?size=${size}`);
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], String(size));
  t.equal(r.body.length, size);
  t.equal(createHash('sha256').update(r.body).digest('hex'), dataSha256(size));
  t.equal(r.body[DATA_BLOCK.length + 300], (DATA_BLOCK.length + 300) % 251, 'byte at offset o is o % 251');
  const chunked = await request(portal.port, 'GET', '/download?size=100000&chunked=1');
  t.equal(chunked.headers['content-length'], undefined);
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  t.equal(createHash('sha256').update(chunked.body).digest('hex'), dataSha256(100000));
  t.equal((await request(portal.port, 'GET', '/download?size=0')).body.length, 0);
  t.equal((await request(portal.port, 'GET', '/download?size=-1')).status, 400);
  t.equal((await request(portal.port, 'GET', '/download')).status, 400);
});

t.test('/echo shows the raw url, headers and body length as received', async (t) => {
  const raw = '/echo/a%2Fb/./..//c;jsessionid=1?q=%41&x=1';
  const r = await request(portal.port, 'PATCH', raw, { headers: { 'X-Custom': 'one', 'Content-Type': 'text/plain' }, body: 'twelve bytes' });
  const echo = JSON.parse(r.body.toString()) as { method: string; url: string; headers: Record<string, string>; bodyLength: number; rawHeaders: string[] };
  t.equal(echo.method, 'PATCH');
  t.equal(echo.url, raw);
  t.equal(echo.headers['x-custom'], 'one');
  t.equal(echo.bodyLength, 12);
  t.ok(echo.rawHeaders.includes('X-Custom'), 'raw header names keep their case');
  const plain = JSON.parse((await request(portal.port, 'GET', '/echo')).body.toString()) as { url: string };
  t.equal(plain.url, '/echo');
  t.equal(portal.received.findLast((x) => x.method === 'PATCH')?.url, raw);
});

t.test('/slow waits before sending headers', async (t) => {
  const r = await request(portal.port, 'GET', '/slow?ms=300');
  t.equal(r.status, 200);
  t.ok(r.ms >= 290, `took ${r.ms} ms`);
  t.same(JSON.parse(r.body.toString()), { slept_ms: 300 });
});

t.test('/set-cookie redirects home with a Path=/ cookie', async (t) => {
  const r = await request(portal.port, 'GET', '/set-cookie');
  t.equal(r.status, 302);
  t.equal(r.headers.location, '/');
  t.same(r.headers['set-cookie'], ['demo_cookie=from-portal; Path=/']);
  const abs = await request(portal.port, 'GET', '/set-cookie?absolute=1');
  t.equal(abs.headers.location, `http://127.0.0.1:${portal.port}/`);
});

t.test('the app\'s own /login and /logout', async (t) => {
  const fail = await request(portal.port, 'POST', '/login', { headers: formHeaders, body: 'username=alice&password=wrong' });
  t.equal(fail.status, 200);
  t.match(fail.body.toString(), 'Invalid credentials (app)');
  t.equal(fail.headers['set-cookie'], undefined);
  const unknown = await request(portal.port, 'POST', '/login', { headers: formHeaders, body: 'username=mallory&password=alice-app-pass' });
  t.match(unknown.body.toString(), 'Invalid credentials (app)');

  const ok = await request(portal.port, 'POST', '/login', { headers: formHeaders, body: 'username=alice&password=alice-app-pass' });
  t.equal(ok.status, 302);
  t.equal(ok.headers.location, '/');
  const cookie = ok.headers['set-cookie']?.[0] ?? '';
  t.match(cookie, /^JSESSIONID=[0-9A-F]{36}; Path=\/; HttpOnly$/);
  const session = cookie.split(';')[0];
  const home = await request(portal.port, 'GET', '/', { headers: { Cookie: session } });
  t.match(home.body.toString(), "Signed in to the portal's own login as <b>alice</b>");

  const out = await request(portal.port, 'POST', '/logout', { headers: { Cookie: session } });
  t.equal(out.status, 302);
  t.match(out.headers['set-cookie']?.[0], /^JSESSIONID=; Path=\/; Max-Age=0/);
  const after = await request(portal.port, 'GET', '/', { headers: { Cookie: session } });
  t.match(after.body.toString(), 'No portal session', 'the old session id no longer signs in');
});

t.test('requireAppLogin sends pages to the app login', async (t) => {
  const strict = await startDemoPortal({ port: 0, requireAppLogin: true });
  t.teardown(() => strict.close());
  const page = await request(strict.port, 'GET', '/billing');
  t.equal(page.status, 302);
  t.equal(page.headers.location, '/login');
  t.equal((await request(strict.port, 'GET', '/login')).status, 200);
  const ok = await request(strict.port, 'POST', '/login', { headers: formHeaders, body: 'username=bob&password=bob-app-pass' });
  const session = (ok.headers['set-cookie']?.[0] ?? '').split(';')[0];
  t.equal((await request(strict.port, 'GET', '/billing', { headers: { Cookie: session } })).status, 200);
});

t.test('received keeps only the last RECEIVED_LIMIT requests', async (t) => {
  const own = await startDemoPortal({ port: 0 });
  t.teardown(() => own.close());
  for (let i = 0; i < RECEIVED_LIMIT + 5; i++) await request(own.port, 'GET', `/echo?i=${i}`);
  t.equal(own.received.length, RECEIVED_LIMIT);
  t.equal(own.received[0].url, '/echo?i=5');
  t.equal(own.received.at(-1)?.url, `/echo?i=${RECEIVED_LIMIT + 4}`);
});
