// A minimal, fast upstream for the benchmark: every request gets the same ~1 KB
// HTML page. It runs in its own process so the gateway and the load generator
// do not share its event loop.
//
// Run: node bench/upstream.ts [--port 0] [--host 127.0.0.1]
// Prints one JSON line {"port":N} on stdout once it listens.

import http from 'node:http';
import { parseArgs } from 'node:util';

const ROWS = Array.from({ length: 16 }, (_, i) => `<tr><td>${1000 + i}</td><td>Account ${i}</td><td>${(i * 137.5).toFixed(2)}</td></tr>`).join('\n');
export const BENCH_PAGE: Buffer = Buffer.from(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Bench upstream</title></head>
<body><h1>Accounts</h1>
<table>
${ROWS}
</table>
</body></html>
`);

export function startBenchUpstream(port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume(); // ignore any body
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': BENCH_PAGE.length });
    res.end(BENCH_PAGE);
  });
  server.keepAliveTimeout = 60_000; // keep pooled connections from the gateway alive across a whole run
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
  const server = await startBenchUpstream(Number(values.port), values.host);
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
