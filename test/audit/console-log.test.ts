// The console log: readable text lines at a terminal, JSON lines otherwise.
// The formatter as a table, then the real `gatehouse serve` under a pseudo
// terminal (util-linux `script`) and through a pipe.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { consoleLogDestination, formatLogLine } from '../../src/audit/console-log.ts';

const TIME = Date.parse('2026-11-22T12:34:56.789Z');

t.test('formatLogLine: time, level, message, then key=value', async (t) => {
  t.equal(
    formatLogLine(JSON.stringify({ level: 30, time: TIME, svc: 'gatehouse', req_id: 'r1', method: 'GET', path: '/billing/pay', status: 302, user: 'alice', reason: 'step-up needed', msg: 'request' })),
    '12:34:56.789 INFO  request req_id=r1 method=GET path=/billing/pay status=302 user=alice reason="step-up needed"',
  );
  t.equal(formatLogLine(JSON.stringify({ level: 40, time: TIME, msg: 'passkeys off', upgrade: undefined, route: null })), '12:34:56.789 WARN  passkeys off', 'absent fields are left out');
  t.equal(formatLogLine(JSON.stringify({ level: 50, time: TIME, msg: 'x' }), { colour: true }), '12:34:56.789 \x1b[31mERROR\x1b[0m x');
  t.match(formatLogLine(JSON.stringify({ level: 50, time: TIME, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (a.ts:1:1)' }, msg: 'failed' })), /failed err=\n {4}Error: boom\n {8}at f/);
  t.equal(formatLogLine('not json'), 'not json', 'a line that is not JSON passes through');
  let out = '';
  consoleLogDestination({ write: (s: string) => { out += s; } }).write(`${JSON.stringify({ level: 30, time: TIME, msg: 'a' })}\n${JSON.stringify({ level: 30, time: TIME, msg: 'b' })}\n`);
  t.equal(out, '12:34:56.789 INFO  a\n12:34:56.789 INFO  b\n', 'a batch of lines (the request log) stays one line each');
});

/** Runs `gatehouse serve` until its "listening" line, returns what it printed. */
function serveUntilListening(command: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { detached: true, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    const timer = setTimeout(() => { stop(); fail(new Error(`no listening line in: ${out}`)); }, 30_000);
    const stop = () => { clearTimeout(timer); try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ } };
    child.stdout.on('data', (d) => {
      out += d;
      if (/gatehouse listening/.test(out) && out.endsWith('\n')) { stop(); done(out); }
    });
  });
}

t.test('gatehouse serve: text at a terminal, JSON through a pipe', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-console-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'g.yaml');
  writeFileSync(config, `server: { listen: 127.0.0.1:0 }
routes: [{ path: /, upstream: "http://127.0.0.1:9" }]
identity: { source: file, file: { path: ${resolve('test/fixtures/config/users.yaml')} } }
session: { secret: console-log-test-session-secret-0123456789ab }
factors: { encryption_key: console-log-test-encryption-key-0123456789 }
audit: { path: ${join(dir, 'audit.log')}, key: console-log-test-audit-key-0123456789abcd }
store: { kind: sqlite, path: ${join(dir, 'g.db')} }
notifier: { kind: file, path: ${join(dir, 'outbox.log')} }
`);
  const node = resolve('node_modules/.bin/node');
  const cli = [resolve('bin/gatehouse.js'), 'serve', '--config', config];

  const piped = await serveUntilListening(node, cli);
  const first = piped.split('\n').find((l) => l.includes('gatehouse listening'))!;
  t.match(JSON.parse(first), { level: 30, msg: 'gatehouse listening', listen: '127.0.0.1:0' }, 'a pipe gets JSON lines');

  if (!existsSync('/usr/bin/script')) {
    if (process.env.CI === 'true') t.fail('util-linux script is needed for the terminal case');
    else t.test('terminal case', { skip: 'SKIPPED: /usr/bin/script (util-linux) is not installed' }, () => {});
    return;
  }
  const quoted = cli.map((a) => `'${a}'`).join(' ');
  const tty = await serveUntilListening('/usr/bin/script', ['-qec', `'${node}' ${quoted}`, '/dev/null']);
  const line = tty.split(/\r?\n/).find((l) => l.includes('gatehouse listening'))!;
  t.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO  gatehouse listening listen=127\.0\.0\.1:0 port=\d+ public_url=http:\/\/localhost:8080\r?$/, 'a terminal gets a text line');
  t.notMatch(tty, /"level":/, 'no JSON at the terminal');
});
