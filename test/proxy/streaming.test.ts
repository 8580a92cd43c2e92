// Streaming through the real gateway, run as its own process (`gatehouse serve`)
// so its memory can be watched from /proc: a 1 GiB upload and a 1 GiB download
// must not grow its RSS by more than 64 MiB, bytes arrive intact, chunked
// answers flow, and server-sent events are not buffered.

import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { dataSha256 } from '../../examples/demo-portal/deterministic-data.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { listeningPort, PROJECT_ROOT } from '../helpers/gateway.ts';

// Two 1 GiB transfers on a shared, loaded machine: allow minutes, not seconds.
t.setTimeout(900_000);

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const RSS_BUDGET = 64 * MiB;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples a process's RSS every 100 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssBytes(pid)); } catch { /* process gone: the test fails elsewhere */ }
  }, 100);
  return { stop() { clearInterval(timer); try { peak = Math.max(peak, rssBytes(pid)); } catch { /* gone */ } return peak; } };
}

interface ChildGateway { url: string; pid: number; child: ChildProcess; stderr: () => string }

async function startChildGateway(t: Test, upstream: string): Promise<ChildGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-stream-'));
  const usersPath = join(dir, 'users.yaml');
  writeFileSync(usersPath, stringify({ users: { alice: { display_name: 'Alice', email: 'alice@example.com', password: await hashPassword('alice-test-pass'), groups: [] } } }));
  const configPath = join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, stringify({
    // Port 0: the gateway binds, its "listening" line (log_level info) names the port.
    server: { listen: '127.0.0.1:0', public_url: 'http://localhost', log_level: 'info', max_body_bytes: '2GiB', body_timeout: '60s' },
    routes: [{ path: '/', upstream, timeout: '60s' }],
    identity: { source: 'file', file: { path: usersPath } },
    session: { secret: 'test-session-secret-0123456789-abcdefghijklmnop' },
    factors: { encryption_key: 'test-encryption-key-0123456789-abcdefghijklmnop' },
    policy: { default: 'none', rules: [] },
    store: { kind: 'sqlite', path: join(dir, 'gatehouse.db') },
    notifier: { kind: 'file', path: join(dir, 'outbox.log') },
    audit: { path: join(dir, 'audit.log') },
  }));
  const child = spawn(join(PROJECT_ROOT, 'node_modules/.bin/node'), [join(PROJECT_ROOT, 'src/cli/main.ts'), 'serve', '--config', configPath], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const bound = listeningPort(child);
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(hard);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${await bound}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${err}`);
    const ok = await request(`${url}/.gatehouse/healthz`).then(async (r) => { await r.body.text(); return r.statusCode === 200; }, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`gateway did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid!, child, stderr: () => err };
}

/** size bytes of order-sensitive pseudo-random data, hashed as it is produced. */
function uploadSource(size: number): { body: Readable; digest: () => string } {
  const hash = createHash('sha256');
  const block = randomBytes(MiB);
  let sent = 0;
  let n = 0;
  const body = Readable.from((function* () {
    while (sent < size) {
      const len = Math.min(MiB, size - sent);
      const chunk = Buffer.allocUnsafe(len);
      block.copy(chunk, 0, 0, len);
      chunk.writeUInt32BE(n++, 0); // a dropped or reordered chunk changes the hash
      hash.update(chunk);
      sent += len;
      yield chunk;
    }
  })(), { objectMode: false });
  return { body, digest: () => hash.digest('hex') };
}

async function upload(url: string, size: number): Promise<{ status: number; bytes: number; sha256: string; expected: string }> {
  const src = uploadSource(size);
  const r = await request(`${url}/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), accept: 'application/json' },
    body: src.body,
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  const body = await r.body.json() as { bytes: number; sha256: string };
  return { status: r.statusCode, ...body, expected: src.digest() };
}

async function download(url: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; bytes: number; sha256: string }> {
  const r = await request(`${url}${path}`, { headersTimeout: 600_000, bodyTimeout: 600_000 });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of r.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { status: r.statusCode, headers: r.headers, bytes, sha256: hash.digest('hex') };
}

// One portal and one gateway process serve every test here: starting them is the slow part.
const portal = await startDemoPortal({ port: 0 });
t.teardown(() => portal.close());
const gw = await startChildGateway(t, `http://127.0.0.1:${portal.port}`);

t.test('1 GiB up and down through the gateway process, RSS growth under 64 MiB', async (t) => {

  // Warm up (pools, JIT, buffers) so the baseline is the steady state, not a cold process.
  const warm = await upload(gw.url, 64 * MiB);
  t.equal(warm.sha256, warm.expected, 'warm-up upload intact');
  const warmDown = await download(gw.url, `/download?size=${64 * MiB}`);
  t.equal(warmDown.bytes, 64 * MiB);
  await new Promise((r) => setTimeout(r, 500));
  const baseline = rssBytes(gw.pid);
  t.comment(`gateway RSS baseline ${(baseline / MiB).toFixed(1)} MiB`);

  let sampler = sampleRss(gw.pid);
  let started = performance.now();
  const up = await upload(gw.url, GiB);
  let peak = sampler.stop();
  t.equal(up.status, 200);
  t.equal(up.bytes, GiB, 'the portal received every byte');
  t.equal(up.sha256, up.expected, 'sha256 computed by the portal matches the one sent');
  t.ok(peak - baseline < RSS_BUDGET, `upload: RSS grew ${((peak - baseline) / MiB).toFixed(1)} MiB (< 64) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  sampler = sampleRss(gw.pid);
  started = performance.now();
  const down = await download(gw.url, `/download?size=${GiB}`);
  peak = sampler.stop();
  t.equal(down.status, 200);
  t.equal(down.headers['content-length'], String(GiB), 'length passed through');
  t.equal(down.bytes, GiB);
  t.equal(down.sha256, dataSha256(GiB), 'download intact');
  t.ok(peak - baseline < RSS_BUDGET, `download: RSS grew ${((peak - baseline) / MiB).toFixed(1)} MiB (< 64) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // Chunked (no Content-Length): flows through as chunked, also without buffering.
  const size = 256 * MiB;
  sampler = sampleRss(gw.pid);
  const chunked = await download(gw.url, `/download?size=${size}&chunked=1`);
  peak = sampler.stop();
  t.equal(chunked.status, 200);
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  t.notOk('content-length' in chunked.headers);
  t.equal(chunked.bytes, size);
  t.equal(chunked.sha256, dataSha256(size), 'chunked download intact');
  t.ok(peak - baseline < RSS_BUDGET, `chunked: RSS grew ${((peak - baseline) / MiB).toFixed(1)} MiB (< 64)`);

  const h = await request(`${gw.url}/.gatehouse/healthz`);
  t.equal(h.statusCode, 200);
  await h.body.text();
  t.equal(gw.child.exitCode, null, 'the gateway process is still running');
});

t.test('a chunked answer flows: the first bytes arrive long before the upstream finishes', async (t) => {
  // SSE is the slow chunked answer the portal has: 4 events, 500 ms apart, then the end.
  const started = performance.now();
  const r = await request(`${gw.url}/events?count=4`, { headers: { accept: 'text/event-stream' } });
  const headersAt = performance.now() - started;
  t.equal(r.statusCode, 200);
  t.equal(r.headers['transfer-encoding'], 'chunked');
  t.ok(headersAt < 1500, `headers arrive before the first event (${Math.round(headersAt)} ms)`);
  let firstAt = 0;
  for await (const chunk of r.body) {
    if (!firstAt && String(chunk).includes('data:')) firstAt = performance.now() - started;
  }
  const endAt = performance.now() - started;
  t.ok(endAt - firstAt > 900, `the first data arrived ${Math.round(endAt - firstAt)} ms before the end, not all at once`);
});

t.test('server-sent events arrive unbuffered through the gateway', async (t) => {
  const started = performance.now();
  const r = await request(`${gw.url}/events?count=6`, { headers: { accept: 'text/event-stream' } });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /text\/event-stream/);
  const arrivals: { id: number; at: number }[] = [];
  let pending = '';
  for await (const chunk of r.body) {
    pending += String(chunk);
    let end: number;
    while ((end = pending.indexOf('\n\n')) !== -1) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const id = /^id: (\d+)$/m.exec(event);
      if (id) arrivals.push({ id: Number(id[1]), at: performance.now() - started });
    }
  }
  t.same(arrivals.map((a) => a.id), [1, 2, 3, 4, 5, 6], 'every event, in order');
  // Sent at ~500 ms; a buffering proxy would hold it until the end (~3 s).
  t.ok(arrivals[0].at < 2500, `first event well before the end (${Math.round(arrivals[0].at)} ms; sent at ~500 ms)`);
  const gaps = arrivals.slice(1).map((a, i) => a.at - arrivals[i].at);
  t.comment(`gaps between events: ${gaps.map((g) => Math.round(g)).join(', ')} ms`);
  // Sent every 500 ms: buffering would bunch them up (gaps near 0); allow a loaded machine its jitter.
  const spaced = gaps.filter((g) => g > 200 && g < 1500).length;
  t.ok(spaced >= 3, `at least 3 of 5 gaps look like the 500 ms sending rhythm (${spaced})`);
  t.ok(arrivals[5].at - arrivals[0].at > 1500, `spread over time (${Math.round(arrivals[5].at - arrivals[0].at)} ms for 5 intervals of 500 ms)`);
});
