// A body the gateway answers without reading to its end (here: a step-up
// asked on a path whose `params` rule read only policy.inspect_body_max of
// it) is discarded within bounds (web/discard-body.ts): a client that
// trickles the rest is cut off after server.body_timeout, one that sends
// more than server.max_body_bytes is cut off then, a body declared larger
// gets Connection: close, and a keep-alive client whose small body was read
// keeps its connection. The answer always arrives whole first. The admin
// listener (server.admin_listen) handles a body it never reads the same way.

import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { Client, startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { startLenientGateway } from '../helpers/lenient-gateway.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';

const MAX_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 300;

interface Conn { socket: Socket; text(): string; closed: Promise<number> }

/** A raw connection; `closed` resolves with the ms from opening to the gateway closing it. */
function open(g: Gateway | number): Conn {
  const socket = connect({ host: '127.0.0.1', port: typeof g === 'number' ? g : g.f.port });
  const started = performance.now();
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed };
}

interface Gateway { f: GatewayFixture; cookie: string }

/** A gateway whose db-export rule wants a fresh second factor that alice's session no longer has. */
async function setup(t: Test, bodyTimeout: string): Promise<Gateway> {
  const { f } = await startLenientGateway(t, {
    users: { alice: { password: 'alice-test-pass' } },
    routes: [{ path: '/', method_override: 'pass' }],
    config: {
      server: { body_timeout: bodyTimeout, max_body_bytes: MAX_BODY },
      policy: {
        default: 'login',
        inspect_body_max: '1KiB',
        rules: [{ id: 'db-export', match: { path: '/index.php', params: { route: '/export' } }, require: 'mfa', max_age: '5m' }],
      },
    },
  });
  await enrollTotpOverHttp(f, 'alice', 'alice-test-pass');
  f.clock.advance(10 * 60_000);
  const c = new Client(f.url);
  if ((await c.signIn('alice', 'alice-test-pass')).status !== 303) throw new Error('sign-in failed');
  return { f, cookie: c.cookieHeader() };
}

const PATH = '/index.php';
/** More than inspect_body_max of a form: decided unread, so the step-up is asked. */
const PREFIX = `route=%2Fsql&pad=${'p'.repeat(2048)}`;

function head(g: Gateway, path: string, body: { length?: number; chunked?: boolean }): string {
  return [
    `POST ${path} HTTP/1.1`, `Host: localhost:${g.f.port}`, `Cookie: ${g.cookie}`, 'Accept: application/json',
    'Content-Type: application/x-www-form-urlencoded',
    body.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
  ].join('\r\n') + '\r\n\r\n';
}

/** Resolves when `what` is seen on the connection, or with false once it closed without it. */
function seen(c: Conn, what: RegExp): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      if (!what.test(c.text())) return;
      c.socket.off('data', check);
      resolve(true);
    };
    c.socket.on('data', check);
    c.socket.once('close', () => resolve(what.test(c.text())));
    check();
  });
}

/** Races `p` against a give-up after `ms` (the gateway failed to close): rejects then. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms}ms`)), ms); }),
  ]);
}

const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`;

/** Sends chunks until the gateway closes the connection (the caller's give-up fails the test if it never does). */
function pumpUntilClosed(c: Conn): Promise<number> {
  const piece = chunk('y'.repeat(16 * 1024));
  const pump = () => {
    while (c.socket.writable) {
      if (!c.socket.write(piece)) return void c.socket.once('drain', pump);
    }
  };
  pump();
  return c.closed;
}

t.test('bodies left unread after an early answer', async (t) => {
  const g = await setup(t, `${BODY_TIMEOUT_MS}ms`);

  t.test('a client that trickles its body after a step-up is asked is cut off after body_timeout', async (t) => {
    const c = open(g);
    c.socket.write(head(g, PATH, { chunked: true }) + chunk(PREFIX));
    const trickle = setInterval(() => { if (c.socket.writable) c.socket.write(chunk('x')); }, 20);
    t.teardown(() => clearInterval(trickle));
    t.ok(await seen(c, /\r\n\r\n/), 'the early answer arrived');
    t.match(c.text(), /^HTTP\/1\.1 401 /, 'step-up asked');
    const ms = await within(c.closed, BODY_TIMEOUT_MS * 10, 'trickling client');
    clearInterval(trickle);
    t.ok(ms >= BODY_TIMEOUT_MS * 0.9, `cut off by server.body_timeout, after ${Math.round(ms)}ms`);
  });

  t.test('a body declared over max_body_bytes: the early answer says Connection: close, then the connection ends', async (t) => {
    const c = open(g);
    c.socket.write(head(g, PATH, { length: MAX_BODY * 16 }) + PREFIX);
    const trickle = setInterval(() => { if (c.socket.writable) c.socket.write('x'); }, 20);
    t.teardown(() => clearInterval(trickle));
    await within(c.closed, BODY_TIMEOUT_MS * 10, 'declared oversize');
    clearInterval(trickle);
    t.match(c.text(), /^HTTP\/1\.1 413 [^]*\r\nConnection: close\r\n/i, 'answered whole, Connection: close');
  });

  t.test('a client that sends more than max_body_bytes after an early answer is cut off', async (t) => {
    // A long body_timeout here: the cut can only come from the byte limit.
    const slow = await setup(t, '60s');
    const c = open(slow);
    c.socket.write(head(slow, PATH, { chunked: true }) + chunk(PREFIX));
    await within(pumpUntilClosed(c), 20_000, 'oversize client');
    t.match(c.text(), /^HTTP\/1\.1 401 /, 'the early answer arrived whole first');
  });

  t.test('a keep-alive client whose body was read to its end keeps its connection', async (t) => {
    const c = open(g);
    c.socket.write(head(g, PATH, { chunked: true }) + chunk(PREFIX) + chunk('x'.repeat(4000)) + chunk(''));
    t.ok(await seen(c, /^HTTP\/1\.1 401 [^]*?\r\n\r\n/), 'step-up asked');
    t.notMatch(c.text(), /\r\nConnection: close\r\n/i, 'kept alive');
    c.socket.write(`GET /.gatehouse/healthz HTTP/1.1\r\nHost: localhost:${g.f.port}\r\nConnection: close\r\n\r\n`);
    await within(c.closed, 5000, 'second request');
    t.equal(c.text().match(/HTTP\/1\.1 \d{3} /g)?.length, 2, 'a second answer on the same socket');
  });
});

t.test('the admin listener discards a body it never reads, within the same bounds', async (t) => {
  const start = async (bodyTimeout: string) => {
    const f = await startTestGateway({ upstream: false, config: { server: { admin_listen: '127.0.0.1:0', body_timeout: bodyTimeout, max_body_bytes: MAX_BODY } } });
    t.teardown(() => f.close());
    return f.gw.adminPort!;
  };
  const admin = await start(`${BODY_TIMEOUT_MS}ms`);
  const post = (path: string, body: { length?: number; chunked?: boolean }) => [
    `POST ${path} HTTP/1.1`, 'Host: admin', 'Content-Type: application/octet-stream',
    body.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
  ].join('\r\n') + '\r\n\r\n';

  t.test('a body declared over max_body_bytes: the answer says Connection: close, then the connection ends', async (t) => {
    for (const path of ['/metrics', '/not-here']) {
      const c = open(admin);
      c.socket.write(post(path, { length: MAX_BODY * 16 }) + 'x'.repeat(100));
      const trickle = setInterval(() => { if (c.socket.writable) c.socket.write('x'); }, 20);
      t.teardown(() => clearInterval(trickle));
      await within(c.closed, BODY_TIMEOUT_MS * 10, `admin ${path}, declared oversize`);
      clearInterval(trickle);
      t.match(c.text(), /^HTTP\/1\.1 (200|404) [^]*\r\nConnection: close\r\n/i, `${path}: answered whole, Connection: close`);
    }
  });

  t.test('a client that trickles its body is cut off after body_timeout', async (t) => {
    const c = open(admin);
    c.socket.write(post('/healthz', { chunked: true }) + chunk('x'));
    const trickle = setInterval(() => { if (c.socket.writable) c.socket.write(chunk('x')); }, 20);
    t.teardown(() => clearInterval(trickle));
    t.ok(await seen(c, /\r\n\r\n/), 'the answer arrived');
    const ms = await within(c.closed, BODY_TIMEOUT_MS * 10, 'trickling client');
    clearInterval(trickle);
    t.match(c.text(), /^HTTP\/1\.1 200 /);
    t.ok(ms >= BODY_TIMEOUT_MS * 0.9, `cut off by server.body_timeout, after ${Math.round(ms)}ms`);
  });

  t.test('a client that sends more than max_body_bytes is cut off', async (t) => {
    const slow = await start('60s');
    const c = open(slow);
    c.socket.write(post('/metrics', { chunked: true }));
    await within(pumpUntilClosed(c), 20_000, 'oversize client');
    t.match(c.text(), /^HTTP\/1\.1 200 [^]*gatehouse_requests_total/, 'the answer arrived whole first');
  });

  t.test('a keep-alive client whose body ended keeps its connection', async (t) => {
    const c = open(admin);
    c.socket.write(post('/readyz', { chunked: true }) + chunk('x'.repeat(4000)) + chunk(''));
    t.ok(await seen(c, /^HTTP\/1\.1 200 [^]*?\r\n\r\n/), 'answered');
    t.notMatch(c.text(), /\r\nConnection: close\r\n/i, 'kept alive');
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n');
    await within(c.closed, 5000, 'second request');
    t.equal(c.text().match(/HTTP\/1\.1 \d{3} /g)?.length, 2, 'a second answer on the same socket');
  });
});
