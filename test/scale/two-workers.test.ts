// README "Workers": one instance with two workers (server.workers: 2) and the
// embedded defaults (SQLite, memory shared state held by the primary) keeps
// every guarantee two instances keep (cross-instance-steps.ts). The browser's
// two targets are keep-alive connections pinned to different workers, told
// apart by the X-Request-Id the upstream got (its prefix is per process); each
// connection is checked at the end to have connected once, so no step silently
// ran on the other worker.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoPortal } from '../../examples/demo-portal/server.ts';
import { crossInstanceSteps, POLICY } from './cross-instance-steps.ts';
import { Browser, LB_URL, pinWorkers, startInstance, writeInstanceConfig, writeUsers } from './instances.ts';

/** A path the demo portal echoes and no sign-in guards: how a pinned connection learns its worker. */
export const PROBE = '/echo/probe';

t.test('one instance, two workers, SQLite and memory shared state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const portal = await startDemoPortal({ port: 0, host: '127.0.0.1' });
  t.teardown(() => portal.close());
  const usersPath = await writeUsers(dir);
  const policy = { ...POLICY, rules: [{ id: 'probe', match: { path: PROBE }, require: 'none' }, ...POLICY.rules] };
  const config = writeInstanceConfig(dir, 'gw', { publicUrl: LB_URL, usersPath, upstream: `http://127.0.0.1:${portal.port}`, policy, port: 0, workers: 2 });
  const gw = await startInstance('gw', config, 0);
  t.teardown(() => gw.stop());
  const pinned = await pinWorkers(gw, ['a', 'b'], PROBE);
  t.teardown(() => Promise.all(pinned.map((p) => p.dispatcher.close())));
  t.not(pinned[0].processId, pinned[1].processId, 'the two connections reached two different worker processes');

  await crossInstanceSteps(t, { browser: () => new Browser(LB_URL, pinned), publicUrl: LB_URL, portal });

  for (const p of pinned) t.equal(p.connects(), 1, `target ${p.name}: every request on one connection, so on one worker`);
  const records = readFileSync(join(dir, 'gw-audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; event: string });
  t.same(records.map((r) => r.seq), records.map((_, i) => i + 1), 'one audit chain, written by the primary, without gaps');
  t.ok(records.some((r) => r.event === 'factor.used') && records.some((r) => r.event === 'signin.lockout'), 'the workers\' records are in it');
});
