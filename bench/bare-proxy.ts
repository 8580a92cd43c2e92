// The Node floor for a reverse proxy: node:http in, undici Pool.dispatch out,
// no policy, no headers added. `npm run bench` runs it beside the gateway so
// the gateway's cost is read as a ratio to what any Node proxy pays.
//
// `--workers N|auto` runs it under node:cluster, N processes sharing the listener
// (auto: one per core), as `server.workers` runs the gateway: the Node floor for
// that check.
//
// Run: node bench/bare-proxy.ts --upstream http://127.0.0.1:PORT [--port 0] [--workers N|auto]
// Prints one JSON line {"port":N} on stdout once it (every worker) listens.

import cluster from 'node:cluster';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export function startBareProxy(upstream: string, port: number): Promise<http.Server> {
  const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
  const server = http.createServer((req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!HOP.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_controller, status, resHeaders) {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(resHeaders)) if (v !== undefined && !HOP.has(k)) out[k] = v;
        res.writeHead(status, out);
      },
      onResponseData(_controller, chunk) { res.write(chunk); },
      onResponseEnd() { res.end(); },
      onResponseError(_controller, err) {
        if (!res.headersSent) res.writeHead(502).end(String(err.message));
        else res.destroy();
      },
    };
    pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, handler);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' }, workers: { type: 'string', default: '1' } } });
  if (!values.upstream) throw new Error('--upstream URL is required');
  const workers = values.workers === 'auto' ? availableParallelism() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: a whole number or auto, got ${values.workers}`);
  const announce = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`);
  if (workers > 1 && cluster.isPrimary) {
    // Workers that listen on port 0 under cluster share the one port the primary picks.
    let listening = 0;
    for (let i = 0; i < workers; i++) {
      cluster.fork().on('listening', (address) => {
        if (++listening === workers) announce(address.port);
      });
    }
    const stop = () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.kill();
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } else {
    const server = await startBareProxy(values.upstream, Number(values.port));
    const address = server.address();
    if (workers === 1) announce(typeof address === 'object' && address !== null ? address.port : 0);
    const stop = () => server.close(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
}
