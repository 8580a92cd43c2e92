// Differential test of the one decision point (policy/decide.ts): a generated
// corpus of requests (tricky targets, methods, hosts, method overrides, users;
// routes with case_insensitive, path_params and method_override) must get the
// same outcome from `gatehouse explain` (explainRequest), from the running
// gateway and from forward-auth (/.gatehouse/authz), both over real sockets.
//
// Expected forward-auth answers differ from the gateway's only where forward-auth
// says so: every refusal is a 403 (nginx turns other codes into a 500), it
// refuses dot segments (the app behind the proxy gets the raw target) and
// absolute-form URIs (a proxy forwards origin-form).
//
// CPU: every request is explained and decided the forward-auth way in process;
// one in SOCKET_EVERY also goes to the running gateway and to forward-auth over
// real sockets (a full pass of both over sockets costs about twice the time).

import t from 'tap';
import fc from 'fast-check';
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import { explainRequest, hypotheticalSubject, type Explanation } from '../../src/cli/explain.ts';
import { decide } from '../../src/policy/decide.ts';
import { headerOverrides } from '../../src/policy/method-override.ts';
import { hasDotSegment } from '../../src/policy/normalize.ts';
import type { SubjectFacts } from '../../src/policy/types.ts';
import { Client, startTestGateway } from '../helpers/gateway.ts';

const RUNS = Number(process.env.DIFF_RUNS ?? 10_000);
const SOCKET_EVERY = Number(process.env.DIFF_SOCKET_EVERY ?? 3);

/** A minimal keep-alive HTTP/1.1 client: requests go out verbatim, one at a time. */
class RawConnection {
  private socket: Socket | null = null;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private closed = true;
  private readonly port: number;
  constructor(port: number) { this.port = port; }

  private async open(): Promise<Socket> {
    if (this.socket && !this.closed) return this.socket;
    const s = connect({ host: '127.0.0.1', port: this.port });
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    this.closed = false;
    this.buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => { this.buf = Buffer.concat([this.buf, c]); this.waiter?.(); });
    s.on('close', () => { this.closed = true; this.waiter?.(); });
    s.on('error', () => { this.closed = true; });
    this.socket = s;
    return s;
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed before a full answer');
    await new Promise<void>((resolve) => { this.waiter = resolve; });
    this.waiter = null;
  }

  /** Sends one request head (no body) and returns the status and lower-cased head. */
  async request(method: string, target: string, lines: string[]): Promise<{ status: number; head: string }> {
    const s = await this.open();
    s.write(`${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
    let end: number;
    while ((end = this.buf.indexOf('\r\n\r\n')) === -1) await this.more();
    const head = this.buf.subarray(0, end).toString('latin1').toLowerCase();
    const length = method === 'HEAD' ? 0 : Number(/\r\ncontent-length: *(\d+)/.exec(head)?.[1] ?? 0);
    while (this.buf.length < end + 4 + length) await this.more();
    this.buf = this.buf.subarray(end + 4 + length);
    if (/\r\nconnection: *close/.test(head)) {
      this.socket?.destroy();
      this.closed = true;
    }
    return { status: Number(head.slice(9, 12)), head };
  }

  close(): void { this.socket?.destroy(); }
}

t.test(`explain, the gateway and forward-auth agree on ${RUNS} generated requests`, async (t) => {
  const upstream = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('up');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const up = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

  const f = await startTestGateway({
    upstream: false,
    config: {
      server: { trusted_proxies: ['127.0.0.1'], log_level: 'error' },
      routes: [
        { host: 'iis.test', path: '/', upstream: up, case_insensitive: true },
        { host: 'java.test', path: '/', upstream: up, path_params: 'allow' },
        { path: '/api', upstream: up, method_override: 'reject' },
        { path: '/legacy', upstream: up, method_override: 'pass' },
        { path: '/', upstream: up },
      ],
      policy: {
        default: 'login',
        rules: [
          { id: 'static', match: { path: '/static/**' }, require: 'none' },
          { id: 'admin-others', match: { path: '/admin/**', not_groups: ['admins'] }, require: 'deny' },
          { id: 'admin', match: { path: '/admin/**' }, require: 'mfa' },
          { id: 'billing-write', match: { path: ['/billing/**', '/legacy/billing/**'], methods: ['POST', 'PUT', 'PATCH', 'DELETE'] }, require: 'mfa', max_age: '5m' },
          { id: 'billing', match: { path: '/billing/**' }, require: 'login' },
          { id: 'no-delete', match: { path: ['/items/*', '/api/items/*'], methods: ['DELETE'] }, require: 'deny' },
          { id: 'items', match: { path: ['/items/**', '/api/**'] }, require: 'none' },
          { id: 'closed', match: { path: '/closed/**' }, require: 'deny' },
          { id: 'partner', match: { host: 'partner.test' }, require: 'deny' },
          { id: 'follow', match: { path: '/beta/**' }, require: 'mfa', rollout: 'follow' },
        ],
      },
      rollout: { enforce_for: ['admins'] },
    },
  });
  t.teardown(() => f.close());
  const snap = f.gw.current();

  // Sessions: anonymous, and two signed-in users (password only, nothing enrolled).
  const users: Array<{ name: string; cookie: string; subject: SubjectFacts | null }> = [{ name: '-', cookie: '', subject: null }];
  for (const [name, groups] of [['alice', ['admins', 'finance']], ['bob', ['staff']]] as const) {
    const c = new Client(f.url);
    t.equal((await c.signIn(name, `${name}-test-pass`)).status, 303, `${name} signed in`);
    users.push({ name, cookie: c.cookieHeader(), subject: hypotheticalSubject({ id: name, groups: [...groups] }, { factors: [], freshMs: 0, remembered: false, deferred: false }, [], snap.config, 0) });
  }

  const name = fc.constantFrom(
    'admin', 'ADMIN', 'Admin', '%61dmin', 'b%C4%B1lling', 'billing', 'BILLING', 'Billing', 'items', '1', 'closed', 'static',
    'api', 'legacy', 'beta', 'x', 'pay', 'caf%C3%A9', 'a.b', '~u',
  );
  const tricky = fc.constantFrom(
    'admin.', 'admin%2e', 'admin%20', 'admin;x=1', '%EF%BD%81dmin', 'café', '.', '..', '%2e%2e', '%2E', '',
    'a%2fb', 'a%3fb', 'a%23b', 'a%5cb', '%00', '%zz', 'a%252fb', ';jsessionid=1', 'K%E2%84%AA',
  );
  const segment = fc.oneof({ weight: 6, arbitrary: name }, { weight: 1, arbitrary: tricky });
  const query = fc.constantFrom('', '', '?x=1', '?_method=DELETE', '?_method=put&y=2', '?a=%2F', '?');
  const host = fc.constantFrom('gw.test', 'iis.test', 'IIS.test:8080', 'java.test', 'partner.test', 'localhost');
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
  const override = fc.constantFrom(undefined, undefined, undefined, 'DELETE', 'GET', 'put', 'DELETE, PATCH', 'bad method');
  const request = fc.record({
    segments: fc.array(segment, { minLength: 0, maxLength: 4 }),
    slash: fc.boolean(),
    query,
    host,
    absolute: fc.constantFrom(0, 0, 0, 0, 1, 2), // 1: absolute-form on the same host, 2: on another host
    method,
    override,
    user: fc.nat(users.length - 1),
  });

  const gateway = new RawConnection(f.port);
  const proxy = new RawConnection(f.port);
  t.teardown(() => { gateway.close(); proxy.close(); });
  const tally: Record<string, number> = {};
  let checked = 0;
  let overSockets = 0;

  await fc.assert(fc.asyncProperty(request, async (r) => {
    const path = `/${r.segments.join('/')}${r.slash && r.segments.length > 0 ? '/' : ''}`;
    if (path.includes('__gatehouse')) return;
    const origin = path + r.query;
    const target = r.absolute === 0 ? origin : `http://${r.absolute === 1 ? r.host.toLowerCase() : 'elsewhere.test'}${origin}`;
    const user = users[r.user];
    const hostOnly = r.host.toLowerCase().replace(/:\d+$/, '');
    const overrideLines = r.override === undefined ? [] : [`X-HTTP-Method-Override: ${r.override}`];
    const overrides = r.override === undefined ? [] : [...headerOverrides({ 'x-http-method-override': r.override })];

    const e: Explanation = explainRequest(snap, { method: r.method, target, host: hostOnly, ip: '127.0.0.1', overrides }, user.subject, Date.now());
    if (e.outcome === 'reserved') return;
    const outcome = e.outcome === 'report' ? 'allow' : e.outcome;
    const want: Record<string, number> = { allow: 200, deny: 403, challenge: 401, bad_target: 400, no_route: 404 };
    const cookie = user.cookie ? [`Cookie: ${user.cookie}`] : [];

    const what = `${user.name} ${r.method} ${target} (host ${r.host}${r.override ? `, override ${r.override}` : ''}): explain ${e.summary} (${e.reason})`;
    const faRefuses = r.absolute !== 0 || hasDotSegment(origin);
    const faWant = faRefuses || outcome === 'bad_target' ? 403 : want[outcome];
    // Forward-auth's own view, in process: the same decide, via forward-auth.
    const v = decide(snap, { target, host: hostOnly, via: 'forward-auth', method: r.method, overrides, ip: '127.0.0.1' }, user.subject, Date.now());
    const faPure = r.absolute !== 0 || v.kind === 'refused' ? 403 : v.kind === 'reserved' ? 200 : want[v.decision.action === 'report' ? 'allow' : v.decision.action];
    if (faPure !== faWant) throw new Error(`decide via forward-auth gives ${faPure}, expected ${faWant}; ${what}`);

    if (checked % SOCKET_EVERY === 0) {
      const g = await gateway.request(r.method, target, [`Host: ${r.host}`, 'Accept: application/json', ...cookie, ...overrideLines]);
      if (g.status !== want[outcome]) throw new Error(`gateway answered ${g.status}; ${what}`);
      const fa = await proxy.request('GET', '/.gatehouse/authz', [
        `Host: localhost:${f.port}`, 'Accept: application/json', ...cookie, ...overrideLines,
        `X-Forwarded-Uri: ${target}`, `X-Forwarded-Method: ${r.method}`, `X-Forwarded-Host: ${r.host}`, 'X-Forwarded-Proto: http',
      ]);
      if (fa.status !== faWant) throw new Error(`forward-auth answered ${fa.status}, expected ${faWant}; ${what}`);
      overSockets++;
    }
    tally[outcome] = (tally[outcome] ?? 0) + 1;
    checked++;
  }), { numRuns: RUNS });

  t.ok(checked >= RUNS * 0.95, `${checked} requests compared (reserved targets skipped)`);
  t.ok(overSockets >= checked / SOCKET_EVERY - 1, `${overSockets} of them also over real sockets to the gateway and forward-auth`);
  for (const o of ['allow', 'deny', 'challenge', 'bad_target']) t.ok((tally[o] ?? 0) > RUNS / 50, `the corpus covers ${o}: ${tally[o] ?? 0}`);
  t.comment(JSON.stringify(tally));
});
