// Policy evaluation cost as the rule count grows (target: 10,000 rules cost at
// most 2× what 10 rules cost, also when 10% of them match query / form
// parameters; a request on a path without parameter rules costs what it cost
// without any). Run: node_modules/.bin/node bench/policy.ts
// `npm run bench` imports benchPolicy().

import { fileURLToPath } from 'node:url';
import type { PolicyConfig, RolloutConfig, RuleConfig } from '../src/config/types.ts';
import type { RequestFacts, SubjectFacts } from '../src/policy/types.ts';
import { compilePolicy } from '../src/policy/compile.ts';
import { evaluate } from '../src/policy/evaluate.ts';

const ROLLOUT: RolloutConfig = { enforce_for: ['everyone'], grace_until: '2026-12-31', max_deferrals: 3 };

/**
 * Mostly one prefix rule per app, plus exact, wildcard, method- and group-restricted rules sprinkled in.
 * withParams: every tenth rule matches parameters instead (a DokuWiki-like `query` rule or a
 * phpMyAdmin-like `params` rule on the app's script).
 */
function buildRules(count: number, withParams = false): RuleConfig[] {
  const rules: RuleConfig[] = [
    { id: 'static', match: { path: ['/static/**', '/favicon.ico'] }, require: 'none', mode: 'enforce' },
    { id: 'health', match: { path: ['/healthz'] }, require: 'none', mode: 'enforce' },
  ];
  for (let i = 0; rules.length < count; i++) {
    const app = `/app${i}`;
    switch (i % 10) {
      case 1:
        if (!withParams) break;
        rules.push(i % 20 === 1
          ? { id: `wiki${i}`, match: { path: [`${app}/doku.php`], query: { do: ['admin', 'export_*'] }, ignore_case: true }, require: 'mfa', max_age: 300_000, mode: 'enforce' }
          : { id: `db${i}`, match: { path: [`${app}/index.php`], params: { route: ['/export', '/server/privileges*'] } }, require: 'mfa', max_age: 300_000, mode: 'enforce' });
        continue;
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
    }
    switch (i % 10) {
      case 3: case 5: case 7: case 8:
        break;
      default:
        rules.push({ id: `app${i}`, match: { path: [`${app}/**`] }, require: i % 2 ? 'mfa' : 'login', mode: 'enforce' });
    }
  }
  return rules.slice(0, count);
}

/**
 * Request mixes. `zipf`: app popularity falls off as 1/rank, as real traffic
 * does (a few apps take most requests). `uniform`: every app equally likely.
 * Both: 5% static assets, 5% paths no rule matches. The cost that does grow
 * with the rule count is memory latency (a larger, colder index), not work:
 * 10,000 rules with the same few hot apps cost what 10 rules cost.
 */
export type RequestMix = 'zipf' | 'uniform';

const BODY = { contentType: 'application/x-www-form-urlencoded', bytes: Buffer.from('route=%2Fsql&db=shop&sql_query=SELECT+1') };

/** paramPaths false: only paths no parameter rule names (the cost of requests elsewhere). */
function buildRequests(count: number, n: number, mix: RequestMix, paramPaths = true): RequestFacts[] {
  const apps = Math.max(1, count);
  const plain = ['/', '/home', '/billing/pay', '/reports/q3/export', '/admin/users', '/users/bob', '/api/v1/items/42', '/a/b/c/d/e'];
  const scripts = ['/doku.php?do=show&id=start', '/doku.php?do=admin&page=config', '/index.php?route=/sql&db=shop', '/index.php?route=/export'];
  const tails = paramPaths ? [...plain, ...scripts] : plain;
  const methods = ['GET', 'GET', 'GET', 'POST', 'GET', 'PUT'];
  let seed = 7;
  const rand = (m: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % m;
  };
  // Cumulative 1/rank weights; apps get popularity ranks in a shuffled order.
  const cdf: number[] = [];
  let total = 0;
  for (let k = 0; k < apps; k++) cdf.push((total += 1 / (k + 1)));
  const rankToApp = Array.from({ length: apps }, (_, k) => k);
  for (let k = apps - 1; k > 0; k--) {
    const j = rand(k + 1);
    [rankToApp[k], rankToApp[j]] = [rankToApp[j], rankToApp[k]];
  }
  const pickApp = (): number => {
    if (mix === 'uniform') return rand(apps);
    const x = (rand(1 << 30) / (1 << 30)) * total;
    let lo = 0;
    let hi = apps - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return rankToApp[lo];
  };
  return Array.from({ length: n }, (_, k) => {
    const r = rand(20);
    const target = r === 0 ? '/static/js/app.js' : r === 1 ? '/nowhere/else' : `/app${pickApp()}${tails[rand(tails.length)]}`;
    const q = target.indexOf('?');
    const facts: RequestFacts = { host: 'portal.example.com', method: methods[k % methods.length], path: q === -1 ? target : target.slice(0, q), ip: '10.1.2.3' };
    if (q !== -1) facts.query = target.slice(q + 1);
    if (facts.method !== 'GET') facts.body = BODY;
    return facts;
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
  label: string;
  rules: number;
  compiled: ReturnType<typeof compilePolicy>;
  requests: RequestFacts[];
  samples: number[]; // ns/op of each slice
}

function prepare(label: string, ruleCount: number, mix: RequestMix, o: { params?: boolean; paramPaths?: boolean } = {}): Case {
  const policy: PolicyConfig = { default: 'mfa', rules: buildRules(ruleCount, o.params), stash_max_body: 1 << 20, stash_total_max: 64 << 20, inspect_body_max: 1 << 20, privileged_groups: ['admins'], exceptions: [] };
  return { label, rules: ruleCount, compiled: compilePolicy(policy, ROLLOUT), requests: buildRequests(ruleCount, 4096, mix, o.paramPaths), samples: [] };
}

let sink = 0;

/** Main-thread CPU time in µs: unlike wall time, not inflated while other processes hold the CPU. */
function cpuMicros(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

/** Evaluates the case's request mix for about sliceMs of CPU; returns ns per evaluation. */
function slice(c: Case, sliceMs: number): number {
  const budget = sliceMs * 1000;
  const start = cpuMicros();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < budget) {
    for (let k = 0; k < 5_000; k++) sink += evaluate(c.requests[(ops + k) & 4095], SUBJECT, c.compiled, NOW).reason.length;
    ops += 5_000;
    elapsed = cpuMicros() - start;
  }
  return (elapsed * 1000) / ops;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * ~durationMs of evaluation per policy size. The sizes are measured in
 * interleaved 100 ms slices of main-thread CPU time and each reports its median
 * slice, so that load from other processes skews all sizes alike.
 */
export async function benchPolicy(durationMs = 1000, mix: RequestMix = 'zipf'): Promise<{ label: string; rules: number; nsPerOp: number }[]> {
  const cases = [
    prepare('10 rules', 10, mix),
    prepare('10 rules, 10% param rules', 10, mix, { params: true }),
    prepare('1k rules', 1_000, mix),
    prepare('10k rules', 10_000, mix),
    prepare('10k, 10% param rules', 10_000, mix, { params: true }),
    prepare('10k, no param paths', 10_000, mix, { paramPaths: false }),
    prepare('10k+10% param, no param paths', 10_000, mix, { params: true, paramPaths: false }),
  ];
  for (const c of cases) slice(c, 100); // warm-up: let the JIT settle
  const rounds = Math.max(1, Math.round(durationMs / 100));
  for (let r = 0; r < rounds; r++) for (const c of cases) c.samples.push(slice(c, 100));
  if (sink === 0) throw new Error('benchmark produced no decisions');
  return cases.map((c) => ({ label: c.label, rules: c.rules, nsPerOp: median(c.samples) }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log('policy evaluation, ns per decision (median of 100 ms CPU-time slices)');
  for (const mix of ['zipf', 'uniform'] as const) {
    const rows = await benchPolicy(1000, mix);
    const base = rows[0].nsPerOp;
    console.log(`\n${mix} ${mix === 'zipf' ? '(app popularity ~ 1/rank; target <= 2x of 10 rules)' : '(every app equally likely)'}`);
    const paramBase = rows[1].nsPerOp;
    for (const r of rows) {
      // Rows with parameter rules are also compared with 10 rules of the same mix (one of them a parameter rule).
      const vsParams = r.label.includes('10% param') && r.rules > 10 ? `  ${(r.nsPerOp / paramBase).toFixed(2).padStart(5)}x of 10 rules with one param rule` : '';
      console.log(`  ${r.label.padEnd(30)} ${r.nsPerOp.toFixed(0).padStart(6)} ns  ${(r.nsPerOp / base).toFixed(2).padStart(5)}x${vsParams}`);
    }
  }
}
