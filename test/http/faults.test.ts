// Faults on both sides of the gateway: upstream refused, silent or
// reset; clients that send too much, too slowly, garbage, or go away. The
// gateway answers with the right status, never hangs, and never crashes (it
// still answers /.gatehouse/healthz afterwards). Graceful shutdown drains.

import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import http from 'node:http';
import { request } from 'undici';
import { startTestGateway, CLOSED_PORT, type GatewayFixture } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';
import { startDemoPortal, type DemoPortal } from '../../examples/demo-portal/server.ts';

const HTML = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json' };
const MAX_BODY = 1024 * 1024;

interface BrokenUpstream { port: number; seen: string[]; close(): Promise<void> }

/**
 * A throwaway upstream that misbehaves: /broken/reset-mid-body starts an answer and cuts it;
 * /broken/reset-early cuts before answering; /broken/early answers 401 without reading the body.
 * `seen` lists every request target that reached it.
 */
async function startBrokenUpstream(): Promise<BrokenUpstream> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url?.startsWith('/broken/early')) {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '6' });
      res.end('denied');
      return;
    }
    if (req.url?.startsWith('/broken/ok')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
      return;
    }
    if (req.url?.startsWith('/broken/reset-early')) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) });
    res.write(Buffer.alloc(64 * 1024, 1));
    setTimeout(() => req.socket.destroy(), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    close: () => { server.closeAllConnections(); return new Promise<void>((r) => server.close(() => r())); },
  };
}

interface Env { f: GatewayFixture; portal: DemoPortal; broken: BrokenUpstream }

async function startEnv(t: Test, over: Record<string, unknown> = {}, routeTimeout = '1s'): Promise<Env> {
  const portal = await startDemoPortal({ port: 0 });
  const broken = await startBrokenUpstream();
  const closedPort = CLOSED_PORT;
  const up = `http://127.0.0.1:${portal.port}`;
  const f = await startTestGateway({
    upstream: false,
    config: {
      server: { header_timeout: '1s', body_timeout: '1s', max_body_bytes: MAX_BODY, max_header_count: 50, max_header_bytes: 8192, shutdown_timeout: '10s' },
      routes: [
        { path: '/', upstream: up, timeout: routeTimeout },
        { path: '/down', upstream: `http://127.0.0.1:${closedPort}` },
        { path: '/broken', upstream: `http://127.0.0.1:${broken.port}` },
      ],
      policy: { default: 'none', rules: [] },
      ...over,
    },
  });
  t.teardown(async () => {
    await f.close();
    await portal.close();
    await broken.close();
  });
  return { f, portal, broken };
}

async function healthy(t: Test, f: GatewayFixture, what: string): Promise<void> {
  const r = await request(`${f.url}/.gatehouse/healthz`);
  t.equal(r.statusCode, 200, `still healthy after ${what}`);
  t.equal(await r.body.text(), 'ok');
}

/** Opens a raw connection; collects what comes back; resolves `closed` when the gateway hangs up. */
function rawConnection(port: number): { socket: Socket; data: () => string; closed: Promise<number> } {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return { socket, data: () => Buffer.concat(chunks).toString('latin1'), closed };
}

/** Sends raw bytes and waits for the gateway to close the connection. */
async function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 15_000): Promise<string> {
  const c = rawConnection(port);
  c.socket.write(bytes);
  const timer = setTimeout(() => c.socket.destroy(), timeoutMs);
  await c.closed;
  clearTimeout(timer);
  return c.data();
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

t.test('upstream faults: refused → 502, silent → 504, reset → 502 or a cut stream', async (t) => {
  const { f } = await startEnv(t);

  const page = await request(`${f.url}/down/x`, { headers: HTML });
  t.equal(page.statusCode, 502);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(await page.body.text(), /<html/i, 'a page for a browser');

  const api = await request(`${f.url}/down/x`, { headers: API });
  t.equal(api.statusCode, 502);
  t.match(api.headers['content-type'], /application\/json/);
  t.match(await api.body.json(), { error: 'bad_gateway' }, 'JSON for an API client');

  const started = performance.now();
  const slow = await request(`${f.url}/slow?ms=5000`, { headers: API });
  const took = performance.now() - started;
  t.equal(slow.statusCode, 504);
  t.match(await slow.body.json(), { error: 'gateway_timeout' });
  t.ok(took >= 900, `waited for the route timeout (${Math.round(took)} ms)`);
  t.ok(took < 4000, `504 well before the upstream would answer (${Math.round(took)} ms)`);
  const slowPage = await request(`${f.url}/slow?ms=5000`, { headers: HTML });
  t.equal(slowPage.statusCode, 504);
  t.match(await slowPage.body.text(), /<html/i);

  const early = await request(`${f.url}/broken/reset-early`, { headers: API });
  t.equal(early.statusCode, 502, 'upstream hung up before answering');
  await early.body.text();

  // Upstream cuts the body: the client sees the 200 start, then a cut connection, never a "complete" short body.
  const mid = await request(`${f.url}/broken/reset-mid-body`);
  t.equal(mid.statusCode, 200);
  let got = 0;
  const err = await (async () => {
    try {
      for await (const chunk of mid.body) got += (chunk as Buffer).length;
      return undefined;
    } catch (e) {
      return e as Error;
    }
  })();
  t.ok(err, `the cut is visible to the client (${err?.message})`);
  t.ok(got < 1024 * 1024, `short body: ${got} bytes`);
  await healthy(t, f, 'upstream faults');
});

t.test('header limits: too many or too big → 431', async (t) => {
  const { f, portal } = await startEnv(t);
  const before = portal.received.length;
  const many = Array.from({ length: 80 }, (_, i) => `X-Filler-${i}: ${i}\r\n`).join('');
  const a = await rawExchange(f.port, `GET /echo HTTP/1.1\r\nHost: localhost\r\n${many}Connection: close\r\n\r\n`);
  t.equal(statusOf(a), 431, 'header count over max_header_count');

  const big = `X-Big: ${'a'.repeat(10_000)}\r\n`;
  const b = await rawExchange(f.port, `GET /echo HTTP/1.1\r\nHost: localhost\r\n${big}Connection: close\r\n\r\n`);
  t.equal(statusOf(b), 431, 'header bytes over max_header_bytes');

  const u = await request(`${f.url}/echo`, { headers: { ...API, 'x-big': 'b'.repeat(10_000) } });
  t.equal(u.statusCode, 431);
  await u.body.text();
  t.equal(portal.received.length, before, 'nothing forwarded');

  const justUnder = Array.from({ length: 40 }, (_, i) => `X-Filler-${i}: ${i}\r\n`).join('');
  const ok = await rawExchange(f.port, `GET /echo HTTP/1.1\r\nHost: localhost\r\n${justUnder}Connection: close\r\n\r\n`);
  t.equal(statusOf(ok), 200, 'under the limits: served');
  await healthy(t, f, 'header limits');
});

t.test('body over max_body_bytes → 413, declared or chunked, and never forwarded whole', async (t) => {
  const { f, portal, broken } = await startEnv(t);
  const body = Buffer.alloc(MAX_BODY + 1, 7);

  const declared = await request(`${f.url}/upload`, { method: 'POST', headers: { ...API, 'content-type': 'application/octet-stream' }, body });
  t.equal(declared.statusCode, 413, 'Content-Length over the limit');
  t.match(await declared.body.json(), { error: 'too_large' });

  // Chunked: the size is only known while streaming.
  const c = rawConnection(f.port);
  c.socket.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
  const piece = Buffer.alloc(64 * 1024, 9);
  let sent = 0;
  for (let i = 0; i < 20 && !c.socket.destroyed; i++) {
    c.socket.write(`${piece.length.toString(16)}\r\n`);
    c.socket.write(piece);
    const ok = c.socket.write('\r\n');
    sent += piece.length;
    if (!ok) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
  }
  if (!c.socket.destroyed) c.socket.write('0\r\n\r\n');
  const timer = setTimeout(() => c.socket.destroy(), 15_000);
  await c.closed;
  clearTimeout(timer);
  t.ok(sent > MAX_BODY, 'sent more than the limit');
  t.equal(statusOf(c.data()), 413, `chunked body over the limit gets 413 (got ${JSON.stringify(c.data().slice(0, 40))})`);

  // Declared too big: refused before anything is sent upstream (the broken upstream logs every
  // request line it gets). A warm pooled connection would carry it at once if it were dispatched.
  const warm = await request(`${f.url}/broken/ok`, { headers: API });
  t.equal(warm.statusCode, 200);
  await warm.body.text();
  const toBroken = await request(`${f.url}/broken/declared-too-big`, { method: 'POST', headers: API, body });
  t.equal(toBroken.statusCode, 413);
  await toBroken.body.text();
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(broken.seen.includes('/broken/declared-too-big'), 'a body declared over the limit is never forwarded');

  const uploads = portal.received.filter((r) => r.url === '/upload');
  t.notOk(uploads.some((r) => r.bodyLength > MAX_BODY), 'the upstream never received an over-limit body');

  const small = await request(`${f.url}/upload`, { method: 'POST', headers: API, body: Buffer.alloc(1000, 1) });
  t.equal(small.statusCode, 200, 'under the limit: served');
  t.match(await small.body.json(), { bytes: 1000 });
  await healthy(t, f, 'oversized bodies');
});

t.test('slowloris: a client trickling its headers is cut after header_timeout; others are served meanwhile', async (t) => {
  const { f } = await startEnv(t);
  const c = rawConnection(f.port);
  const started = performance.now();
  const line = 'GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(200);
  let i = 0;
  const trickle = setInterval(() => {
    if (c.socket.destroyed || i >= line.length) return clearInterval(trickle);
    c.socket.write(line[i++]);
  }, 100);
  // Meanwhile another client is served, repeatedly.
  let served = 0;
  let failures = 0;
  let stop = false;
  const others = (async () => {
    while (!stop) {
      const r = await request(`${f.url}/echo`, { headers: API }).catch(() => null);
      if (r?.statusCode === 200) served++; else failures++;
      await r?.body.text();
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const hardStop = setTimeout(() => c.socket.destroy(), 20_000);
  const closedAt = await c.closed;
  clearTimeout(hardStop);
  clearInterval(trickle);
  stop = true;
  await others;
  const took = closedAt - started;
  t.ok(took >= 900, `not cut before header_timeout (${Math.round(took)} ms)`);
  t.ok(took < 6000, `cut soon after header_timeout (${Math.round(took)} ms), not after the default 10 s+`);
  t.ok(i < line.length, `cut before it finished its headers (${i} of ${line.length} bytes)`);
  t.notOk(/^HTTP\/1\.1 200/.test(c.data()), 'never served');
  t.ok(served >= 3, `another client was served meanwhile (${served} times)`);
  t.equal(failures, 0);
  await healthy(t, f, 'slowloris');
});

t.test('a stalled body is cut after body_timeout', async (t) => {
  const { f } = await startEnv(t);
  const c = rawConnection(f.port);
  const started = performance.now();
  c.socket.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 1000\r\n\r\n0123456789');
  const hardStop = setTimeout(() => c.socket.destroy(), 20_000);
  const closedAt = await c.closed;
  clearTimeout(hardStop);
  const took = closedAt - started;
  t.ok(took >= 900, `waited for body_timeout (${Math.round(took)} ms)`);
  t.ok(took < 6000, `cut soon after body_timeout (${Math.round(took)} ms)`);
  t.notOk(/^HTTP\/1\.1 200/.test(c.data()), 'a stalled upload is not answered as a success');
  await healthy(t, f, 'a stalled body');

  // A slow but steady upload is not a stall: each byte within body_timeout keeps it alive.
  const s = rawConnection(f.port);
  s.socket.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 6\r\nConnection: close\r\n\r\n');
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 400));
    s.socket.write('x');
  }
  const hs = setTimeout(() => s.socket.destroy(), 15_000);
  await s.closed;
  clearTimeout(hs);
  t.equal(statusOf(s.data()), 200, 'slow but steady upload (2.4 s total) completes');
});

t.test('garbage, aborted uploads, client resets and upstream resets never crash the gateway', async (t) => {
  const { f } = await startEnv(t);
  const garbage = [
    Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
    'HELLO\r\n\r\n',
    'GET\r\n\r\n',
    'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n',
    'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const g of garbage) {
    const answer = await rawExchange(f.port, g);
    const status = statusOf(answer);
    t.ok(status === 0 || (status >= 400 && status < 500), `garbage ${JSON.stringify(String(g).slice(0, 30))} → ${status || 'closed'}`);
  }
  await healthy(t, f, 'garbage');

  // Aborted uploads: the client goes away mid-body.
  for (let k = 0; k < 5; k++) {
    const c = rawConnection(f.port);
    c.socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MAX_BODY}\r\n\r\n`);
    c.socket.write(Buffer.alloc(100_000, 3));
    await new Promise((r) => setTimeout(r, 50));
    c.socket.destroy();
    await c.closed;
  }
  // Aborted chunked upload.
  const cu = rawConnection(f.port);
  cu.socket.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n' + 'x'.repeat(1024) + '\r\n');
  await new Promise((r) => setTimeout(r, 50));
  cu.socket.resetAndDestroy();
  await cu.closed;
  await healthy(t, f, 'aborted uploads');

  // Client resets mid-download (a big download, read a little, then RST).
  for (let k = 0; k < 3; k++) {
    const c = rawConnection(f.port);
    c.socket.write('GET /download?size=1073741824 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise<void>((resolve) => {
      let n = 0;
      c.socket.on('data', (d) => { n += d.length; if (n > 256 * 1024) resolve(); });
      c.closed.then(() => resolve());
    });
    if (k % 2 === 0) c.socket.resetAndDestroy(); else c.socket.destroy();
    await c.closed;
  }
  // Same through undici, aborting the body mid-stream.
  const ac = new AbortController();
  const dl = await request(`${f.url}/download?size=1073741824`, { signal: ac.signal });
  t.equal(dl.statusCode, 200);
  let seen = 0;
  await (async () => {
    try {
      for await (const chunk of dl.body) { seen += (chunk as Buffer).length; if (seen > 1e6) ac.abort(); }
    } catch { /* aborted */ }
  })();
  t.ok(seen > 1e6 && seen < 1073741824, 'download aborted mid-stream');
  await healthy(t, f, 'client resets mid-download');

  // Upstream resets mid-response, several times, with the client reading.
  for (let k = 0; k < 5; k++) {
    const r = await request(`${f.url}/broken/reset-mid-body`).catch(() => null);
    if (r) await r.body.text().catch(() => {});
  }
  await healthy(t, f, 'upstream resets');

  // After all that, ordinary traffic still flows.
  const echo = await request(`${f.url}/echo/after`, { headers: API });
  t.equal(echo.statusCode, 200);
  t.match(await echo.body.json(), { url: '/echo/after' });
});

t.test('uploads to an upstream that answers early or fails: the client gets the answer, the gateway lives on', async (t) => {
  const { f } = await startEnv(t);
  const upload = Buffer.alloc(512 * 1024, 5);
  for (const [path, want] of [['/broken/early', 401], ['/broken/reset-early', 502], ['/down/upload', 502]] as const) {
    const r = await request(`${f.url}${path}`, { method: 'POST', headers: API, body: upload }).then(
      async (res) => ({ status: res.statusCode, body: await res.body.text() }),
      (err: Error) => ({ status: 0, body: err.message }),
    );
    t.equal(r.status, want, `POST ${path}: ${want}, not a reset (${r.body.slice(0, 60)})`);
  }
  // A chunked upload that keeps streaming while the upstream has long answered. (Typed: a POST
  // without a Content-Type is read to its end before deciding, since Rack reads it as a form.)
  const c = rawConnection(f.port);
  c.socket.write('POST /broken/early HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (let i = 0; i < 10; i++) {
    c.socket.write(`4000\r\n${'y'.repeat(0x4000)}\r\n`);
    await new Promise((r) => setTimeout(r, 30));
  }
  // Wait past body_timeout (1 s): stall timers from those exchanges must not take the process down.
  await new Promise((r) => setTimeout(r, 2500));
  c.socket.destroy();
  t.equal(statusOf(c.data()), 401, 'the early answer reached the client');
  await healthy(t, f, 'early answers and failures during uploads');
});

t.test('Expect: 100-continue uploads (what curl -T sends over 1 MB) go through', async (t) => {
  const { f, portal } = await startEnv(t);
  const c = rawConnection(f.port);
  c.socket.write('PUT /upload HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
  for (let i = 0; i < 100 && !c.data().includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(c.data(), /^HTTP\/1\.1 100 Continue\r\n/, 'the gateway invites the body');
  c.socket.write('hello world');
  const hard = setTimeout(() => c.socket.destroy(), 15_000);
  await c.closed;
  clearTimeout(hard);
  const final = c.data().slice(c.data().indexOf('\r\n\r\n') + 4);
  t.equal(statusOf(final), 200, 'then answers the upload');
  t.match(final, /"bytes":11/);
  t.notOk('expect' in portal.received.at(-1)!.headers, 'Expect is not forwarded');
});

t.test('many uploads on one keep-alive connection do not pile up socket listeners', async (t) => {
  const { f } = await startEnv(t);
  const warnings: string[] = [];
  const onWarning = (w: Error) => { warnings.push(`${w.name}: ${w.message}`); };
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });
  const { Pool } = await import('undici');
  const pool = new Pool(f.url, { connections: 1 });
  t.teardown(() => pool.close());
  for (let i = 0; i < 25; i++) {
    const r = await pool.request({ path: '/upload', method: 'POST', body: `body ${i}`, headers: API });
    t.equal(r.statusCode, 200);
    await r.body.text();
  }
  await new Promise((r) => setImmediate(r));
  t.same(warnings.filter((w) => /MaxListeners/.test(w)), [], 'no listener leak on a reused connection');
  // The connection, idle between requests, is not cut by a leftover body timer.
  await new Promise((r) => setTimeout(r, 1500));
  const again = await pool.request({ path: '/echo', method: 'GET', headers: API });
  t.equal(again.statusCode, 200);
  await again.body.text();
});

t.test('graceful shutdown: in-flight requests complete, new connections are refused', async (t) => {
  // A roomy route timeout, so only the drain decides the in-flight request's fate.
  const { f, portal } = await startEnv(t, {}, '10s');
  const inflight = request(`${f.url}/slow?ms=800`, { headers: API }).then(async (r) => ({ status: r.statusCode, body: await r.body.json() }));
  t.ok(await eventually(() => portal.received.some((r) => r.url.startsWith('/slow'))), 'the in-flight request reached the upstream');
  const closing = f.gw.close();
  await new Promise((r) => setTimeout(r, 50));
  const refused = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: f.port });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.equal(refused, 'ECONNREFUSED', 'no new connections while draining');
  const done = await inflight;
  t.equal(done.status, 200, 'the in-flight request completed');
  t.same(done.body, { slept_ms: 800 });
  await closing;
  t.pass('close() resolved after draining');
});
