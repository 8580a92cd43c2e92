import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startTestGateway, Client } from '../helpers/gateway.ts';

function oathtool(secret: string, offsetSteps = 0): string {
  const now = new Date(Date.now() + offsetSteps * 30_000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return execFileSync('oathtool', ['--totp', '-b', '--now', now, secret.replace(/\s+/g, '')]).toString().trim();
}

t.test('first sign-in enrolls TOTP, gets recovery codes, then reaches the upstream', async (t) => {
  const f = await startTestGateway({ config: { policy: { default: 'mfa' }, rollout: { grace_until: '2099-12-31' } } });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  await c.signIn('alice', 'alice-test-pass', '/echo');
  let r = await c.fetch('/echo');
  t.equal(r.status, 302);
  t.match(r.headers.get('location'), /^\/\.gatehouse\/enroll\?rd=%2Fecho/);
  r = await c.fetch('/.gatehouse/enroll?rd=%2Fecho');
  const pick = await r.text();
  t.match(pick, /Step 1 of 3/);
  t.match(pick, /Set up later/);
  r = await c.fetch('/.gatehouse/enroll?rd=%2Fecho&method=totp');
  const html = await r.text();
  t.equal(r.status, 200);
  const secret = /<code>([A-Z2-7 ]{16,})<\/code>/.exec(html)?.[1];
  t.ok(secret, 'secret shown as text');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
  r = await c.postForm('/.gatehouse/enroll', { csrf, rd: '/echo', action: 'totp', code: oathtool(secret!) });
  t.equal(r.status, 303);
  t.match(r.headers.get('location'), /step=recovery/);
  r = await c.fetch(r.headers.get('location')!);
  const rec = await r.text();
  const codes = [...rec.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  t.equal(codes.length, 10, 'ten recovery codes');
  r = await c.fetch('/echo', { headers: { accept: 'application/json' } });
  t.equal(r.status, 200);
  const body = await r.json() as { headers: Record<string, string> };
  t.equal(body.headers['x-gatehouse-user'], 'alice');
  t.match(body.headers['x-gatehouse-auth-methods'], /pwd otp/);

  // sign out, sign in again, challenged with TOTP
  const c2 = new Client(f.url);
  await c2.signIn('alice', 'alice-test-pass', '/echo');
  r = await c2.fetch('/echo');
  t.match(r.headers.get('location'), /^\/\.gatehouse\/challenge/);
  r = await c2.fetch(r.headers.get('location')!);
  const ch = await r.text();
  t.match(ch, /authenticator app/);
  const csrf2 = /name="csrf" value="([^"]+)"/.exec(ch)![1];
  const code = oathtool(secret!, 1);
  r = await c2.postForm('/.gatehouse/challenge', { csrf: csrf2, rd: '/echo', method: 'totp', code });
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/echo');
  // the same code again is refused (replay) on a third session
  const c3 = new Client(f.url);
  await c3.signIn('alice', 'alice-test-pass', '/echo');
  const csrf3 = await c3.csrf('/.gatehouse/challenge?rd=%2Fecho&method=totp');
  r = await c3.postForm('/.gatehouse/challenge', { csrf: csrf3, rd: '/echo', method: 'totp', code });
  t.equal(r.status, 401, 'replayed code refused');
  t.match(await r.text(), /already used/);
  // recovery code works once
  r = await c3.postForm('/.gatehouse/challenge', { csrf: csrf3, rd: '/echo', method: 'recovery', code: codes[0] });
  t.equal(r.status, 303, 'recovery code accepted');
});
