// The scale-out scenario: two gateway processes sharing PostgreSQL and Redis
// behind nginx round-robin, with a signed-in session. Compared with one
// instance on embedded state per gateway CPU-second, and with the Redis
// commands each request costs (goal: zero on the warm path).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  baseGatewayConfig, freePort, mergeConfig, signInCookie, startGateway, stopChild, tail, track,
  type Scenario,
} from './harness.ts';
import { nginxPrelude } from './peers.ts';

const NGINX = '/usr/sbin/nginx';
export const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function nginxRoundRobinConf(dir: string, listenPort: number, backends: number[]): string {
  return `${nginxPrelude(dir, 1)}  upstream gatehouse { ${backends.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 64; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://gatehouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`;
}

export function twoInstancesScenario(name: string): Scenario {
  return {
    name,
    start: async (ctx) => {
      if (!existsSync(NGINX)) throw new Error('nginx is not installed (apt-get install nginx)');
      const id = randomBytes(4).toString('hex');
      const schema = `gh_bench_${id}`;
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const storeUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const lbPort = await freePort();
      const shared = {
        store: { kind: 'postgres', url: storeUrl },
        shared_state: { kind: 'redis', url: REDIS_URL, prefix: `gh-bench-${id}:` },
        session: { secret: randomBytes(32).toString('base64url') },
        factors: { encryption_key: randomBytes(32).toString('base64url') },
        audit: { key: randomBytes(32).toString('base64url') },
        policy: { default: 'login' },
      };
      const gateways: Array<{ port: number; url: string; pid: number; stop(): Promise<void> }> = [];
      for (const n of [1, 2]) {
        const port = await freePort();
        const dir = join(ctx.tmpDir, `two-instances-${n}`);
        const config = mergeConfig(mergeConfig(baseGatewayConfig({ port, upstreamUrl: ctx.upstreamUrl, dir }), shared),
          { server: { public_url: `http://localhost:${lbPort}` } });
        config.store = shared.store;   // replace, not merge: no sqlite path left behind
        gateways.push({ port, ...(await startGateway(config, dir, port)) });
      }
      const dir = join(ctx.tmpDir, 'nginx');
      await mkdir(dir, { recursive: true });
      const conf = join(dir, 'nginx.conf');
      await writeFile(conf, nginxRoundRobinConf(dir, lbPort, gateways.map((g) => g.port)));
      const log = openSync(join(dir, 'nginx.out'), 'w');
      const nginx = track(spawn(NGINX, ['-g', 'daemon off;', '-p', dir, '-c', conf], { stdio: ['ignore', log, log] }));
      closeSync(log);
      const url = `http://127.0.0.1:${lbPort}`;
      const stop = async () => {
        await stopChild(nginx);
        await Promise.all(gateways.map((g) => g.stop()));
        const c = new pg.Client({ connectionString: POSTGRES_URL });
        await c.connect();
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
        await c.end();
      };
      try {
        for (let i = 0; ; i++) {
          try {
            const r = await fetch(`${url}/.gatehouse/healthz`);
            if (r.status === 200) break;
          } catch { /* not up yet */ }
          if (i > 100) throw new Error(`nginx did not come up:\n${tail(join(dir, 'nginx-error.log'))}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const headers = await signInCookie(url);
        return { url: `${url}/`, headers, stop, pids: gateways.map((g) => g.pid), redisUrl: REDIS_URL };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}
