// `gatehouse mfa reset` run beside a gateway with in-memory shared state: the
// gateway sees the reset in the store and ends the user's sessions within seconds.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startTestGateway, Client } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';

t.test('a CLI reset ends sessions on a running gateway (memory shared state)', async (t) => {
  const f = await startTestGateway();
  t.teardown(() => f.close());
  const bob = new Client(f.url);
  const alice = new Client(f.url);
  await bob.signIn('bob', 'bob-test-pass', '/echo');
  await alice.signIn('alice', 'alice-test-pass', '/echo');
  t.equal((await bob.fetch('/echo', { headers: { accept: 'application/json' } })).status, 200, 'signed in');
  execFileSync(process.execPath, ['src/cli/main.ts', 'mfa', 'reset', 'bob', '--config', f.configPath, '--by', 'ops', '--reason', 'lost phone'], { stdio: 'pipe' });
  let status = 200;
  const started = Date.now();
  await eventually(async () => (status = (await bob.fetch('/echo', { headers: { accept: 'application/json' } })).status) !== 200, 10_000, 100);
  t.equal(status, 302, `bob is signed out (sent to sign in) after ${Date.now() - started} ms`);
  t.equal((await alice.fetch('/echo', { headers: { accept: 'application/json' } })).status, 200, 'alice is not');
  const again = new Client(f.url);
  await again.signIn('bob', 'bob-test-pass', '/echo');
  t.equal((await again.fetch('/echo', { headers: { accept: 'application/json' } })).status, 200, 'bob can sign in again');
});
