// Policy evaluation cost as the rule count grows (target: 10,000 rules cost at
// most 2× what 10 rules cost). Run: node_modules/.bin/node bench/policy.ts
// `npm run bench` imports benchPolicy().

import { fileURLToPath } from 'node:url';
import type { PolicyConfig, RolloutConfig, RuleConfig } from '../src/config/types.ts';
import type { RequestFacts, SubjectFacts } from '../src/policy/types.ts';
import { compilePolicy } from '../src/policy/compile.ts';
import { evaluate } from '../src/policy/evaluate.ts';

const ROLLOUT: RolloutConfig = { enforce_for: ['everyone'], grace_until: '2026-12-31', max_deferrals: 3 };

/** Mostly one prefix rule per app, plus exact, wildcard, method- and group-restricted rules sprinkled in. */
function buildRules(count: number): RuleConfig[] {
  const rules: RuleConfig[] = [
    { id: 'static', match: { path: ['/static/**', '/favicon.ico'] }, require: 'none', mode: 'enforce' },
    { id: 'health', match: { path: ['/healthz'] }, require: 'none', mode: 'enforce' },
  ];
  for (let i = 0; rules.length < count; i++) {
    const app = `/app${i}`;
    switch (i % 10) {
      case 3:
        rules.push({ id: `pay${i}`, match: { path: [`${app}/billing/**`], methods: ['POST', 'PUT', 'DELETE'] }, require: 'mfa', max_age: 300_000, mode: 'enforce' });
        break;
      case 5:
        rules.push({ id: `export${i}`, match: { path: [`${app}/reports/*/export`] }, require: 'mfa', factors: ['webauthn', 'totp'], max_age: 900_000, mode: 'enforce' });
        break;
      case 7:
        rules.push({ id: `admin${i}`, match: { path: [`${app}/admin/**`], not_groups: ['admins'] }, require: 'deny', mode: 'enforce' });
        break;
      case 8:
        rules.push({ id: `user${i}`, match: { path: [`${app}/users/*`] }, require: 'login', mode: 'enforce' });
        break;
      default:
        rules.push({ id: `app${i}`, match: { path: [`${app}/**`] }, require: i % 2 ? 'mfa' : 'login', mode: 'enforce' });
    }
  }
  return rules.slice(0, count);
}

function buildRequests(count: number, n: number): RequestFacts[] {
  const apps = Math.max(1, count);
  const tails = ['/', '/home', '/billing/pay', '/reports/q3/export', '/admin/users', '/users/bob', '/api/v1/items/42', '/a/b/c/d/e'];
  const methods = ['GET', 'GET', 'GET', 'POST', 'GET', 'PUT'];
  let seed = 7;
  const rand = (m: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % m;
  };
  return Array.from({ length: n }, (_, k) => {
    const r = rand(20);
    const path = r === 0 ? '/static/js/app.js' : r === 1 ? '/nowhere/else' : `/app${rand(apps)}${tails[rand(tails.length)]}`;
    return { host: 'portal.example.com', method: methods[k % methods.length], path, ip: '10.1.2.3' };
  });
}

const NOW = Date.UTC(2026, 5, 15, 12);
const SUBJECT: SubjectFacts = {
  user: 'alice',
  groups: ['staff', 'finance'],
  factors: [{ kind: 'totp', amr: 'otp', phishing_resistant: false, at: NOW - 120_000 }],
  remembered_device: false,
  enrolled: ['totp'],
  in_rollout: true,
  deferred: false,
};

interface Case {
  rules: number;
  compiled: ReturnType<typeof compilePolicy>;
  requests: RequestFacts[];
  samples: number[]; // ns/op of each slice
}

function prepare(ruleCount: number): Case {
  const policy: PolicyConfig = { default: 'mfa', rules: buildRules(ruleCount), stash_max_body: 1 << 20, privileged_groups: ['admins'], exceptions: [] };
  return { rules: ruleCount, compiled: compilePolicy(policy, ROLLOUT), requests: buildRequests(ruleCount, 4096), samples: [] };
}

let sink = 0;

/** Evaluates the case's request mix for about sliceMs; returns ns per evaluation. */
function slice(c: Case, sliceMs: number): number {
  const budget = BigInt(sliceMs) * 1_000_000n;
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 5_000; k++) sink += evaluate(c.requests[(ops + k) & 4095], SUBJECT, c.compiled, NOW).reason.length;
    ops += 5_000;
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / ops;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * ~durationMs of evaluation per policy size. The sizes are measured in
 * interleaved 100 ms slices and each reports its median slice, so that load
 * from other processes on the machine skews all sizes alike.
 */
export async function benchPolicy(durationMs = 1000): Promise<{ rules: number; nsPerOp: number }[]> {
  const cases = [10, 1_000, 10_000].map(prepare);
  for (const c of cases) slice(c, 100); // warm-up: let the JIT settle
  const rounds = Math.max(1, Math.round(durationMs / 100));
  for (let r = 0; r < rounds; r++) for (const c of cases) c.samples.push(slice(c, 100));
  if (sink === 0) throw new Error('benchmark produced no decisions');
  return cases.map((c) => ({ rules: c.rules, nsPerOp: median(c.samples) }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchPolicy();
  console.log('rules     ns/op');
  for (const r of results) console.log(`${String(r.rules).padStart(6)}  ${r.nsPerOp.toFixed(0).padStart(7)}`);
  const ratio = results[2].nsPerOp / results[0].nsPerOp;
  console.log(`ratio 10k/10: ${ratio.toFixed(2)}x (target <= 2x)`);
}
