// The audit line of every outcome a user saw is on disk: a real gateway process
// answers sign-ins and a TOTP enrollment, is killed with SIGKILL the moment the
// last answer arrives, and its log must hold every acknowledged event and verify
// under the audit key. Twenty crashes on one log, so the chain is also continued
// across every restart.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { CHAIN_ORIGIN, deriveAuditMacKey, splitLines, verifyLines } from '../../src/audit/chain.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { Client, listeningPort, TEST_AUDIT_KEY, type GatewayFixture } from '../helpers/gateway.ts';
import { enrollTotpOverHttp } from '../helpers/totp.ts';

const NODE = resolve('node_modules/.bin/node');
const MAIN = resolve('src/cli/main.ts');
const CLI = resolve('test/fixtures/audit/run-audit.ts');
const RUNS = 20;
const SIGN_INS = 8; // concurrent, per run
const PASSWORD = 'crash-test-pass';
// Form posts must come from public_url's origin; each run's gateway binds a new port (port 0).
const PUBLIC_URL = 'http://127.0.0.1:8080';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-crash-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const auditPath = join(dir, 'audit.log');
const configPath = join(dir, 'gatehouse.yaml');

/** Starts `gatehouse serve` and resolves with its port once it listens. */
async function startGateway(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(NODE, [MAIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, port: await listeningPort(child) };
}

function writeConfig(): void {
  writeFileSync(configPath, stringify({
    server: { listen: '127.0.0.1:0', public_url: PUBLIC_URL, log_level: 'info', instance_id: 'crash-gw' },
    routes: [{ path: '/', upstream: 'http://127.0.0.1:9' }],
    identity: { source: 'file', file: { path: join(dir, 'users.yaml') } },
    session: { secret: 'crash-test-session-secret-0123456789-abcdefgh' },
    factors: { encryption_key: 'crash-test-encryption-key-0123456789-abcdefgh' },
    policy: { default: 'login', rules: [] },
    store: { kind: 'sqlite', path: join(dir, 'gatehouse.db') },
    notifier: { kind: 'file', path: join(dir, 'outbox.log') },
    audit: { path: auditPath, key: TEST_AUDIT_KEY },
  }));
}

t.before(async () => {
  // Cheap hashes: the test is about the audit log, not argon2's cost.
  const hash = await hashPassword(PASSWORD, { memory: 1024, passes: 1 });
  const users: Record<string, unknown> = {};
  for (let run = 0; run < RUNS; run++) {
    for (let i = 0; i <= SIGN_INS; i++) users[`r${run}u${i}`] = { display_name: `r${run}u${i}`, email: `r${run}u${i}@example.com`, password: hash, groups: [], disabled: false };
  }
  writeFileSync(join(dir, 'users.yaml'), stringify({ users }));
  writeConfig();
});

t.test(`${RUNS} times: sign-ins and an enrollment acknowledged, then SIGKILL at once; every one is in the log`, async (t) => {
  const macKey = deriveAuditMacKey(TEST_AUDIT_KEY);
  let misses = 0;
  for (let run = 0; run < RUNS; run++) {
    const { child, port } = await startGateway();
    const exited = once(child, 'exit');
    const url = `http://127.0.0.1:${port}`;
    const signIns = Array.from({ length: SIGN_INS }, async (_, i) => {
      const c = new Client(url, PUBLIC_URL);
      const r = await c.signIn(`r${run}u${i}`, PASSWORD);
      return r.status === 303 ? `r${run}u${i}` : undefined;
    });
    const enrollee = `r${run}u${SIGN_INS}`;
    const enrolled = enrollTotpOverHttp({ url } as GatewayFixture, enrollee, PASSWORD, new Client(url, PUBLIC_URL)).then(() => enrollee);
    const acked = await Promise.all([...signIns, enrolled]);
    child.kill('SIGKILL');
    const [, signal] = await exited;
    t.equal(signal, 'SIGKILL');

    const { lines, tail } = splitLines(readFileSync(auditPath, 'latin1'));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const successes = new Set(records.filter((r) => r.event === 'signin.success').map((r) => r.user));
    const missing = acked.slice(0, SIGN_INS).filter((u) => u === undefined || !successes.has(u));
    const enrollment = records.some((r) => r.event === 'factor.enrolled' && r.user === enrollee && r.factor === 'totp');
    const verified = verifyLines(lines, CHAIN_ORIGIN, tail, macKey);
    if (missing.length > 0 || !enrollment || !verified.ok) {
      misses += 1;
      t.fail(`run ${run + 1}: missing sign-ins ${missing.join(',')}; enrollment ${enrollment ? 'present' : 'MISSING'}; chain ${JSON.stringify(verified)}`);
    }
  }
  t.equal(misses, 0, `${RUNS} crashes, ${RUNS * SIGN_INS} acknowledged sign-ins and ${RUNS} enrollments, none missing`);
  const cli = spawnSync(NODE, [CLI, 'verify', auditPath], { encoding: 'utf8', env: { ...process.env, GATEHOUSE_AUDIT_KEY: TEST_AUDIT_KEY }, cwd: dir });
  t.equal(cli.status, 0, cli.stdout + cli.stderr);
  t.match(cli.stdout, /integrity: every line's MAC checked under the audit key/);
});
