// The "Acme Legacy Portal": the upstream app gatehouse fronts in the demo and in
// tests. Plain node:http plus `ws`. Besides its pages it has endpoints that let
// tests see exactly what reached the upstream (/echo, `received`) and exercise
// streaming (SSE, WebSocket, big uploads and downloads, slow answers).
//
// Run directly: node examples/demo-portal/server.ts --port 8081 [--host 127.0.0.1]
//   [--header-prefix X-Gatehouse-] [--require-app-login]

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { DEFAULT_HEADER_PREFIX, readGatewayIdentity } from './identity.ts';
import * as pages from './pages.ts';
import type { PageContext } from './pages.ts';
import { APP_CSS, SSE_JS } from './static.ts';
import { dataBlocks } from './deterministic-data.ts';
import {
  checkAppCredentials, newApiKeySecret, newPortalState, newSessionId, parseApiKeyForm, parsePaymentForm,
} from './state.ts';
import type { PortalState } from './state.ts';

export interface RecordedRequest {
  method: string;
  url: string;                    // req.url exactly as received
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];           // names as sent, in order, duplicates kept
  bodyLength: number;
  bodySha256: string;
}

export interface DemoPortalOptions {
  port: number;
  host?: string;                  // default 127.0.0.1
  headerPrefix?: string;          // default X-Gatehouse-
  /** Redirect every page to the app's own /login without a JSESSIONID (a legacy app with its own sign-in). */
  requireAppLogin?: boolean;
}

export interface DemoPortal {
  server: http.Server;
  port: number;
  close(): Promise<void>;
  /** The last RECEIVED_LIMIT requests (including WebSocket upgrades), oldest first. */
  received: RecordedRequest[];
  /** Payments, API keys and app sessions, for tests that check an action happened exactly once. */
  state: PortalState;
}

export const RECEIVED_LIMIT = 1000;
const FORM_LIMIT = 64 * 1024;
const MAX_SLOW_MS = 120_000;
const SSE_INTERVAL_MS = 500;

interface Body { length: number; sha256: string; data?: Buffer }

/** Reads the whole body once, hashing as it goes; keeps the bytes only up to `keepLimit` so big uploads stream. */
async function readBody(req: IncomingMessage, keepLimit: number): Promise<Body> {
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    hash.update(chunk);
    length += chunk.length;
    if (length <= keepLimit) kept.push(chunk);
  }
  return { length, sha256: hash.digest('hex'), data: length <= keepLimit ? Buffer.concat(kept) : undefined };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
const HTML = 'text/html; charset=utf-8';
const sendHtml = (res: ServerResponse, status: number, html: string, headers?: http.OutgoingHttpHeaders) => send(res, status, HTML, html, headers);
const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json', JSON.stringify(value));

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  body: Body;
  page: PageContext;
  state: PortalState;
}

type Handler = (c: Ctx) => void | Promise<void>;
interface Route { methods: string[] | 'any'; form?: boolean; handler: Handler }

function form(c: Ctx): URLSearchParams {
  return new URLSearchParams(c.body.data?.toString('utf8') ?? '');
}

function serveEvents(c: Ctx): void {
  const limit = Number(c.query.get('count') ?? 0); // 0: until the client goes away
  c.res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  c.res.flushHeaders();
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    c.res.write(`id: ${n}\nevent: tick\ndata: ${JSON.stringify({ n, time: new Date().toISOString() })}\n\n`);
    if (limit > 0 && n >= limit) { clearInterval(timer); c.res.end(); }
  }, SSE_INTERVAL_MS);
  c.res.on('close', () => clearInterval(timer));
}

async function serveDownload(c: Ctx): Promise<void> {
  const raw = c.query.get('size') ?? '';
  if (!/^\d{1,15}$/.test(raw)) return sendJson(c.res, 400, { error: 'size must be a whole number of bytes' });
  const size = Number(raw);
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream' };
  if (c.query.get('chunked') !== '1') headers['Content-Length'] = size;
  c.res.writeHead(200, headers);
  // pipeline honours backpressure and stops when the client goes away.
  await pipeline(Readable.from(dataBlocks(size), { objectMode: false }), c.res).catch(() => c.res.destroy());
}

function serveSlow(c: Ctx): void {
  const ms = Math.min(Math.max(Number(c.query.get('ms') ?? 1000) || 0, 0), MAX_SLOW_MS);
  const timer = setTimeout(() => sendJson(c.res, 200, { slept_ms: ms }), ms);
  c.res.on('close', () => clearTimeout(timer));
}

function appSessionId(c: Ctx): string | undefined {
  const id = cookieValue(c.req.headers.cookie, 'JSESSIONID');
  return id !== undefined && c.state.sessions.has(id) ? id : undefined;
}

const ROUTES: Record<string, Route> = {
  '/': { methods: ['GET'], handler: (c) => sendHtml(c.res, 200, pages.homePage(c.page)) },
  '/billing': { methods: ['GET'], handler: (c) => sendHtml(c.res, 200, pages.billingPage(c.page, c.state.payments.length)) },
  '/billing/pay': {
    methods: ['POST'], form: true, handler: (c) => {
      const parsed = parsePaymentForm(form(c));
      if (!parsed.ok) return sendHtml(c.res, 400, pages.billingPage(c.page, c.state.payments.length, parsed.error));
      const payment = { id: c.state.payments.length + 1, ...parsed.value, by: c.page.identity.user ?? c.page.appUser, at: new Date().toISOString() };
      c.state.payments.push(payment);
      sendHtml(c.res, 200, pages.paymentDonePage(c.page, payment));
    },
  },
  '/export': { methods: ['GET'], handler: (c) => sendHtml(c.res, 200, pages.exportPage(c.page)) },
  '/export/download': {
    methods: ['GET'],
    handler: (c) => send(c.res, 200, 'text/csv; charset=utf-8', pages.customersCsv(), { 'Content-Disposition': 'attachment; filename="customers.csv"' }),
  },
  '/settings/api-keys': {
    methods: ['GET', 'POST'], form: true, handler: (c) => {
      if (c.req.method !== 'POST') return sendHtml(c.res, 200, pages.apiKeysPage(c.page, c.state.apiKeys));
      const parsed = parseApiKeyForm(form(c));
      if (!parsed.ok) return sendHtml(c.res, 400, pages.apiKeysPage(c.page, c.state.apiKeys, undefined, parsed.error));
      const secret = newApiKeySecret();
      c.state.apiKeys.push({
        id: c.state.apiKeys.length + 1, name: parsed.value.name, prefix: secret.slice(0, 9),
        createdBy: c.page.identity.user ?? c.page.appUser, createdAt: new Date().toISOString(),
      });
      sendHtml(c.res, 200, pages.apiKeysPage(c.page, c.state.apiKeys, { name: parsed.value.name, secret }));
    },
  },
  '/reports': { methods: ['GET'], handler: (c) => sendHtml(c.res, 200, pages.reportsPage(c.page)) },
  '/static/app.css': { methods: ['GET'], handler: (c) => send(c.res, 200, 'text/css; charset=utf-8', APP_CSS, { 'Cache-Control': 'max-age=300' }) },
  '/static/sse.js': { methods: ['GET'], handler: (c) => send(c.res, 200, 'text/javascript; charset=utf-8', SSE_JS, { 'Cache-Control': 'max-age=300' }) },
  '/sse': { methods: ['GET'], handler: (c) => sendHtml(c.res, 200, pages.ssePage(c.page)) },
  '/events': { methods: ['GET'], handler: serveEvents },
  '/upload': { methods: ['POST', 'PUT'], handler: (c) => sendJson(c.res, 200, { bytes: c.body.length, sha256: c.body.sha256 }) },
  '/download': { methods: ['GET'], handler: serveDownload },
  '/slow': { methods: ['GET', 'POST'], handler: serveSlow },
  '/echo': { // and anything under it, see routeFor
    methods: 'any', handler: (c) => sendJson(c.res, 200, {
      method: c.req.method, url: c.req.url, httpVersion: c.req.httpVersion, headers: c.req.headers,
      rawHeaders: c.req.rawHeaders, bodyLength: c.body.length, bodySha256: c.body.sha256,
    }),
  },
  '/set-cookie': {
    methods: ['GET'], handler: (c) => {
      // ?absolute=1 answers the absolute upstream URL, as many legacy apps do, for Location-rewrite tests.
      const location = c.query.get('absolute') === '1' ? `http://${c.req.headers.host ?? 'localhost'}/` : '/';
      c.res.writeHead(302, { Location: location, 'Set-Cookie': 'demo_cookie=from-portal; Path=/', 'Content-Length': 0 });
      c.res.end();
    },
  },
  '/login': {
    methods: ['GET', 'POST'], form: true, handler: (c) => {
      if (c.req.method !== 'POST') return sendHtml(c.res, 200, pages.loginPage(c.page));
      const f = form(c);
      const username = f.get('username') ?? '';
      if (!checkAppCredentials(username, f.get('password') ?? '')) {
        return sendHtml(c.res, 200, pages.loginPage(c.page, 'Invalid credentials (app)', username));
      }
      const id = newSessionId();
      c.state.sessions.set(id, { user: username, createdAt: new Date().toISOString() });
      c.res.writeHead(302, { Location: '/', 'Set-Cookie': `JSESSIONID=${id}; Path=/; HttpOnly`, 'Content-Length': 0 });
      c.res.end();
    },
  },
  '/logout': {
    methods: ['GET', 'POST'], handler: (c) => {
      const id = appSessionId(c);
      if (id !== undefined) c.state.sessions.delete(id);
      c.res.writeHead(302, { Location: '/', 'Set-Cookie': 'JSESSIONID=; Path=/; Max-Age=0; HttpOnly', 'Content-Length': 0 });
      c.res.end();
    },
  },
};

/** Paths reachable without the app's own session when requireAppLogin is set. */
const PUBLIC_PATHS = new Set(['/login', '/logout', '/static/app.css', '/static/sse.js']);

/** /echo also answers for anything under it (/echo/a%20b, /echo;jsessionid=x) so tests can check any path the upstream saw. */
function routeFor(path: string): Route | undefined {
  if (Object.hasOwn(ROUTES, path)) return ROUTES[path];
  return path.startsWith('/echo/') || path.startsWith('/echo;') ? ROUTES['/echo'] : undefined;
}

function splitTarget(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: new URLSearchParams() } : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

export function startDemoPortal(opts: DemoPortalOptions): Promise<DemoPortal> {
  const headerPrefix = opts.headerPrefix ?? DEFAULT_HEADER_PREFIX;
  const state = newPortalState();
  const received: RecordedRequest[] = [];
  const record = (req: IncomingMessage, body: Body) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyLength: body.length, bodySha256: body.sha256 });
    if (received.length > RECEIVED_LIMIT) received.splice(0, received.length - RECEIVED_LIMIT);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { path, query } = splitTarget(req.url ?? '/');
    const route = routeFor(path);
    const body = await readBody(req, route?.form === true ? FORM_LIMIT : 0);
    record(req, body);
    const sessionId = cookieValue(req.headers.cookie, 'JSESSIONID');
    const appUser = sessionId === undefined ? undefined : state.sessions.get(sessionId)?.user;
    const page: PageContext = { identity: readGatewayIdentity(req.headers, headerPrefix), headerPrefix, appUser, nowSec: Date.now() / 1000 };
    if (route === undefined) return sendHtml(res, 404, pages.messagePage(page, 'Not found', `There is no page at ${path}.`));
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? '';
    if (route.methods !== 'any' && !route.methods.includes(method)) {
      return sendHtml(res, 405, pages.messagePage(page, 'Method not allowed', `${method} is not allowed here.`), { Allow: route.methods.join(', ') });
    }
    if (route.form === true && req.method === 'POST' && body.data === undefined) {
      return sendHtml(res, 413, pages.messagePage(page, 'Form too large', 'The form was larger than this app accepts.'));
    }
    if (opts.requireAppLogin === true && appUser === undefined && !PUBLIC_PATHS.has(path)) {
      res.writeHead(302, { Location: '/login', 'Content-Length': 0 });
      return void res.end();
    }
    await route.handler({ req, res, path, query, body, page, state });
  }

  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    handle(req, res).catch(() => res.destroy()); // a client that went away mid-body
  });

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    record(req, { length: 0, sha256: createHash('sha256').digest('hex') });
    socket.on('error', () => socket.destroy());
    if (splitTarget(req.url ?? '/').path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : opts.port;
      const close = async () => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
      };
      resolve({ server, port, close, received, state });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8081' },
      host: { type: 'string', default: '127.0.0.1' },
      'header-prefix': { type: 'string', default: DEFAULT_HEADER_PREFIX },
      'require-app-login': { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${values.port}`);
    process.exit(2);
  }
  const portal = await startDemoPortal({ port, host: values.host, headerPrefix: values['header-prefix'], requireAppLogin: values['require-app-login'] });
  console.log(`Acme Legacy Portal listening on http://${values.host}:${portal.port}`);
  const stop = () => { portal.close().then(() => process.exit(0)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
