// The SMTP notifier against a real SMTP listener (smtp-server) on a loopback
// port: the message is received over the wire and the code read back from it.

import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import t from 'tap';
import { createOneTimeCodes } from '../../src/factors/one-time-code.ts';
import { openNotifier } from '../../src/identity/notifier.ts';
import { parseSmtpUrl } from '../../src/identity/notifier-smtp.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';

interface Received { from: string; to: string[]; raw: string; user?: string }

async function smtpListener(t: { teardown(fn: () => unknown): unknown }, opts: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
        });
        callback();
      });
    },
    ...opts,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

/** The plain-text body of a simple message, quoted-printable decoded. */
function bodyOf(raw: string): string {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(head)) return body;
  const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

t.test('delivers a one-time code over SMTP; the received code verifies', async (t) => {
  const smtp = await smtpListener(t);
  const notifier = openNotifier({ kind: 'smtp', url: `smtp://127.0.0.1:${smtp.port}`, from: 'Example Portal <noreply@example.com>' });
  t.teardown(() => notifier.close?.());
  const shared = createMemorySharedState();
  t.teardown(() => shared.close());
  const codes = createOneTimeCodes({ shared, notifier, kind: 'email', ttlMs: 600_000, length: 6, product: 'Example Portal' });

  t.ok((await codes.send({ id: 'alice', email: 'alice@example.com' })).ok);
  t.equal(smtp.received.length, 1);
  const mail = smtp.received[0];
  t.equal(mail.from, 'noreply@example.com');
  t.same(mail.to, ['alice@example.com']);
  t.match(mail.raw, /^Subject: Your Example Portal sign-in code\r$/m);
  t.match(mail.raw, /^From: Example Portal <noreply@example\.com>\r$/m);
  const body = bodyOf(mail.raw);
  const m = /sign-in code is (\d{6})\. It expires in 10 minutes\./.exec(body);
  t.ok(m, 'code found in the received body');
  t.ok((await codes.verify('alice', m![1])).ok, 'and it verifies');
});

t.test('authenticates with the credentials in the URL', async (t) => {
  const seen: Array<{ username?: string; password?: string }> = [];
  const smtp = await smtpListener(t, {
    authOptional: false,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      seen.push({ username: auth.username, password: auth.password ?? undefined });
      if (auth.username === 'mailer' && auth.password === 'p@ss:word/1') return callback(null, { user: 'mailer' });
      return callback(new Error('bad credentials'));
    },
  });
  const good = openNotifier({ kind: 'smtp', url: `smtp://mailer:${encodeURIComponent('p@ss:word/1')}@127.0.0.1:${smtp.port}`, from: 'noreply@example.com' });
  t.teardown(() => good.close?.());
  await good.send({ to: 'bob@example.com', subject: 'Hi', text: 'A factor was added.', kind: 'factor_added' });
  t.equal(smtp.received.length, 1);
  t.equal(smtp.received[0].user, 'mailer');
  t.same(seen[0], { username: 'mailer', password: 'p@ss:word/1' }, 'password percent-decoded');
  t.match(bodyOf(smtp.received[0].raw), /A factor was added\./);

  const bad = openNotifier({ kind: 'smtp', url: `smtp://mailer:wrong@127.0.0.1:${smtp.port}`, from: 'noreply@example.com' });
  t.teardown(() => bad.close?.());
  await t.rejects(bad.send({ to: 'bob@example.com', subject: 'Hi', text: 'x', kind: 'k' }), 'wrong password rejects');
  t.equal(smtp.received.length, 1, 'nothing delivered');
});

t.test('a refused recipient and an unreachable server reject the send', async (t) => {
  const smtp = await smtpListener(t, {
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@blocked.example')) return callback(new Error('no such user'));
      return callback();
    },
  });
  const n = openNotifier({ kind: 'smtp', url: `smtp://127.0.0.1:${smtp.port}`, from: 'noreply@example.com' });
  t.teardown(() => n.close?.());
  await t.rejects(n.send({ to: 'x@blocked.example', subject: 's', text: 't', kind: 'k' }), /no such user/);
  const closed = openNotifier({ kind: 'smtp', url: 'smtp://127.0.0.1:1', from: 'noreply@example.com' });
  await t.rejects(closed.send({ to: 'a@example.com', subject: 's', text: 't', kind: 'k' }), /ECONNREFUSED/);
  await t.rejects(n.send({ to: 'a@example.com\r\nBcc: evil@example.com', subject: 's', text: 't', kind: 'k' }), /line break/);
});

t.test('parseSmtpUrl table', async (t) => {
  t.same(parseSmtpUrl('smtp://mail.example.com:2525'), { host: 'mail.example.com', secure: false, port: 2525 });
  t.same(parseSmtpUrl('smtps://u:p%20w@mail.example.com'), { host: 'mail.example.com', secure: true, auth: { user: 'u', pass: 'p w' } });
  t.same(parseSmtpUrl('smtp://[::1]:25'), { host: '::1', secure: false, port: 25 });
  t.throws(() => parseSmtpUrl('http://mail.example.com'), /smtp:\/\/ or smtps:\/\//);
  t.throws(() => parseSmtpUrl('not a url'), /not a URL/);
  t.throws(() => openNotifier({ kind: 'smtp', url: 'smtp://mail.example.com', from: '' }), /from is required/);
});
