// The peers the gateway is measured against in the same run: Debian's nginx as
// a reverse proxy (worker_processes auto, keep-alive to the upstream) and the
// bare undici proxy (bench/bare-proxy.ts), the floor for any Node proxy.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnListening, stopChild, tail, track, type Scenario } from './harness.ts';

const NGINX = '/usr/sbin/nginx';

/** Pure: the top of an nginx config that keeps every file it writes in `dir` (run as an unprivileged test server). */
export function nginxPrelude(dir: string, workers: 'auto' | number): string {
  return `worker_processes ${workers};
error_log ${join(dir, 'nginx-error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
`;
}

/** Pure: an nginx reverse proxy in front of `upstreamUrl`, the way an operator tunes one for speed. */
export function nginxProxyConf(dir: string, listenPort: number, upstreamUrl: string): string {
  const upstream = new URL(upstreamUrl);
  return `${nginxPrelude(dir, 'auto')}  upstream app { server ${upstream.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${listenPort};
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`;
}

export const nginxScenario: Scenario = {
  name: 'nginx reverse proxy (workers auto)',
  peer: 'nginx',
  start: async (ctx) => {
    if (!existsSync(NGINX)) throw new Error('nginx is not installed (apt-get install nginx)');
    const dir = join(ctx.tmpDir, 'nginx-peer');
    await mkdir(dir, { recursive: true });
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    await writeFile(conf, nginxProxyConf(dir, port, ctx.upstreamUrl));
    const log = openSync(join(dir, 'nginx.out'), 'w');
    const nginx = track(spawn(NGINX, ['-g', 'daemon off;', '-p', dir, '-c', conf], { stdio: ['ignore', log, log] }));
    closeSync(log);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${url}/`);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch { /* not up yet */ }
      if (i > 100) {
        await stopChild(nginx);
        throw new Error(`nginx did not come up:\n${tail(join(dir, 'nginx-error.log'))}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url: `${url}/`, pids: [nginx.pid!], stop: () => stopChild(nginx) };
  },
};

export const bareProxyScenario: Scenario = {
  name: 'bare undici proxy (Node floor)',
  peer: 'node floor',
  start: async (ctx) => {
    const proxy = await spawnListening([join(import.meta.dirname, 'bare-proxy.ts'), '--port', '0', '--upstream', ctx.upstreamUrl]);
    return { url: `http://127.0.0.1:${proxy.port}/`, pids: [proxy.pid], stop: proxy.stop };
  },
};

/** The bare proxy under node:cluster with one worker per core: the Node floor for `server.workers: auto`. */
export const bareProxyWorkersScenario: Scenario = {
  name: 'bare undici proxy, workers auto (node:cluster)',
  peer: 'node floor, workers',
  start: async (ctx) => {
    const proxy = await spawnListening([join(import.meta.dirname, 'bare-proxy.ts'), '--port', '0', '--workers', 'auto', '--upstream', ctx.upstreamUrl]);
    return { url: `http://127.0.0.1:${proxy.port}/`, pids: [proxy.pid], stop: proxy.stop };
  },
};
