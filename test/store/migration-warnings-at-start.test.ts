// What a store migration reports reaches the operator when the gateway starts:
// a real `gatehouse serve`, single-process and as a cluster primary with
// workers, over a SQLite file left at schema version 4 holding duplicate
// WebAuthn credential ids (migration 5 takes the id from the later rows).

import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeSqliteV4WithDuplicates } from './sqlite-v4-duplicates.ts';

/** Runs `gatehouse serve` until its "gatehouse listening" line; returns the JSON lines it printed. */
function serveUntilListening(config: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((done, fail) => {
    const child = spawn(resolve('node_modules/.bin/node'), [resolve('bin/gatehouse.js'), 'serve', '--config', config], { detached: true });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { stop(); fail(new Error(`no listening line in: ${out}${err}`)); }, 30_000);
    const stop = () => { clearTimeout(timer); try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ } };
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => { stop(); fail(new Error(`gatehouse serve exited (${code}): ${out}${err}`)); });
    child.stdout.on('data', (d) => {
      out += d;
      if (/"gatehouse listening"/.test(out) && out.endsWith('\n')) {
        child.removeAllListeners('exit');
        stop();
        done(out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
      }
    });
  });
}

function writeConfig(dir: string, workers: number): string {
  const config = join(dir, 'g.yaml');
  writeFileSync(config, `server: { listen: 127.0.0.1:0, workers: ${workers} }
routes: [{ path: /, upstream: "http://127.0.0.1:9" }]
identity: { source: file, file: { path: ${resolve('test/fixtures/config/users.yaml')} } }
session: { secret: migration-warnings-session-secret-0123456789 }
factors: { encryption_key: migration-warnings-encryption-key-0123456789 }
audit: { path: ${join(dir, 'audit.log')}, key: migration-warnings-audit-key-0123456789abcd }
store: { kind: sqlite, path: ${join(dir, 'g.db')} }
notifier: { kind: file, path: ${join(dir, 'outbox.log')} }
`);
  writeSqliteV4WithDuplicates(join(dir, 'g.db'));
  return config;
}

const migrationWarnings = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('store migration 5:'));

for (const workers of [1, 2]) {
  t.test(`gatehouse serve (workers: ${workers}) logs each credential id migration 5 took away as a warning, once`, async (t) => {
    const config = writeConfig(t.testdir(), workers);
    const first = await serveUntilListening(config);
    const warned = migrationWarnings(first);
    t.same(warned.map((l) => /factor (\S+) of user (\S+)/.exec(String(l.msg))?.slice(1)), [['w0', 'bob'], ['w2', 'mallory'], ['x2', 'erin']],
      `every row that lost its credential id, oldest first: ${JSON.stringify(first.map((l) => l.msg))}`);
    for (const l of warned) t.equal(l.level, 40, 'at level warn');
    if (workers > 1) t.ok(warned.every((l) => l.role === 'primary'), 'by the primary, before any worker opens the store');
    t.ok(first.findIndex((l) => l.msg === 'gatehouse listening') > first.indexOf(warned.at(-1)!), 'before the gateway listens');

    const again = await serveUntilListening(config);
    t.same(migrationWarnings(again), [], 'the next start has nothing to report');
  });
}
