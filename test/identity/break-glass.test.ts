// The break-glass account: refused while the backends are up, let in without a
// second factor when shared state is down (everyone else gets the 503 page),
// and every use audited.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startTestGateway, Client, portForDaemon, readAudit } from '../helpers/gateway.ts';
import { waitFor } from '../scale/instances.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';

const REDIS = '/usr/bin/redis-server';

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      const net = await import('node:net');
      await new Promise<void>((ok, no) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); ok(); }); s.on('error', no); });
      return child;
    } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  throw new Error('redis did not start');
}

t.test('break-glass sign-in', async (t) => {
  if (!existsSync(REDIS)) {
    if (process.env.CI === 'true') throw new Error('redis-server is required under CI');
    t.comment('SKIP: redis-server missing; install redis-server to run this test');
    return;
  }
  const redisPort = await portForDaemon();
  let redis = await startRedis(redisPort);
  t.teardown(() => { redis.kill('SIGKILL'); });
  const hash = await hashPassword('glass-emergency-pass');
  const f = await startTestGateway({
    config: {
      identity: { break_glass: { user: 'emergency', password: hash, groups: ['admins'] } },
      shared_state: { kind: 'redis', url: `redis://127.0.0.1:${redisPort}`, prefix: 'bg-test:' },
      policy: { default: 'mfa', rules: [{ id: 'forbidden', match: { path: '/admin/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());

  // Backends up: the emergency account is refused, and the answer is the same
  // whatever the password (no oracle to test it while the service is healthy).
  const answer = async (password: string) => {
    const r = await new Client(f.url).signIn('emergency', password, '/echo');
    return { status: r.status, page: (await r.text()).replace(/name="csrf" value="[^"]+"/, '').replace(/data-csrf="[^"]+"/, ''), cookie: r.headers.get('set-cookie') };
  };
  const right = await answer('glass-emergency-pass');
  const wrong = await answer('wrong-password-here');
  t.equal(right.status, 401, 'refused while the backends are up');
  t.same(right, wrong, 'the right and a wrong password get the very same answer');
  t.match(right.page, /Wrong username or password/, 'the answer any wrong password gets');
  const unknown = await answer('x');
  t.equal(unknown.status, 401);
  t.equal(await f.gw.services.shared.get('fail:pwd:u:emergency'), '3', 'the attempts count in the shared throttle');
  let r: Response;
  // A browser with alice's session (seen by this instance, so it is answered from its cache later).
  const bg = new Client(f.url);
  t.equal((await bg.signIn('alice', 'alice-test-pass', '/echo')).status, 303, 'alice signs in while all is well');
  const aliceCookie = bg.cookieHeader();
  // A signed-in browser reaches the sign-in form with its own session's CSRF token (a page it has open).
  const aliceCsrf = await bg.csrf('/.gatehouse/enroll?rd=%2F&method=totp');
  const asAlice = async () => (await new Client(f.url).fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors', cookie: aliceCookie } })).json() as Promise<{ error: string; challenge: string }>;
  t.match(await asAlice(), { error: 'mfa_required', challenge: 'enroll' }, 'her session is signed in (it lacks only the second factor)');

  // Shared state goes down.
  redis.kill('SIGKILL');
  await new Promise((res) => redis.once('exit', res));
  const normal = new Client(f.url);
  const csrfPage = await normal.fetch('/.gatehouse/login?rd=%2Fecho');
  t.equal(csrfPage.status, 200, 'the login page still renders (no shared state needed)');
  const csrf = /name="csrf" value="([^"]+)"/.exec(await csrfPage.text())![1];
  r = await normal.postForm('/.gatehouse/login', { csrf, username: 'alice', password: 'alice-test-pass', rd: '/echo' });
  t.equal(r.status, 503, 'a normal sign-in fails closed');

  r = await bg.postForm('/.gatehouse/login', { csrf: aliceCsrf, username: 'emergency', password: 'wrong-password-here', rd: '/echo' });
  t.equal(r.status, 401, 'wrong break-glass password refused');
  r = await bg.postForm('/.gatehouse/login', { csrf: aliceCsrf, username: 'emergency', password: 'glass-emergency-pass', rd: '/echo' });
  t.equal(r.status, 303, 'break-glass signs in while shared state is down, on the browser that had alice\'s session');
  r = await bg.fetch('/echo', { headers: { accept: 'application/json' } });
  t.equal(r.status, 200, 'and reaches the app without a second factor');
  const seen = await r.json() as { headers: Record<string, string> };
  t.equal(seen.headers['x-gatehouse-user'], 'emergency');
  t.equal(seen.headers['x-gatehouse-groups'], 'admins');
  // Revoked here and dropped from the cache: a cold cookie needs shared state to be trusted again, so it fails closed.
  t.equal((await asAlice()).error, 'unavailable', 'the browser\'s previous session (alice\'s) no longer works once break-glass signed in there');
  t.ok(f.logs.some((l) => l.level === 40 && String(l.msg).includes('previous session is revoked on this instance only')), 'that it could not be told to the others is logged, not an error');
  r = await bg.fetch('/admin/x', { headers: { accept: 'application/json' } });
  t.equal(r.status, 403, 'deny rules still deny');

  await f.gw.services.audit.flush();
  const events = readAudit(f).filter((e) => e.event === 'breakglass.used');
  t.equal(events.length, 1, 'the use is audited');
  t.equal(events[0].reason, 'shared state unreachable');
  t.ok(f.logs.some((l) => l.level === 40 && String(l.msg).includes('BREAK-GLASS')), 'logged at warn');

  // Recovery: Redis back, the emergency account is refused again.
  redis = await startRedis(redisPort);
  await waitFor('the gateway reconnects to Redis', () => f.gw.services.shared.ping().then(() => true, () => false));
  const again = new Client(f.url);
  r = await again.signIn('emergency', 'glass-emergency-pass', '/echo');
  t.equal(r.status, 401, 'refused again once the backends are back');
});

t.test('a break-glass sign-in revokes the browser\'s previous session (backends up, break-glass enabled)', async (t) => {
  const hash = await hashPassword('glass-emergency-pass');
  const f = await startTestGateway({
    config: {
      identity: { break_glass: { user: 'emergency', password: hash, groups: ['admins'], enabled: true } },
      policy: { default: 'login' },
    },
  });
  t.teardown(() => f.close());
  const c = new Client(f.url);
  t.equal((await c.signIn('alice', 'alice-test-pass', '/echo')).status, 303);
  const aliceCookie = c.cookieHeader();
  const user = async (cookie: string) => {
    const r = await new Client(f.url).fetch('/echo', { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors', cookie } });
    return r.status === 200 ? ((await r.json()) as { headers: Record<string, string> }).headers['x-gatehouse-user'] : `status ${r.status}`;
  };
  t.equal(await user(aliceCookie), 'alice');
  const aliceListed = await f.gw.services.store.listSessions('alice', f.clock.now());
  const csrf = await c.csrf('/.gatehouse/account');
  t.equal((await c.postForm('/.gatehouse/login', { csrf, username: 'emergency', password: 'glass-emergency-pass', rd: '/echo' })).status, 303, 'break-glass (enabled) signs in on the same browser');
  t.equal(await user(c.cookieHeader()), 'emergency');
  t.equal(await user(aliceCookie), 'status 401', 'alice\'s session from that browser is revoked');
  t.equal((await f.gw.services.store.listSessions('alice', f.clock.now())).length, aliceListed.length - 1, 'and no longer listed on her security page');
});
