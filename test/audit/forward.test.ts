// Forwarding to SIEM sinks over real sockets: an HTTP JSON-lines receiver and
// Debian's rsyslog (imtcp on a test port, started from a temp dir). Each sink
// is stopped while records keep coming, then started again: every record
// arrives, in order, none lost. The outage is made deterministic: records are
// written only once the forwarder has seen the sink fail, and retried at once
// when the sink is back (retryNow) instead of sleeping out a backoff.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { openAuditLog, type AuditLog } from '../../src/audit/audit-log.ts';
import { deriveAuditMacKey } from '../../src/audit/chain.ts';
import { createForwarder, type AuditSink, type Forwarder } from '../../src/audit/forward.ts';
import { createHttpSink, httpSinkBody } from '../../src/audit/sink-http.ts';
import { createSyslogSink, syslogMessage } from '../../src/audit/sink-syslog.ts';

const KEY = deriveAuditMacKey('forward-test-audit-key-0123456789-abcdefgh');

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function writeEvents(log: AuditLog, from: number, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => log.write({ event: 'signin.success', user: `user${from + i}`, method: 'pwd' })));
}

function setup(t: Test, sink: AuditSink, extra: { queueMax?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'audit.log');
  const alerts: { sink: string; bytes: number }[] = [];
  const errors: string[] = [];
  let log!: AuditLog;
  let fwd!: Forwarder;
  return {
    dir, path, alerts, errors,
    async open(maxBytes = 1 << 20) {
      log = await openAuditLog({ path, maxBytes, writer: { instance: 'gw1', macKey: KEY }, onFlushed: () => fwd?.notify() });
      fwd = createForwarder({
        path, sinks: [sink], durableSeq: () => log.durableHead.seq, queueMax: extra.queueMax ?? 1 << 30, retryMaxMs: 60_000, retryMinMs: 60_000,
        onQueueFull: (s, bytes) => alerts.push({ sink: s, bytes }), onError: (_s, err) => errors.push(err.message),
      });
      fwd.notify();
      return { log, fwd };
    },
  };
}

/** An HTTP JSON-lines receiver that can be stopped and started on the same port. */
class HttpReceiver {
  records: Record<string, unknown>[] = [];
  server: Server | undefined;
  port = 0;
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        for (const line of body.split('\n')) if (line) this.records.push(JSON.parse(line));
        res.writeHead(200).end('{}');
      });
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    this.server!.close();
    this.server!.closeAllConnections();
    await once(this.server!, 'close');
  }
  seqs(): number[] {
    return this.records.map((r) => r.seq as number);
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('HTTP sink: down for a while, back again: every record arrives once, in order; the position survives a restart', async (t) => {
  const rx = new HttpReceiver();
  await rx.start();
  t.teardown(() => rx.server?.listening && rx.stop());
  const s = setup(t, createHttpSink({ url: `http://127.0.0.1:${rx.port}/ingest`, format: 'ndjson', headers: { authorization: 'Bearer x' } }, 'gw1'), { queueMax: 2_000 });
  let { log, fwd } = await s.open();
  await writeEvents(log, 1, 30);
  await until('30 records forwarded', () => rx.records.length === 30);
  t.same(rx.seqs(), range(1, 30));

  await rx.stop();
  await writeEvents(log, 31, 1);
  await until('the forwarder to see the sink down', () => fwd.status().http.failures > 0);
  await writeEvents(log, 32, 40); // written during the outage
  fwd.retryNow();
  await until('a second failure and the queue-full alert', () => fwd.status().http.failures > 1 && s.alerts.length > 0);
  t.equal(rx.records.length, 30, 'nothing arrives while the sink is down');
  t.match(s.alerts, [{ sink: 'http', bytes: Number }], 'one alert when the backlog passed queue_max');
  t.equal(s.alerts.length, 1, 'raised once per outage');

  await rx.start(); // the same port
  fwd.retryNow();
  const head = log.durableHead.seq;
  await fwd.drained(head);
  t.same(rx.seqs(), range(1, head), 'every record, in order, no gaps, no repeats');
  t.ok(rx.records.every((r) => r.instance === 'gw1' && typeof r.mac === 'string'), 'the records as written (instance, mac)');

  // A restart resumes from the position on disk.
  await fwd.close();
  await log.close();
  ({ log, fwd } = await s.open());
  await writeEvents(log, 100, 5);
  await fwd.drained(log.durableHead.seq);
  t.same(rx.seqs(), range(1, log.durableHead.seq), 'nothing sent twice after a restart');
  t.ok(existsSync(join(s.dir, 'audit.log.forward-http.json')), 'position kept beside the log');
  await fwd.close();
  await log.close();
});

t.test('HTTP sink: a position left behind by rotation is found again by seq', async (t) => {
  const rx = new HttpReceiver();
  await rx.start();
  t.teardown(() => rx.stop());
  const s = setup(t, createHttpSink({ url: `http://127.0.0.1:${rx.port}/`, format: 'ndjson', headers: {} }, 'gw1'));
  const { log, fwd } = await s.open(3_000); // rotates every ~15 records
  for (let i = 0; i < 6; i++) await writeEvents(log, i * 20, 20);
  await fwd.drained(log.durableHead.seq);
  t.same(rx.seqs(), range(1, log.durableHead.seq), 'across rotated files, in order');
  t.ok(rx.records.some((r) => r.event === 'audit.rotated'), 'rotations happened');
  await fwd.close();
  await log.close();
});

t.test('HTTP sink bodies: Splunk HEC, Elasticsearch bulk, Loki push', async (t) => {
  const lines = ['{"seq":1,"ts":"2026-12-07T00:00:00.000Z","instance":"gw1","prev":"0","event":"signin.success","user":"a","hash":"h"}'];
  const splunk = httpSinkBody('splunk', lines, 'x');
  t.same(JSON.parse(splunk.body), { time: 1796601600, host: 'gw1', source: 'gatehouse', sourcetype: 'gatehouse:audit', event: JSON.parse(lines[0]) });
  const elastic = httpSinkBody('elastic', lines, 'x').body.split('\n');
  t.same(JSON.parse(elastic[0]), { create: {} });
  t.match(JSON.parse(elastic[1]), { '@timestamp': '2026-12-07T00:00:00.000Z', seq: 1 });
  const loki = JSON.parse(httpSinkBody('loki', lines, 'x').body);
  t.same(loki, { streams: [{ stream: { job: 'gatehouse-audit', instance: 'gw1' }, values: [['1796601600000000000', lines[0]]] }] });
  t.equal(syslogMessage(lines[0], 'gatehouse', 'host'), `<85>1 2026-12-07T00:00:00.000Z gw1 gatehouse - signin.success - ${lines[0]}`);
  t.match(syslogMessage(lines[0].replace('signin.success', 'signin.failure'), 'gatehouse', 'host'), /^<84>1 /, 'failures are warnings');
});

t.test('syslog over TLS: the collector certificate is checked against ca_file; frames are octet-counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  t.equal(made.status, 0, made.stderr);
  let received = '';
  const server = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (sock) => sock.on('data', (d) => (received += d)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const address = `localhost:${(server.address() as { port: number }).port}`;

  const untrusted = setup(t, createSyslogSink({ address, tls: true, app_name: 'gatehouse' }, 'gw1'));
  const u = await untrusted.open();
  await writeEvents(u.log, 1, 2);
  await until('the unknown certificate to be refused', () => u.fwd.status().syslog.failures > 0);
  t.match(untrusted.errors.join('\n'), /self-signed|certificate/i, 'without ca_file a self-signed collector is refused');
  await u.fwd.close();
  await u.log.close();

  const trusted = setup(t, createSyslogSink({ address, tls: true, ca_file: cert, app_name: 'gatehouse' }, 'gw1'));
  const { log, fwd } = await trusted.open();
  await writeEvents(log, 1, 3);
  await fwd.drained(log.durableHead.seq);
  await until('three frames', () => (received.match(/<85>1 /g) ?? []).length === 3);
  const frames: string[] = [];
  for (let rest = received; rest.length > 0;) {
    const sp = rest.indexOf(' ');
    const len = Number(rest.slice(0, sp));
    frames.push(rest.slice(sp + 1, sp + 1 + len));
    rest = rest.slice(sp + 1 + len);
  }
  t.equal(frames.length, 3, 'each frame is exactly its announced length');
  t.match(frames[0], /^<85>1 \S+Z gw1 gatehouse - signin\.success - \{"seq":1,/);
  await fwd.close();
  await log.close();
});

// --- rsyslog ---------------------------------------------------------------

const RSYSLOGD = '/usr/sbin/rsyslogd';

/**
 * A free port below the OS's ephemeral range (rsyslog cannot report the one it
 * bound): a port the OS handed out and released could be handed to another
 * test's listen(0) before rsyslog binds it, and rsyslog then runs on without a
 * listener.
 */
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = createNetServer();
    const free = await new Promise<boolean>((res) => {
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => res(true));
    });
    if (!free) continue;
    s.close();
    await once(s, 'close');
    return port;
  }
}

class Rsyslog {
  child: ChildProcess | undefined;
  readonly dir: string;
  port = 0;
  constructor(dir: string) {
    this.dir = dir;
  }
  /** The first start, on a free port; a start that finds no listener after 10 s is stopped and tried on another port. */
  async startOnFreshPort(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await unusedPort();
      writeFileSync(join(this.dir, 'rsyslog.conf'), [
        `global(workDirectory="${this.dir}")`,
        'module(load="imtcp")',
        `input(type="imtcp" port="${this.port}" address="127.0.0.1")`,
        'template(name="msgonly" type="string" string="%msg%\\n")',
        `action(type="omfile" file="${join(this.dir, 'received.log')}" template="msgonly")`,
        '',
      ].join('\n'));
      try {
        return await this.start(attempt < 3 ? 10_000 : 15_000);
      } catch (err) {
        if (attempt >= 3) throw err;
        if (this.running()) await this.stop('SIGKILL');
      }
    }
  }
  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
  async start(ms = 15_000): Promise<void> {
    this.child = spawn(RSYSLOGD, ['-n', '-f', join(this.dir, 'rsyslog.conf'), '-i', join(this.dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    this.child.stderr!.on('data', (d) => (err += d));
    const exited = once(this.child, 'exit').then(() => { throw new Error(`rsyslogd exited: ${err}`); });
    exited.catch(() => undefined);
    // Probed by connecting, never by binding the port: a probe that holds the port for a moment
    // can be there just as rsyslog binds it, and rsyslog then runs on without a listener.
    await Promise.race([exited, until(`rsyslog to listen on ${this.port} (stderr: ${err.trim() || 'nothing'})`, () => new Promise<boolean>((res) => {
      const c = connect({ host: '127.0.0.1', port: this.port });
      c.once('connect', () => { c.destroy(); res(true); });
      c.once('error', () => res(false));
    }), ms)]);
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child!;
    const gone = once(c, 'exit');
    c.kill(signal); // by PID: only the process this test started
    await gone;
  }
  seqs(): number[] {
    const file = join(this.dir, 'received.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l.trim()).seq as number);
  }
  /** Each seq once (a collector restart may repeat records; receivers drop repeats by instance + seq). */
  distinctSeqs(): number[] {
    return [...new Set(this.seqs())].sort((a, b) => a - b);
  }
}

t.test('rsyslog (imtcp, RFC 5424, octet counting): stopped and restarted, every record arrives', async (t) => {
  if (!existsSync(RSYSLOGD)) {
    if (process.env.CI === 'true') throw new Error('rsyslog is not installed (apt-get install rsyslog)');
    t.comment('SKIPPED LOUDLY: rsyslog is not installed (apt-get install rsyslog)');
    t.pass('skipped: rsyslog is not installed');
    return;
  }
  const rsDir = mkdtempSync(join(tmpdir(), 'gatehouse-rsyslog-'));
  t.teardown(() => rmSync(rsDir, { recursive: true, force: true }));
  const rs = new Rsyslog(rsDir);
  // Before the start: a start that fails must not leave rsyslogd running (the file would never end).
  t.teardown(() => rs.running() ? rs.stop() : undefined);
  await rs.startOnFreshPort();
  const s = setup(t, createSyslogSink({ address: `127.0.0.1:${rs.port}`, tls: false, app_name: 'gatehouse' }, 'gw1'));
  const { log, fwd } = await s.open();
  await writeEvents(log, 1, 25);
  await until('25 records in rsyslog\'s file', () => rs.seqs().length === 25);
  t.same(rs.seqs(), range(1, 25));

  await rs.stop();
  await writeEvents(log, 26, 1);
  await until('the forwarder to see rsyslog gone', () => fwd.status().syslog.failures > 0);
  await writeEvents(log, 27, 30); // written during the outage
  t.equal(rs.seqs().length, 25, 'nothing while it is down');

  await rs.start();
  fwd.retryNow();
  const head = log.durableHead.seq;
  await fwd.drained(head);
  await until('every record in rsyslog\'s file', () => rs.distinctSeqs().length >= head);
  t.same(rs.distinctSeqs(), range(1, head), 'every record, none lost (the last ones before the stop may come twice)');

  // Killed (SIGKILL) the moment a batch was sent: it may never have read or stored it, so it is sent again.
  await writeEvents(log, head + 1, 10);
  await fwd.drained(log.durableHead.seq);
  const lostBefore = fwd.status().syslog.lost;
  await rs.stop('SIGKILL');
  await until('the dropped connection to be noticed', () => fwd.status().syslog.lost > lostBefore);
  await rs.start();
  fwd.retryNow();
  await writeEvents(log, head + 11, 5); // and life goes on
  const last = log.durableHead.seq;
  await fwd.drained(last);
  await until('every record after the kill', () => rs.distinctSeqs().length >= last);
  t.same(rs.distinctSeqs(), range(1, last), 'none lost across a SIGKILL of the collector (repeats allowed)');
  const spawnCheck = spawnSync(RSYSLOGD, ['-v'], { encoding: 'utf8' });
  t.comment(spawnCheck.stdout.split('\n')[0]);
  await fwd.close();
  await log.close();
});
