// The audit trail of a running gateway: signed checkpoints served to operators
// only (like metrics), sent to a webhook, usable by `gatehouse audit verify
// --checkpoint URL`; records forwarded to an HTTP sink as they reach the disk.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { CLOSED_PORT, Client, TEST_AUDIT_KEY, readAudit, startTestGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';

const NODE = resolve('node_modules/.bin/node');
const CLI = resolve('test/fixtures/audit/run-audit.ts');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Asynchronous: the gateway in this process must keep answering the CLI's fetches.
  const child = spawn(NODE, [CLI, ...args], { env: { ...process.env, GATEHOUSE_AUDIT_KEY: TEST_AUDIT_KEY } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

t.test('checkpoints for operators, a webhook and verify --checkpoint; records forwarded to an HTTP sink', async (t) => {
  const sink: Record<string, unknown>[] = [];
  const hooks: Record<string, unknown>[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/hook') hooks.push(JSON.parse(body));
      else for (const line of body.split('\n')) if (line) sink.push(JSON.parse(line));
      res.writeHead(200).end();
    });
  }).listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  t.teardown(() => receiver.close());
  const rx = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

  const f = await startTestGateway({
    upstream: false,
    config: {
      // Operator endpoints: only on the admin listener (nobody's resolved address is in 10.9.0.0/16 here).
      server: { admin_listen: '127.0.0.1:0', metrics_allow: ['10.9.0.0/16'], instance_id: 'gw-test' },
      audit: {
        alert_email: 'security@example.com',
        checkpoint: { lines: 3, webhook: `${rx}/hook`, email: true },
        forward: { http: { url: `${rx}/ingest`, format: 'ndjson' } },
      },
    },
  });
  t.teardown(() => f.close());
  const until = async (what: string, check: () => boolean) => {
    for (const end = Date.now() + 10_000; !check(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) throw new Error(`timed out: ${what}`);
  };

  const c = new Client(f.url);
  t.equal((await c.signIn('alice', 'alice-test-pass')).status, 303);
  for (let i = 0; i < 3; i++) t.equal((await new Client(f.url).signIn('bob', 'wrong')).status, 401);
  await until('the sign-ins at the sink', () => sink.some((r) => r.event === 'signin.failure' && r.user === 'bob'));
  t.match(sink.find((r) => r.event === 'signin.success'), { user: 'alice', instance: 'gw-test', mac: /^[0-9a-f]{64}$/ }, 'forwarded as written');
  t.same(sink.map((r) => r.seq), sink.map((_, i) => i + 1), 'in order from the first record');

  const path = '/.gatehouse/audit/checkpoint';
  const pub = await request(`${f.url}${path}`);
  t.equal(pub.statusCode, 404, 'not on the public listener for a client outside metrics_allow');
  await pub.body.dump();
  const adminUrl = `http://127.0.0.1:${f.gw.adminPort}${path}`;
  // One at start-up, one once 3 records followed it.
  await until('a second checkpoint at the webhook', () => hooks.length === 2);
  t.ok((hooks[0].seq as number) < (hooks[1].seq as number), 'later checkpoints name later records');
  const got = await request(adminUrl);
  t.equal(got.statusCode, 200, 'served on the admin listener');
  t.match(got.headers['cache-control'], /no-store/);
  const cp = await got.body.json() as Record<string, unknown>;
  t.match(cp, { instance: 'gw-test', seq: Number, hash: /^[0-9a-f]{64}$/, kid: String, jws: /^[\w-]+\.[\w-]+\.[\w-]+$/ });
  t.same(hooks.at(-1), cp, 'the same checkpoint went to the webhook');
  t.ok(readAudit(f).some((r) => r.event === 'audit.checkpoint' && r.at_seq === cp.seq), 'and into the chain');
  const outbox = join(f.dir, 'outbox.log');
  const mailed = () => (existsSync(outbox) ? readFileSync(outbox, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string; kind: string; text: string })
    .some((m) => m.to === 'security@example.com' && m.kind === 'audit_checkpoint' && m.text.includes(cp.jws as string));
  await until('the checkpoint mail', mailed);
  t.ok(mailed(), 'and to alert_email');

  const jwks = `${f.url}/.gatehouse/jwks.json`;
  const ok = await runCli(['verify', join(f.dir, 'audit.log'), '--checkpoint', adminUrl, '--jwks', jwks]);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /^ok: \d+ events in 1 file, last hash [0-9a-f]{64}\nintegrity: /);
});

t.test('a sink that stays down: the backlog is kept, and the alert goes to the log, the audit chain and alert_email', async (t) => {
  const url = `http://127.0.0.1:${CLOSED_PORT}/ingest`; // nothing listens there: every send is refused
  const f = await startTestGateway({
    upstream: false,
    config: { audit: { alert_email: 'security@example.com', forward: { queue_max: 100, http: { url, format: 'ndjson' } } } },
  });
  t.teardown(() => f.close());
  const outbox = join(f.dir, 'outbox.log');
  const alerted = () => readAudit(f).some((r) => r.event === 'audit.forward_queue_full' && r.sink === 'http');
  for (const end = Date.now() + 10_000; !alerted(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) throw new Error('no alert');
  const mails = () => (existsSync(outbox) ? readFileSync(outbox, 'utf8') : '');
  await eventually(() => mails().includes('audit_forward_queue_full'), 10_000);
  t.match(mails(), /"to":"security@example.com".*"kind":"audit_forward_queue_full"/, 'mailed');
  t.ok(f.logs.some((l) => l.msg === 'audit forwarding: the sink is down and its backlog passed audit.forward.queue_max'), 'logged as an error');
  t.equal(readAudit(f).filter((r) => r.event === 'audit.forward_queue_full').length, 1, 'once per outage');
});

t.test('a sign-in whose audit line cannot reach the disk fails closed: 503, no session', async (t) => {
  const f = await startTestGateway({ upstream: false });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  const csrf = await c.csrf('/.gatehouse/login?rd=%2F');
  const before = new Map(c.cookies);
  // The disk refuses from now on (as /dev/full does in test/audit/audit-log.test.ts).
  f.gw.services.audit.write = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  const r = await c.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/' });
  t.equal(r.status, 503, 'the user is not told the sign-in worked');
  t.same(r.headers.getSetCookie(), [], 'no session cookie');
  t.same(c.cookies, before);
});
