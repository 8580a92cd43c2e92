// The decision log's batching (audit/request-log.ts): every line leaves whole,
// and with a write limit (workers sharing one stdout) no write is larger than a
// pipe writes in one piece, so two workers' lines never interleave mid-line.

import t from 'tap';
import pino from 'pino';
import { createRequestLog, PIPE_BUF } from '../../src/audit/request-log.ts';

const line = (i: number) => ({
  req_id: `w1-${i}`, ip: '192.0.2.1', method: 'GET', path: `/accounts/${i}/statement`, route: 'app', user: 'alice',
  rule: 'default', decision: 'allow', reason: 'signed in', status: 200, bytes: 1024, ms: 1.25,
});

function capture(maxWriteBytes?: number) {
  const writes: string[] = [];
  const dest = { write: (s: string) => { writes.push(s); } };
  const log = pino({ level: 'info' }, dest);
  return { writes, requests: createRequestLog(log, dest, 'gatehouse', maxWriteBytes) };
}

t.test('with a write limit: writes of whole lines, none larger than PIPE_BUF', async (t) => {
  const { writes, requests } = capture(PIPE_BUF);
  for (let i = 0; i < 300; i++) requests.write(line(i));
  requests.flush();
  t.ok(writes.length > 1, `several writes (${writes.length})`);
  for (const w of writes) {
    t.ok(Buffer.byteLength(w) <= PIPE_BUF, `a write of ${Buffer.byteLength(w)} bytes`);
    t.ok(w.endsWith('\n'), 'ends at a line end');
  }
  const lines = writes.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as { req_id: string; msg: string });
  t.same(lines.map((l) => l.req_id), Array.from({ length: 300 }, (_, i) => `w1-${i}`), 'every line, once, in order');
});

t.test('without a limit: one write per 256 lines', async (t) => {
  const { writes, requests } = capture();
  for (let i = 0; i < 300; i++) requests.write(line(i));
  requests.flush();
  t.same(writes.map((w) => w.trimEnd().split('\n').length), [256, 44]);
});
