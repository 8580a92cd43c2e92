// The gateway's own static files (CSS, progressive-enhancement scripts, the
// WebAuthn browser bundle), read into memory once at start. Only names present
// at start can ever be served: a lookup is a Map hit, never a filesystem path.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { STATIC_HEADERS } from '../web/security-headers.ts';

export { STATIC_HEADERS };

export interface StaticAsset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Look up an asset by its public name; `version` changes whenever any asset does (for `?v=` cache busting). */
export type StaticAssets = ((name: string) => StaticAsset | undefined) & {
  readonly version: string;
  readonly names: readonly string[];
};

/** Headers for a static asset response (add ETag and Content-Type from the asset).
 *  URLs carry `?v=<version>`, so a year-long immutable cache is safe. */

const TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
};

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function contentTypeOf(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** Where the UMD bundle of @simplewebauthn/browser lives (global `SimpleWebAuthnBrowser`). */
export function simpleWebAuthnBundlePath(): string {
  // The package exports no ./package.json; resolve its CommonJS entry
  // (<pkg>/script/index.js) and step up to the package root.
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  return path.join(path.dirname(path.dirname(entry)), 'dist', 'bundle', 'index.umd.min.js');
}

/** The gateway's standard sources: everything in views/static plus the WebAuthn bundle. */
export function defaultStaticSources(viewsDir: string): Record<string, string> {
  return {
    static: path.join(viewsDir, 'static'),
    'simplewebauthn-browser.js': simpleWebAuthnBundlePath(),
  };
}

/**
 * Each entry maps a key to a path. A directory contributes each of its files
 * (top level, no dot-files) under the file's own name, the key being only a
 * label; a file is served under the key. Throws on a missing path, an unsafe
 * name or two sources claiming one name.
 */
export function createStaticAssets(dirs: Record<string, string>): StaticAssets {
  const assets = new Map<string, StaticAsset>();
  const add = (name: string, file: string): void => {
    if (!SAFE_NAME.test(name)) throw new Error(`static asset name ${JSON.stringify(name)} is not a plain file name`);
    if (assets.has(name)) throw new Error(`static asset ${JSON.stringify(name)} is provided twice (second from ${file})`);
    const body = readFileSync(file);
    assets.set(name, { body, type: contentTypeOf(name), etag: etagOf(body) });
  };

  for (const [key, source] of Object.entries(dirs)) {
    let stat;
    try {
      stat = statSync(source);
    } catch {
      throw new Error(`static source ${JSON.stringify(key)}: ${source} does not exist`);
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(source, { withFileTypes: true })) {
        if (entry.isFile() && !entry.name.startsWith('.')) add(entry.name, path.join(source, entry.name));
      }
    } else {
      add(key, source);
    }
  }

  const names = [...assets.keys()].sort();
  const digest = createHash('sha256');
  for (const name of names) digest.update(name).update('\0').update(assets.get(name)!.etag).update('\0');
  const version = digest.digest('hex').slice(0, 12);

  const lookup = (name: string): StaticAsset | undefined => assets.get(name);
  return Object.assign(lookup, { version, names: Object.freeze(names) });
}
