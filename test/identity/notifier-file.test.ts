import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createFileNotifier } from '../../src/identity/notifier-file.ts';
import { openNotifier } from '../../src/identity/notifier.ts';

const msg = { to: 'alice@example.com', subject: 'Hello', text: 'Line one\nLine "two"', kind: 'test', data: { secret: 'not written' } };

t.test('one JSON line per message, in order, directories created', async (t) => {
  const path = join(t.testdir(), 'a', 'b', 'outbox.log');
  const n = openNotifier({ kind: 'file', path });
  await Promise.all(Array.from({ length: 20 }, (_, i) => n.send({ ...msg, subject: `m${i}` })));
  const lines = readFileSync(path, 'utf8').split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.length, 20);
  const parsed = lines.map((l) => JSON.parse(l));
  t.same(parsed.map((p) => p.subject), Array.from({ length: 20 }, (_, i) => `m${i}`), 'kept in send order');
  t.same(Object.keys(parsed[0]).sort(), ['kind', 'subject', 'text', 'to', 'ts']);
  t.equal(parsed[0].text, 'Line one\nLine "two"');
  t.ok(!Number.isNaN(Date.parse(parsed[0].ts)));
  t.equal(statSync(path).mode & 0o077, 0, 'outbox readable by the owner only');
});

t.test('injected clock; appends to an existing file', async (t) => {
  const path = join(t.testdir(), 'outbox.log');
  writeFileSync(path, '{"earlier":true}\n');
  await createFileNotifier({ path }, () => Date.UTC(2026, 0, 2)).send(msg);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  t.equal(lines.length, 2);
  t.equal(JSON.parse(lines[1]).ts, '2026-01-02T00:00:00.000Z');
});

t.test('bad messages are refused and write nothing; later sends still work', async (t) => {
  const path = join(t.testdir(), 'outbox.log');
  const n = openNotifier({ kind: 'file', path });
  await t.rejects(n.send({ ...msg, to: 'a@example.com\nBcc: evil@example.com' }), /line break/);
  await t.rejects(n.send({ ...msg, text: '' }), /text is required/);
  await t.rejects(n.send({ ...msg, to: undefined as unknown as string }), /to is required/);
  await n.send(msg);
  t.equal(readFileSync(path, 'utf8').trim().split('\n').length, 1);
  t.throws(() => openNotifier({ kind: 'file', path: '' }), /path is required/);
  t.throws(() => openNotifier({ kind: 'pigeon' } as never), /unknown notifier kind/);
});
