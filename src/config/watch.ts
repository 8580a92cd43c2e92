// Re-reads the config on SIGHUP and when the file (or an extra file such as the
// users file) changes, and reports the result. It never applies anything: the
// caller swaps in a good config atomically and keeps the old one on error.
//
// Directories are watched, not files: editors and `mv`-based deploys replace a
// file by renaming a new one over it, which a watch on the old inode misses.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Config } from './types.ts';
import { ConfigError, loadConfig, type LoadOptions } from './load.ts';

export type ReloadResult =
  | { ok: true; config: Config; changed: string[] }
  | { ok: false; error: ConfigError; changed: string[] };

export interface WatchOptions {
  /** Quiet period after the last event before reloading (editors write in bursts). Default 100 ms. */
  debounceMs?: number;
  /** More files whose change triggers a reload (e.g. identity.file.path). */
  extraFiles?: string[];
  /** Passed to loadConfig. */
  load?: LoadOptions;
}

export function watchConfig(
  file: string,
  onReload: (result: ReloadResult) => void,
  opts: WatchOptions = {},
): { close(): void } {
  const debounceMs = opts.debounceMs ?? 100;
  const files = [file, ...(opts.extraFiles ?? [])].map((f) => resolve(f));
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const names = byDir.get(dirname(f)) ?? new Set<string>();
    names.add(basename(f));
    byDir.set(dirname(f), names);
  }

  let timer: NodeJS.Timeout | undefined;
  let changed = new Set<string>();
  let closed = false;

  const reload = (): void => {
    timer = undefined;
    if (closed) return;
    const which = [...changed];
    changed = new Set();
    let result: ReloadResult;
    try {
      result = { ok: true, config: loadConfig(file, opts.load), changed: which };
    } catch (err) {
      const error = err instanceof ConfigError ? err : new ConfigError(file, [{ path: '', message: (err as Error).message }]);
      result = { ok: false, error, changed: which };
    }
    onReload(result);
  };
  const schedule = (changedFile?: string): void => {
    if (closed) return;
    if (changedFile) changed.add(changedFile);
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };

  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: true }, (_event, name) => {
        // Some platforms omit the name: reload rather than miss a change.
        if (name === null) return schedule();
        const base = basename(String(name));
        if (names.has(base)) schedule(resolve(dir, base));
      });
    } catch (err) {
      if (dir === dirname(files[0])) throw err;
      continue; // an extra file's directory does not exist (yet): SIGHUP still reloads
    }
    w.on('error', () => { /* directory removed: nothing more to watch; SIGHUP still works */ });
    watchers.push(w);
  }

  const onSignal = (): void => schedule();
  process.on('SIGHUP', onSignal);

  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      process.off('SIGHUP', onSignal);
      for (const w of watchers) w.close();
    },
  };
}
