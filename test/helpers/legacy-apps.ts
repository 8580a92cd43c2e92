// Real legacy PHP apps from Debian's packages (DokuWiki, phpMyAdmin) on
// php-fpm + nginx, each started from its own temp dir: own pool socket, pid
// files, logs and config copies; never the system services. nginx takes a
// listening socket the test process bound on port 0 (inherited through the
// NGINX environment variable), so no port is ever guessed. Both daemons run
// in the foreground as children of the test and are stopped by their PIDs.
//
// Skips: `legacyAppsMissing()` names what is not installed; tests skip loudly
// with it, except under CI=true where they must run.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from './gateway.ts';

const PHP_FPM = ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm'].find((p) => existsSync(p));
const NGINX = '/usr/sbin/nginx';

export interface PhpSite {
  origin: string;
  port: number;
  dir: string;
  /** PIDs of the php-fpm and nginx masters this helper started. */
  pids: number[];
  /** php-fpm's and nginx's error logs, for a failing test's diagnostics. */
  logs(): string;
  close(): Promise<void>;
}

/** What is missing to run the real legacy apps, or null when all is there. */
export function legacyAppsMissing(app: 'dokuwiki' | 'phpmyadmin'): string | null {
  const need: [string, boolean][] = [
    ['php-fpm', PHP_FPM !== undefined],
    ['nginx', existsSync(NGINX)],
    [app, existsSync(app === 'dokuwiki' ? '/usr/share/dokuwiki/doku.php' : '/usr/share/phpmyadmin/index.php')],
  ];
  const missing = need.filter(([, ok]) => !ok).map(([n]) => n);
  return missing.length > 0 ? `not installed: ${missing.join(', ')} (apt-get install dokuwiki phpmyadmin php-fpm nginx)` : null;
}

function wwwData(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'www-data']).toString()), gid: Number(execFileSync('id', ['-g', 'www-data']).toString()) };
  } catch {
    return null;
  }
}

/** Gives a tree to the PHP workers' user (when running as root). */
export function giveToWorkers(path: string): void {
  const w = wwwData();
  if (w) execFileSync('chown', ['-R', `${w.uid}:${w.gid}`, path]);
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, child: ChildProcess[], logs: () => string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const dead = child.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`${what}: process ${dead.pid} exited (${dead.exitCode ?? dead.signalCode})\n${logs()}`);
    if (Date.now() > until) throw new Error(`${what}: not ready after ${timeoutMs} ms\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid!, signal);
  });
}

/**
 * php-fpm (one static pool, `prepend` as auto_prepend_file) and nginx serving
 * `root` with PHP through that pool. Returns once nginx answers.
 */
export async function startPhpSite(opts: { name: string; root: string; prepend: string; index: string; phpValues?: Record<string, string> }): Promise<PhpSite> {
  if (!PHP_FPM) throw new Error('php-fpm is not installed');
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${opts.name}-`));
  chmodSync(dir, 0o755);
  const prependFile = join(dir, 'prepend.php');
  writeFileSync(prependFile, opts.prepend);
  const sock = join(dir, 'php-fpm.sock');
  const asRoot = wwwData() !== null;
  const values = { auto_prepend_file: prependFile, error_log: join(dir, 'php-error.log'), display_errors: 'Off', log_errors: 'On', ...opts.phpValues };
  writeFileSync(join(dir, 'php-fpm.conf'), [
    '[global]', `pid = ${join(dir, 'php-fpm.pid')}`, `error_log = ${join(dir, 'php-fpm.log')}`, 'daemonize = no',
    '[site]',
    ...(asRoot ? ['user = www-data', 'group = www-data', 'listen.owner = www-data', 'listen.group = www-data'] : []),
    `listen = ${sock}`, 'listen.mode = 0660', 'pm = static', 'pm.max_children = 2', 'catch_workers_output = yes', 'clear_env = no',
    ...Object.entries(values).map(([k, v]) => `php_admin_value[${k}] = ${v}`),
  ].join('\n') + '\n');

  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  for (const t of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) mkdirSync(join(dir, `nginx-${t}`));
  writeFileSync(join(dir, 'nginx.conf'), `
daemon off; master_process on; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'nginx-error.log')} warn;
${asRoot ? 'user www-data;' : ''}
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${join(dir, 'nginx-body')}; fastcgi_temp_path ${join(dir, 'nginx-fastcgi')};
  proxy_temp_path ${join(dir, 'nginx-proxy')}; uwsgi_temp_path ${join(dir, 'nginx-uwsgi')}; scgi_temp_path ${join(dir, 'nginx-scgi')};
  client_max_body_size 10m;
  server {
    listen 127.0.0.1:${port};
    root ${opts.root};
    index ${opts.index};
    location ~ \\.php$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      # Debian's fastcgi_params send $host (no port): the apps would build links to port 80.
      fastcgi_param HTTP_HOST $http_host;
      fastcgi_pass unix:${sock};
    }
    location / { try_files $uri $uri/ =404; }
  }
}
`);
  const logs = () => ['php-fpm.log', 'php-error.log', 'nginx-error.log']
    .map((f) => { try { return `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-3000)}`; } catch { return ''; } }).join('\n');

  const fpm = spawn(PHP_FPM, ['--nodaemonize', '--fpm-config', join(dir, 'php-fpm.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  fpm.stderr!.resume();
  const children: ChildProcess[] = [fpm];
  const close = async () => {
    await Promise.all(children.map((c) => stop(c, 'SIGQUIT')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('php-fpm', () => existsSync(sock), children, logs);
    // nginx inherits the socket bound above (fd 3) instead of binding a guessed port.
    const ngx = spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')], {
      stdio: ['ignore', 'ignore', 'pipe', fd], env: { ...process.env, NGINX: '3;' },
    });
    ngx.stderr!.resume();
    children.push(ngx);
    server.close();
    await waitFor('nginx', async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
        await r.arrayBuffer();
        return true;
      } catch {
        return false;
      }
    }, children, logs);
  } catch (err) {
    server.close();
    await close();
    throw err;
  }
  return { origin: `http://127.0.0.1:${port}`, port, dir, pids: children.map((c) => c.pid!), logs, close };
}

// ------------------------------------------------------------------ DokuWiki

export interface WikiUser { password: string; groups?: string[]; name?: string }

/** bcrypt hashes (DokuWiki's authplain accepts PHP's password_hash). */
function phpPasswordHash(password: string): string {
  return execFileSync('php', ['-r', 'echo password_hash($argv[1], PASSWORD_BCRYPT, ["cost" => 4]);', '--', password]).toString();
}

/**
 * The Debian DokuWiki with its own writable copy of the config and data:
 * `users` in users.auth.php, ACL: anyone reads, signed-in users edit.
 */
export async function startDokuWiki(opts: { users: Record<string, WikiUser>; title?: string; basedir?: string }): Promise<PhpSite & { conf: string; data: string }> {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-dokuwiki-data-'));
  chmodSync(work, 0o755);
  const conf = join(work, 'conf');
  const data = join(work, 'data');
  cpSync('/etc/dokuwiki', conf, { recursive: true, dereference: true });
  cpSync('/var/lib/dokuwiki/data', data, { recursive: true, dereference: true });
  writeFileSync(join(conf, 'local.php'), `<?php
$conf['title'] = ${JSON.stringify(opts.title ?? 'Gatehouse test wiki')};
$conf['savedir'] = ${JSON.stringify(data)};
$conf['useacl'] = 1;
$conf['authtype'] = 'authplain';
$conf['superuser'] = '@admin';
$conf['userewrite'] = 0;
$conf['disableactions'] = 'register,resendpwd';
$conf['passcrypt'] = 'bcrypt';
$conf['updatecheck'] = 0;
$conf['usedraft'] = 0;
$conf['locktime'] = 0;
${opts.basedir !== undefined ? `$conf['basedir'] = ${JSON.stringify(opts.basedir)};
` : ''}`);
  writeFileSync(join(conf, 'users.auth.php'), Object.entries(opts.users)
    .map(([u, w]) => `${u}:${phpPasswordHash(w.password)}:${w.name ?? u}:${u}@example.com:${(w.groups ?? ['user']).join(',')}\n`).join(''));
  writeFileSync(join(conf, 'acl.auth.php'), '*\t@ALL\t1\n*\t@user\t8\n');
  giveToWorkers(work);
  const site = await startPhpSite({
    name: 'dokuwiki', root: '/usr/share/dokuwiki', index: 'doku.php',
    prepend: `<?php\nif (!defined('DOKU_CONF')) define('DOKU_CONF', ${JSON.stringify(conf + '/')});\nif (!defined('DOKU_MAIN_CONF')) define('DOKU_MAIN_CONF', ${JSON.stringify(conf + '/')});\n`,
  });
  return {
    ...site, conf, data,
    close: async () => {
      await site.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The text of a wiki page as DokuWiki stored it, or null. */
export function wikiPage(data: string, id: string): string | null {
  try {
    return readFileSync(join(data, 'pages', `${id.replace(/:/g, '/')}.txt`), 'utf8');
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- phpMyAdmin

/**
 * The Debian phpMyAdmin with cookie auth against MariaDB at `db` (default
 * 127.0.0.1:3306). Its vendor config is replaced through a ROOT_PATH of
 * symlinks defined before it loads, so the package stays untouched.
 */
export async function startPhpMyAdmin(opts: { db?: { host: string; port: number } } = {}): Promise<PhpSite> {
  const db = opts.db ?? { host: '127.0.0.1', port: 3306 };
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-phpmyadmin-root-'));
  chmodSync(work, 0o755);
  const root = join(work, 'pma');
  mkdirSync(join(root, 'libraries'), { recursive: true });
  for (const e of readdirSync('/usr/share/phpmyadmin')) if (e !== 'libraries') symlinkSync(join('/usr/share/phpmyadmin', e), join(root, e));
  for (const e of readdirSync('/usr/share/phpmyadmin/libraries')) if (e !== 'vendor_config.php') symlinkSync(join('/usr/share/phpmyadmin/libraries', e), join(root, 'libraries', e));
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const config = join(work, 'config.inc.php');
  writeFileSync(join(root, 'libraries', 'vendor_config.php'), readFileSync('/usr/share/phpmyadmin/libraries/vendor_config.php', 'utf8')
    .replace(/'tempDir' => '[^']*'/, `'tempDir' => ${JSON.stringify(tmp + '/').replace(/"/g, "'")}`)
    .replace(/'configFile' => '[^']*'/, `'configFile' => '${config}'`));
  writeFileSync(config, `<?php
$cfg['blowfish_secret'] = '${'k'.repeat(32)}';
$cfg['Servers'][1]['auth_type'] = 'cookie';
$cfg['Servers'][1]['host'] = '${db.host}';
$cfg['Servers'][1]['port'] = '${db.port}';
$cfg['Servers'][1]['connect_type'] = 'tcp';
$cfg['Servers'][1]['AllowNoPassword'] = true;
$cfg['TempDir'] = '${tmp}';
$cfg['VersionCheck'] = false;
$cfg['SendErrorReports'] = 'never';
`);
  giveToWorkers(tmp);
  const site = await startPhpSite({
    name: 'phpmyadmin', root: '/usr/share/phpmyadmin', index: 'index.php',
    prepend: `<?php\nif (!defined('ROOT_PATH')) define('ROOT_PATH', ${JSON.stringify(root + '/')});\n`,
  });
  return {
    ...site,
    close: async () => {
      await site.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}


/** An example config's routes and policy (the test keeps its own users): what the legacy-app guides ship. */
export function exampleRoutesAndPolicy(name: string, origin: string): Record<string, unknown> {
  const { identity: _ignored, ...rest } = exampleConfig(name, origin);
  return rest;
}

/**
 * The routes, identity and policy of an example config (config/examples/NAME),
 * its upstream replaced by `origin`: the tests run the README's configs as written.
 */
export function exampleConfig(name: string, origin: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(PROJECT_ROOT, 'config', 'examples', name), 'utf8')) as { routes: Record<string, unknown>[]; identity: unknown; policy: unknown };
  return { routes: doc.routes.map((r) => ({ ...r, upstream: origin })), identity: doc.identity, policy: doc.policy };
}
