// The gateway's own header names entered into undici's table of known names
// (src/proxy/undici-header-names.ts): the request an upstream receives is byte
// for byte what it was, undici still checks every value, and what is not a
// header name is never entered (undici keeps refusing it).

import http from 'node:http';
import { once } from 'node:events';
import t from 'tap';
import { Client } from 'undici';
import { makeKnownToUndici } from '../../src/proxy/undici-header-names.ts';

async function rawRequestHead(headers: string[]): Promise<string> {
  let head = '';
  const server = http.createServer((req, res) => {
    const lines = [`${req.method} ${req.url}`];
    // The host line names this test's port, different each time.
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i] !== 'host') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    head = lines.join('\n');
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new Client(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  try {
    const r = await client.request({ method: 'GET', path: '/x', headers });
    await r.body.text();
  } finally {
    await client.close();
    server.close();
  }
  return head;
}

const names = ['X-Probe-User', 'x-probe-request-id', 'Remote-Probe'];
const headers = ['X-Probe-User', 'alice', 'x-probe-request-id', 'r-1', 'Remote-Probe', 'a b'];

t.test('an upstream receives the same request head before and after the names are entered', async (t) => {
  const before = await rawRequestHead(headers);
  t.match(before, /X-Probe-User: alice/);
  t.equal(makeKnownToUndici(names), 5, 'each name as written and in lower case (one is both)');
  t.equal(makeKnownToUndici(names), 0, 'entering them again adds nothing');
  t.equal(await rawRequestHead(headers), before, 'names keep their case, values and order');
});

t.test('undici still checks every value of an entered name', async (t) => {
  makeKnownToUndici(['X-Probe-Checked']);
  for (const value of ['a\r\nInjected: 1', 'a\nb', 'a\0b']) {
    await t.rejects(rawRequestHead(['X-Probe-Checked', value]), { code: 'UND_ERR_INVALID_ARG' }, JSON.stringify(value));
  }
});

t.test('what is not a header name is not entered, and undici keeps refusing it', async (t) => {
  for (const bad of ['Bad Name', 'x:y', '', 'naïve', 'a\r\nb']) {
    t.equal(makeKnownToUndici([bad]), 0, JSON.stringify(bad));
    await t.rejects(rawRequestHead([bad, 'v']), { code: 'UND_ERR_INVALID_ARG' }, `${JSON.stringify(bad)} refused`);
  }
});
