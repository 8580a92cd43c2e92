import t from 'tap';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { watchConfig, type ReloadResult } from '../../src/config/watch.ts';

const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40), GATEHOUSE_AUDIT_KEY: 'a'.repeat(40) };

function configText(listen: string): string {
  return `server:\n  listen: ${listen}\nroutes:\n  - path: /\n    upstream: http://127.0.0.1:8081\n`;
}

/** Collects reload results; `next()` waits for the next one (or fails after a timeout). */
function recorder() {
  const results: ReloadResult[] = [];
  let waiting: ((r: ReloadResult) => void) | undefined;
  return {
    results,
    onReload(r: ReloadResult) {
      results.push(r);
      waiting?.(r);
      waiting = undefined;
    },
    next(ms = 3000): Promise<ReloadResult> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload within ' + ms + ' ms')), ms);
        waiting = (r) => {
          clearTimeout(timer);
          resolve(r);
        };
      });
    },
  };
}

t.test('reloads on change, reports errors, leaves the caller config alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-watch-'));
  const file = join(dir, 'gatehouse.yaml');
  const users = join(dir, 'users.yaml');
  writeFileSync(file, configText('127.0.0.1:8080'));
  writeFileSync(users, 'users:\n');
  await sleep(50);

  const opts = { env: SECRETS };
  let current: Config = loadConfig(file, opts);
  const rec = recorder();
  const baselineSighup = process.listenerCount('SIGHUP');
  const watcher = watchConfig(
    file,
    (r) => {
      if (r.ok) current = r.config; // what a caller does: swap only a good config
      rec.onReload(r);
    },
    { debounceMs: 100, extraFiles: [users], load: opts },
  );
  t.teardown(() => watcher.close());
  t.equal(process.listenerCount('SIGHUP'), baselineSighup + 1, 'a SIGHUP handler is installed');

  // A good edit.
  let next = rec.next();
  writeFileSync(file, configText('127.0.0.1:9091'));
  let r = await next;
  t.equal(r.ok, true, 'good file reloads');
  t.equal(r.ok && r.config.server.listen, '127.0.0.1:9091');
  t.same(r.changed, [file]);
  t.equal(current.server.listen, '127.0.0.1:9091');

  // A broken edit: reported, and the running config is untouched.
  const before = current;
  const snapshot = structuredClone(current);
  next = rec.next();
  writeFileSync(file, 'server:\n  listn: 127.0.0.1:1\n');
  r = await next;
  t.equal(r.ok, false, 'broken file is reported');
  t.match(!r.ok && r.error.issues, [{ path: 'server.listn', line: 2, message: /unknown key/ }]);
  t.equal(current, before, 'caller keeps the same config object');
  t.same(current, snapshot, 'and it is unchanged');

  // Editors replace files by rename.
  next = rec.next();
  const tmp = join(dir, '.gatehouse.yaml.swp');
  writeFileSync(tmp, configText('127.0.0.1:9092'));
  renameSync(tmp, file);
  r = await next;
  t.equal(r.ok && r.config.server.listen, '127.0.0.1:9092', 'rename-replace is seen');

  // The users file triggers a reload too.
  next = rec.next();
  writeFileSync(users, 'users:\n  # edited\n');
  r = await next;
  t.equal(r.ok, true);
  t.same(r.changed, [users], 'reports which file changed');

  // Unrelated files in the same directory do not.
  const count = rec.results.length;
  writeFileSync(join(dir, 'other.txt'), 'x');
  await sleep(300);
  t.equal(rec.results.length, count, 'other files are ignored');

  // A burst of writes is one reload.
  next = rec.next();
  for (let i = 0; i < 5; i++) writeFileSync(file, configText(`127.0.0.1:${9100 + i}`));
  r = await next;
  await sleep(300);
  t.equal(rec.results.length, count + 1, 'debounced into one reload');
  t.equal(r.ok && r.config.server.listen, '127.0.0.1:9104', 'with the last content');

  // SIGHUP reloads (and does not kill the process: the handler exists).
  next = rec.next();
  process.kill(process.pid, 'SIGHUP');
  r = await next;
  t.equal(r.ok, true, 'SIGHUP reloads');
  t.same(r.changed, []);

  watcher.close();
  t.equal(process.listenerCount('SIGHUP'), baselineSighup, 'close removes the SIGHUP handler');
  const after = rec.results.length;
  writeFileSync(file, configText('127.0.0.1:9200'));
  await sleep(300);
  t.equal(rec.results.length, after, 'no reloads after close');
});

t.test('a vanished config file is reported as an error, not thrown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-watch-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, configText('127.0.0.1:8080'));
  await sleep(50);
  const rec = recorder();
  const watcher = watchConfig(file, (r) => rec.onReload(r), { debounceMs: 50, load: { env: SECRETS } });
  t.teardown(() => watcher.close());
  const next = rec.next();
  renameSync(file, join(dir, 'moved.yaml'));
  const r = await next;
  t.equal(r.ok, false);
  t.match(!r.ok && r.error.issues, [{ path: '', message: /cannot read the config file: ENOENT/ }]);
});
