// README "Workers": the life of a primary and its workers (server.workers: 2), as
// real processes on real sockets. Metrics are summed over the workers; SIGHUP
// validates the config once and rolls the workers while a request is in flight, and
// that request still gets its answer; a config that does not validate changes
// nothing; a killed worker is replaced and the replacement logged; a killed primary
// leaves no worker behind. The upstream here holds `/hold` until the test lets it go,
// so "in flight" is a fact, not a timing guess.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { LB_URL, pinWorkers, startInstance, waitFor, writeInstanceConfig, writeUsers, type Instance } from './instances.ts';

/** An upstream that echoes the headers it got as JSON, and keeps `/hold` waiting until released. */
async function holdingUpstream() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/hold') { held.push(res); return; }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    held,
    release() { for (const res of held.splice(0)) res.end('released'); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const logsWith = (gw: Instance, msg: string) => gw.logs.filter((l) => l.msg === msg);
const childPids = (pid: number) => execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').map(Number).sort();
async function get(gw: Instance, path: string): Promise<{ status: number; body: string }> {
  const r = await request(`http://127.0.0.1:${gw.port}${path}`, { headers: { host: new URL(gw.url).host } });
  return { status: r.statusCode, body: await r.body.text() };
}

t.test('a primary and two workers: metrics, reload by rolling, a crash replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = await holdingUpstream();
  t.teardown(() => upstream.close());
  const config = writeInstanceConfig(dir, 'gw', {
    publicUrl: LB_URL, usersPath: await writeUsers(dir), upstream: `http://127.0.0.1:${upstream.port}`, policy: { default: 'none' }, port: 0, workers: 2,
  });
  const gw = await startInstance('gw', config, 0);
  t.teardown(() => gw.stop());
  const first = logsWith(gw, 'worker started').map((l) => l.worker as number).sort();
  t.equal(first.length, 2, 'two workers started');
  t.same(childPids(gw.pid), first, 'and they are the primary\'s children');

  await t.test('metrics: one scrape counts the requests of both workers', async (t) => {
    const [a, b] = await pinWorkers(gw, ['a', 'b'], '/probe');
    t.teardown(() => Promise.all([a.dispatcher.close(), b.dispatcher.close()]));
    const on = async (p: typeof a, n: number) => {
      for (let i = 0; i < n; i++) t.equal((await p.dispatcher.request({ path: '/x', method: 'GET', headers: { host: 'localhost:8080' } }).then((r) => r.body.text().then(() => r.statusCode))), 200);
    };
    await on(a, 3);
    await on(b, 2);
    const text = await (await a.dispatcher.request({ path: '/.gatehouse/metrics', method: 'GET', headers: { host: 'localhost:8080' } })).body.text();
    const ok = /gatehouse_requests_total\{route="\*\/",status_class="2xx"\} (\d+)/.exec(text)?.[1];
    // Each pinned connection answered one probe too; pinWorkers may have opened (and closed) more connections, each with one probe.
    t.ok(Number(ok) >= 3 + 2 + 2, `2xx answers counted over both workers (${ok})`);
    const probesSeen = Number(ok) - 5;
    t.equal(probesSeen, logsWith(gw, 'request').filter((l) => l.path === '/probe').length, 'exactly the answers the two workers logged');
    t.equal(a.connects() + b.connects(), 2, 'each pinned connection stayed on its worker');
  });

  await t.test('SIGHUP rolls the workers; a request in flight still gets its answer', async (t) => {
    const inFlight = get(gw, '/hold');
    await waitFor('the upstream to hold the request', async () => upstream.held.length === 1);
    process.kill(gw.pid, 'SIGHUP');
    // Requests keep being answered during the roll.
    const during: number[] = [];
    await waitFor('the roll to finish', async () => {
      during.push((await get(gw, '/x')).status);
      return logsWith(gw, 'config reloaded: workers rolled').length >= 1;
    }, 60_000);
    t.ok(during.length > 0 && during.every((s) => s === 200), `every request during the roll answered 200 (${during.length})`);
    const rolled = logsWith(gw, 'worker started').map((l) => l.worker as number).filter((p) => !first.includes(p));
    t.ok(rolled.length >= 2, 'new workers started');
    upstream.release();
    const answer = await inFlight;
    t.same(answer, { status: 200, body: 'released' }, 'the request in flight on an old worker was answered');
    await waitFor('the old workers to exit', async () => first.every((p) => logsWith(gw, 'worker stopped').some((l) => l.worker === p)));
    t.same(childPids(gw.pid), logsWith(gw, 'worker started').map((l) => l.worker as number).filter((p) => !first.includes(p)).sort(), 'only new workers run');
    t.equal(logsWith(gw, 'worker exited unexpectedly: starting a replacement').length, 0, 'no worker crashed');
  });

  await t.test('a config that does not validate is refused once, in the primary; the workers stay', async (t) => {
    const good = readFileSync(config, 'utf8');
    const workers = childPids(gw.pid);
    writeFileSync(config, good.replace('default: none', 'default: maybe'));
    process.kill(gw.pid, 'SIGHUP');
    await waitFor('the rejection', async () => logsWith(gw, 'config reload rejected: keeping the running config and workers').length >= 1);
    t.same(childPids(gw.pid), workers, 'no worker was replaced');
    t.equal((await get(gw, '/x')).status, 200, 'still serving');
    // Putting the good file back is a change too: wait for that roll, so the next test starts from rest.
    const rolls = logsWith(gw, 'config reloaded: workers rolled').length;
    writeFileSync(config, good);
    await waitFor('the roll after the fix', async () => logsWith(gw, 'config reloaded: workers rolled').length > rolls, 60_000);
    await waitFor('the old workers to drain and exit', async () => childPids(gw.pid).length === 2);
  });

  await t.test('a killed worker is replaced, and the replacement is logged', async (t) => {
    const victim = childPids(gw.pid)[0];
    const seen = new Set(logsWith(gw, 'worker started').map((l) => l.worker as number));
    process.kill(victim, 'SIGKILL');
    await waitFor('a replacement', async () => childPids(gw.pid).length === 2 && !childPids(gw.pid).includes(victim)
      && logsWith(gw, 'worker started').some((l) => !seen.has(l.worker as number)), 60_000);
    const crash = logsWith(gw, 'worker exited unexpectedly: starting a replacement');
    t.equal(crash.length, 1);
    t.match(crash[0], { level: 50, worker: victim, signal: 'SIGKILL' }, 'logged as an error, naming the worker and the signal');
    for (let i = 0; i < 4; i++) t.equal((await get(gw, '/x')).status, 200, 'still serving');
  });

  await t.test('a primary that dies takes its workers with it (no orphan serving without the shared state)', async (t) => {
    const workers = childPids(gw.pid);
    process.kill(gw.pid, 'SIGKILL');
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    await waitFor('the workers to exit', async () => workers.every((p) => !alive(p)), 30_000);
    t.pass(`workers ${workers.join(', ')} exited`);
  });
});
