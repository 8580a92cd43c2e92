// The webhook notifier against a real node:http receiver on loopback.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { openNotifier } from '../../src/identity/notifier.ts';
import { checkBodyTemplate, renderBodyTemplate } from '../../src/identity/notifier-webhook.ts';

interface Hit { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }

async function receiver(t: { teardown(fn: () => unknown): unknown }, answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => { s.statusCode = 204; s.end(); }) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/sms`, hits };
}

const TEMPLATE = '{"phone": "{{to}}", "message": "{{text}}", "title": "{{ subject }}", "type": "{{kind}}", "static": 1}';

t.test('POSTs the rendered JSON with the configured headers', async (t) => {
  const rx = await receiver(t);
  const n = openNotifier({ kind: 'webhook', url: rx.url, headers: { Authorization: 'Bearer s3cret', 'X-Tenant': 'acme' }, body_template: TEMPLATE });
  await n.send({ to: '+15551234567', subject: 'Code', text: 'Your code is 123456.', kind: 'one_time_code' });
  t.equal(rx.hits.length, 1);
  const [hit] = rx.hits;
  t.equal(hit.method, 'POST');
  t.equal(hit.url, '/hooks/sms');
  t.equal(hit.headers['content-type'], 'application/json');
  t.equal(hit.headers.authorization, 'Bearer s3cret');
  t.equal(hit.headers['x-tenant'], 'acme');
  t.same(JSON.parse(hit.body), { phone: '+15551234567', message: 'Your code is 123456.', title: 'Code', type: 'one_time_code', static: 1 });
});

t.test('a hostile message cannot break the JSON', async (t) => {
  const rx = await receiver(t);
  const n = openNotifier({ kind: 'webhook', url: rx.url, headers: {}, body_template: TEMPLATE });
  const hostile = {
    to: '+1555", "admin": true, "x": "',
    subject: 'Sub}}ject {{to}}',
    text: 'line1\nline2\r\n"quoted" \\ back\\slash \u0000 \u2028 </script> {{kind}} \t end',
    kind: 'k"ind',
  };
  await n.send(hostile);
  const body = JSON.parse(rx.hits[0].body);
  t.same(body, { phone: hostile.to, message: hostile.text, title: hostile.subject, type: hostile.kind, static: 1 }, 'every value arrives exactly as sent');
  t.notOk('admin' in body, 'no injected key');
});

t.test('a custom content-type header wins; non-2xx answers reject with the status', async (t) => {
  let status = 200;
  const rx = await receiver(t, (_req, res) => { res.statusCode = status; res.end(status >= 300 ? 'quota exceeded' : 'ok'); });
  const n = openNotifier({ kind: 'webhook', url: rx.url, headers: { 'Content-Type': 'application/vnd.sms+json' }, body_template: TEMPLATE });
  const m = { to: 'a', subject: 'b', text: 'c', kind: 'd' };
  await n.send(m);
  t.equal(rx.hits[0].headers['content-type'], 'application/vnd.sms+json');
  status = 429;
  await t.rejects(n.send(m), /HTTP 429: quota exceeded/);
  status = 500;
  await t.rejects(n.send(m), /HTTP 500/);
  status = 302;
  await t.rejects(n.send(m), /HTTP 302/, 'a redirect is not a delivery');
});

t.test('a receiver that never answers times out after about 5 s', async (t) => {
  const rx = await receiver(t, () => { /* hold the request open */ });
  const n = openNotifier({ kind: 'webhook', url: rx.url, headers: {}, body_template: TEMPLATE });
  const started = Date.now();
  await t.rejects(n.send({ to: 'a', subject: 'b', text: 'c', kind: 'd' }));
  const took = Date.now() - started;
  t.ok(took >= 4500 && took < 8000, `gave up after ${took} ms`);
});

t.test('connection refused rejects', async (t) => {
  const n = openNotifier({ kind: 'webhook', url: 'http://127.0.0.1:1/x', headers: {}, body_template: TEMPLATE });
  await t.rejects(n.send({ to: 'a', subject: 'b', text: 'c', kind: 'd' }), /ECONNREFUSED|connect/);
});

t.test('templates are checked when the notifier opens', async (t) => {
  const open = (body_template: string, url = 'http://127.0.0.1:9/') => openNotifier({ kind: 'webhook', url, headers: {}, body_template });
  t.throws(() => open('{"m": "{{message}}"}'), /unknown placeholder \{\{message\}\}/);
  t.throws(() => open('{"m": {{text}}}'), /not JSON once filled in/, 'placeholder outside a string');
  t.throws(() => open('{"m": "{{text}}"'), /not JSON/);
  t.throws(() => open(''), /body_template is required/);
  t.throws(() => open(TEMPLATE, 'ftp://example.com/'), /http:\/\/ or https:\/\//);
  t.doesNotThrow(() => checkBodyTemplate('{"nested": {"list": ["{{to}}", "{{text}}"]}}'));
  t.equal(renderBodyTemplate('"{{text}}"', { to: '', subject: '', kind: '', text: 'a"b\nc' }), '"a\\"b\\nc"');
});
