// A body the gateway answers without reading to its end (a challenge, a deny,
// a 4xx) is discarded within bounds (web/discard-body.ts): the answer says
// Connection: close and arrives whole, a client that trickles the rest or
// sends more than server.max_body_bytes is cut off, and a keep-alive client
// whose small body was read keeps its connection.

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';

const MAX_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 300;

interface Conn { socket: Socket; text(): string; closed: Promise<number> }

/** A raw connection; `closed` resolves with the ms from opening to the gateway closing it. */
function open(f: GatewayFixture): Conn {
  const socket = connect({ host: '127.0.0.1', port: f.port });
  const started = performance.now();
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed };
}

function head(f: GatewayFixture, path: string, body: { length?: number; chunked?: boolean }): string {
  return [
    `POST ${path} HTTP/1.1`, `Host: localhost:${f.port}`, 'Accept: application/json', 'Content-Type: application/octet-stream',
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

t.test('bodies left unread after an early answer', async (t) => {
  const f = await startTestGateway({
    config: { server: { body_timeout: `${BODY_TIMEOUT_MS}ms`, max_body_bytes: MAX_BODY } },
  });
  t.teardown(() => f.close());

  t.test('a client that trickles its body after a deny is cut off', async (t) => {
    const c = open(f);
    c.socket.write(head(f, '/anything', { length: 1_000_000 }));
    const trickle = setInterval(() => { if (c.socket.writable) c.socket.write('x'); }, 20);
    t.teardown(() => clearInterval(trickle));
    const answered = await seen(c, /\r\n\r\n/);
    t.ok(answered, 'the early answer arrived');
    t.match(c.text(), /^HTTP\/1\.1 4\d\d /, 'a 4xx');
    t.match(c.text(), /\r\nConnection: close\r\n/i, 'Connection: close: the body will not be read to its end');
    const ms = await within(c.closed, BODY_TIMEOUT_MS * 10, 'trickling client');
    clearInterval(trickle);
    t.ok(ms < BODY_TIMEOUT_MS * 10, `closed after ${Math.round(ms)}ms`);
  });

  t.test('a client that sends more than max_body_bytes after an early answer is cut off', async (t) => {
    const c = open(f);
    c.socket.write(head(f, '/anything', { chunked: true }));
    const chunk = Buffer.alloc(16 * 1024, 'y');
    // Sends until the gateway closes; the give-up below fails the test if it never does.
    const pump = () => {
      while (c.socket.writable) {
        if (!c.socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`)) return void c.socket.once('drain', pump);
      }
    };
    pump();
    const ms = await within(c.closed, BODY_TIMEOUT_MS * 10, 'oversize client');
    t.match(c.text(), /^HTTP\/1\.1 4\d\d /, 'the early answer arrived whole first');
    t.match(c.text(), /\r\nConnection: close\r\n/i, 'Connection: close');
    t.ok(ms < BODY_TIMEOUT_MS * 10, `closed after ${Math.round(ms)}ms`);
  });

  t.test('a keep-alive client whose small body was read keeps its connection', async (t) => {
    const c = open(f);
    const body = 'a=1&b=2';
    c.socket.write(head(f, '/anything', { length: body.length }) + body);
    t.ok(await seen(c, /^HTTP\/1\.1 \d{3} [^]*?\r\n\r\n/), 'first answer');
    t.notMatch(c.text(), /\r\nConnection: close\r\n/i, 'kept alive');
    c.socket.write(`GET /.gatehouse/healthz HTTP/1.1\r\nHost: localhost:${f.port}\r\nConnection: close\r\n\r\n`);
    await within(c.closed, 5000, 'second request');
    t.equal(c.text().match(/HTTP\/1\.1 \d{3} /g)?.length, 2, 'a second answer on the same socket');
  });
});
