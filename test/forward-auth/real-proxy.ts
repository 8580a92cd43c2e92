// Real nginx and Caddy in front of the demo portal, with gatehouse as their
// forward-auth authorizer. Their configs are made from the documented snippets
// in examples/ (placeholders filled in), so the snippets are what is tested.
//
// A missing binary fails the test under CI=true; elsewhere the test is
// skipped with a loud reason.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

export const NGINX_BIN = process.env.GATEHOUSE_TEST_NGINX ?? '/usr/sbin/nginx';
export const CADDY_BIN = process.env.GATEHOUSE_TEST_CADDY ?? '/usr/bin/caddy';

export interface RealProxy {
  port: number;
  /** http://localhost:PORT: the public origin users (and gatehouse's public_url) see. */
  origin: string;
  /** What the proxy wrote to its logs so far (for failure messages). */
  logs(): string;
  close(): Promise<void>;
}

interface BinaryTest { comment(...m: unknown[]): unknown }

/** true when the binary is there; under CI=true a missing one throws. */
export function requireBinary(t: BinaryTest, name: string, path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    const reason = `${name} is not installed at ${path} (apt-get install ${name}, or set GATEHOUSE_TEST_${name.toUpperCase()})`;
    if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: real-proxy tests must run in CI)`);
    const banner = `\n${'!'.repeat(78)}\n!! SKIPPING ${name} forward-auth tests: ${reason}\n${'!'.repeat(78)}\n`;
    process.stderr.write(banner);
    t.comment(banner);
    return false;
  }
}

/** Fills `{{NAME}}` placeholders; a placeholder left unfilled is an error (the snippet and the test disagree). */
export function fillTemplate(text: string, values: Record<string, string>): string {
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (m, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`no value for placeholder ${m}`);
    return values[name];
  });
  return out;
}

export function exampleFile(...parts: string[]): string {
  return readFileSync(join(PROJECT_ROOT, 'examples', ...parts), 'utf8');
}

function waitForPort(port: number, child: ChildProcess, logs: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      reject(new Error(`proxy exited (${code ?? signal}) before listening:\n${logs()}`));
    });
    const attempt = () => {
      if (exited) return;
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`proxy not listening on ${port} after ${timeoutMs} ms:\n${logs()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill(signal);
  });
}

/** nginx in the foreground with examples/nginx/gatehouse.conf inside a minimal main config, everything in `dir`. */
export async function startNginx(o: { dir: string; port: number; gatehouse: string; app: string }): Promise<RealProxy> {
  const dir = join(o.dir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const site = fillTemplate(exampleFile('nginx', 'gatehouse.conf'), {
    LISTEN: `127.0.0.1:${o.port}`,
    SERVER_NAME: 'localhost',
    GATEHOUSE: o.gatehouse,
    APP: o.app,
  });
  writeFileSync(join(dir, 'gatehouse.conf'), site);
  const errorLog = join(dir, 'error.log');
  const main = [
    // Workers of a root master run as `nobody` by default and could not read the temp dir.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} info;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    `  client_body_temp_path ${join(dir, 'body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    `  include ${join(dir, 'gatehouse.conf')};`,
    '}',
    '',
  ].join('\n');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, main);
  let output = '';
  const logs = () => {
    let log = '';
    try { log = readFileSync(errorLog, 'utf8'); } catch { /* not yet */ }
    return `${output}${log}`;
  };
  const child = spawn(NGINX_BIN, ['-e', errorLog, '-p', dir, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => { output += String(c); });
  child.stderr!.on('data', (c) => { output += String(c); });
  await waitForPort(o.port, child, logs);
  return { port: o.port, origin: `http://localhost:${o.port}`, logs, close: () => stop(child, 'SIGQUIT') };
}

/** Caddy (`caddy run`) with a global block for tests (admin off, storage in `dir`) before examples/caddy/Caddyfile. */
export async function startCaddy(o: { dir: string; port: number; gatehouse: string; app: string }): Promise<RealProxy> {
  const dir = join(o.dir, 'caddy');
  mkdirSync(dir, { recursive: true });
  const global = [
    '{',
    '  admin off',
    '  auto_https off',
    `  storage file_system ${join(dir, 'storage')}`,
    '}',
    '',
  ].join('\n');
  const caddyfile = join(dir, 'Caddyfile');
  writeFileSync(caddyfile, global + exampleFile('caddy', 'Caddyfile'));
  let output = '';
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    // The snippet's environment placeholders ({$NAME}).
    GATEHOUSE_SITE: `http://localhost:${o.port}`,
    GATEHOUSE_BIND: '127.0.0.1',
    GATEHOUSE_ADDR: o.gatehouse,
    GATEHOUSE_APP: o.app,
  };
  const child = spawn(CADDY_BIN, ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => { output += String(c); });
  child.stderr!.on('data', (c) => { output += String(c); });
  await waitForPort(o.port, child, () => output);
  return { port: o.port, origin: `http://localhost:${o.port}`, logs: () => output, close: () => stop(child, 'SIGTERM') };
}
