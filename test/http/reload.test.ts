// Config reload (README "Configuration"): a config that fails validation never
// replaces the running one; a good one swaps routes and rules in one step, with
// no request failing while it happens. Errors name the key path and the line.

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { request } from 'undici';
import { startTestGateway, readAudit, type GatewayFixture } from '../helpers/gateway.ts';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { loadConfig, ConfigError, formatIssues } from '../../src/config/load.ts';

const API = { accept: 'application/json' };

async function get(f: GatewayFixture, path: string): Promise<{ status: number; body: string }> {
  const r = await request(`${f.url}${path}`, { headers: API });
  return { status: r.statusCode, body: await r.body.text() };
}

/** The audit log is written asynchronously: wait until it holds `count` events of a kind. */
async function auditEvents(f: GatewayFixture, event: string, count: number): Promise<Record<string, unknown>[]> {
  let found: Record<string, unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    found = readAudit(f).filter((e) => e.event === event);
    if (found.length >= count) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return found;
}

function editConfig(f: GatewayFixture, edit: (doc: Record<string, any>) => void): void {
  const doc = parse(readFileSync(f.configPath, 'utf8')) as Record<string, any>;
  edit(doc);
  writeFileSync(f.configPath, stringify(doc));
}

t.test('a broken config file keeps the running config', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const goodText = readFileSync(f.configPath, 'utf8');
  t.equal((await get(f, '/echo/before')).status, 200);
  const running = f.gw.current();

  const broken: [string, string, RegExp][] = [
    ['invalid upstream', goodText.replace(/upstream: http:\/\/127\.0\.0\.1:\d+/, 'upstream: not-a-url'), /routes\[0\]\.upstream/],
    ['typo in a key', goodText.replace('policy:', 'polcy:'), /polcy/],
    ['YAML syntax', `${goodText}\nserver: [unclosed\n`, /YAML|syntax/i],
    ['bad rule pattern', goodText.replace('rules: []', 'rules:\n    - id: x\n      match: { path: "no-slash" }\n      require: deny'), /rules\[0\]/],
    // An editor that truncates before writing: the watcher can see the empty file mid-save.
    ['empty file', '', /empty|routes/i],
  ];
  for (const [what, text, reasonPattern] of broken) {
    writeFileSync(f.configPath, text);
    const ok = await f.gw.reload();
    t.equal(ok, false, `${what}: reload refused`);
    t.equal(f.gw.current(), running, `${what}: the running snapshot is untouched`);
    const r = await get(f, '/echo/after');
    t.equal(r.status, 200, `${what}: requests are still routed`);
    t.match(JSON.parse(r.body), { url: '/echo/after' });
    const rejected = await auditEvents(f, 'config.rejected', broken.findIndex((b) => b[0] === what) + 1);
    t.match(rejected.at(-1)?.reason, reasonPattern, `${what}: the audit log says why`);
  }
  const logged = f.logs.filter((l) => l.msg === 'config reload rejected: keeping the running config');
  t.equal(logged.length, broken.length, 'each rejection is logged');
  t.match(logged[0].reason, new RegExp(`${f.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+ routes\\[0\\]\\.upstream`), 'the log line has file:line and key path');
});

t.test('a good config swaps routes and rules atomically', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const second = await startDemoPortal({ port: 0 });
  t.teardown(() => second.close());
  const firstUpstream = `http://127.0.0.1:${f.portal!.port}`;
  const secondUpstream = `http://127.0.0.1:${second.port}`;

  editConfig(f, (doc) => {
    doc.routes = [{ path: '/', upstream: secondUpstream }];
    doc.policy.rules = [{ id: 'blocked', match: { path: '/echo/blocked/**' }, require: 'deny' }];
  });
  t.equal(await f.gw.reload(), true, 'reload accepted');
  const before = second.received.length;
  t.equal((await get(f, '/echo/x')).status, 200);
  t.equal(second.received.length, before + 1, 'the new route is used at once');
  t.equal((await get(f, '/echo/blocked/x')).status, 403, 'the new rule is in force');
  t.ok((await auditEvents(f, 'config.loaded', 2)).some((e) => e.reason === 'reload'), 'audited');

  // Under steady concurrent traffic, flip between the two upstreams many times:
  // every request is answered by one of them, none fails.
  const statuses = new Map<number, number>();
  let stop = false;
  const workers = Array.from({ length: 6 }, async () => {
    while (!stop) {
      const r = await request(`${f.url}/echo/load`, { headers: API }).then(
        async (res) => { await res.body.text(); return res.statusCode; },
        () => 0,
      );
      statuses.set(r, (statuses.get(r) ?? 0) + 1);
    }
  });
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 60));
    editConfig(f, (doc) => { doc.routes = [{ path: '/', upstream: i % 2 === 0 ? firstUpstream : secondUpstream }]; });
    t.equal(await f.gw.reload(), true, `flip ${i + 1}`);
  }
  await new Promise((r) => setTimeout(r, 60));
  stop = true;
  await Promise.all(workers);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.same([...statuses.keys()], [200], `all ${total} requests during 10 reloads answered 200 (${JSON.stringify([...statuses])})`);
  t.ok(total > 10, 'traffic really flowed during the reloads');
  // The last flip (i = 9) pointed at the second portal.
  const n = second.received.length;
  t.equal((await get(f, '/echo/final')).status, 200);
  t.equal(second.received.length, n + 1, 'the final config is the one in force');
});

t.test('loadConfig errors carry the key path and the line', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'none', rules: [] } } });
  t.teardown(() => f.close());
  const text = readFileSync(f.configPath, 'utf8');
  const badText = text.replace(/upstream: http:\/\/127\.0\.0\.1:\d+/, 'upstream: ftp://nowhere');
  writeFileSync(f.configPath, badText);
  const line = badText.split('\n').findIndex((l) => l.includes('ftp://nowhere')) + 1;
  let err: unknown;
  try {
    loadConfig(f.configPath);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError, 'a ConfigError');
  const issues = (err as ConfigError).issues;
  t.match(issues, [{ path: 'routes[0].upstream', line }]);
  const text2 = formatIssues(f.configPath, issues);
  t.equal(text2.split('\n')[0].startsWith(`${f.configPath}:${line} routes[0].upstream: `), true, `formatted: ${text2}`);
  t.equal(await f.gw.reload(), false, 'and the gateway refuses it');
});
