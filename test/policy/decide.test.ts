// The one decision function (policy/decide.ts), pure: target refusals, routes,
// case-blind routes, forward-auth's view, method overrides and break-glass, and
// `gatehouse explain` answering exactly what decide answers.

import t from 'tap';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { buildSnapshot } from '../../src/http/snapshot.ts';
import { decide, type DecideFacts, type Verdict } from '../../src/policy/decide.ts';
import type { SubjectFacts } from '../../src/policy/types.ts';
import { explainRequest } from '../../src/cli/explain.ts';

const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40) };
const NOW = Date.parse('2026-11-22T12:00:00Z');

function snapshotOf(config: Record<string, unknown>) {
  return buildSnapshot(parseConfig(stringify(config), 'test.yaml', { env: SECRETS, now: () => new Date(NOW), persistDevSecrets: false }));
}

const snap = snapshotOf({
  server: { public_url: 'http://gw.test' },
  routes: [
    { host: 'iis.test', path: '/', upstream: 'http://127.0.0.1:9', case_insensitive: true },
    { host: 'java.test', path: '/', upstream: 'http://127.0.0.1:9', path_params: 'allow' },
    { host: 'strict.test', path: '/', upstream: 'http://127.0.0.1:9', method_override: 'reject' },
    { host: 'plain.test', path: '/', upstream: 'http://127.0.0.1:9', method_override: 'pass' },
    { host: 'gw.test', path: '/', upstream: 'http://127.0.0.1:9' },
  ],
  policy: {
    default: 'login',
    rules: [
      { id: 'admin', match: { path: '/admin/**' }, require: 'mfa' },
      { id: 'no-delete', match: { path: '/items/**', methods: ['DELETE'] }, require: 'deny' },
      { id: 'items', match: { path: '/items/**' }, require: 'none' },
      { id: 'closed', match: { path: '/closed/**' }, require: 'deny' },
    ],
  },
});

const alice: SubjectFacts = { user: 'alice', groups: [], factors: [], remembered_device: false, enrolled: ['totp'], in_rollout: true, deferred: false };

function facts(target: string, extra: Partial<DecideFacts> = {}): DecideFacts {
  return { target, host: 'gw.test', via: 'proxy', method: 'GET', overrides: [], ip: '192.0.2.1', ...extra };
}

function outcome(v: Verdict): string {
  if (v.kind === 'refused') return String(v.status);
  if (v.kind === 'reserved') return 'reserved';
  return v.decision.action;
}

t.test('targets the gateway refuses are refused here, before any rule', async (t) => {
  const cases: Array<[string, Partial<DecideFacts>, string]> = [
    ['/a%2fb', {}, '400'],
    ['/admin;x=1', {}, '400'],                                   // no ;params on this route
    ['/admin;x=1', { host: 'java.test' }, 'challenge'],          // allowed on the java route
    ['/admin.', { host: 'iis.test' }, '400'],                     // IIS drops the dot: /admin
    ['/ADMIN/x', { host: 'iis.test' }, 'challenge'],              // folded: the admin rule binds
    ['/ADMIN/x', {}, 'challenge'],                                // default login for anonymous
    ['http://other.test/admin', {}, '400'],                       // authority differs from Host
    ['/.gatehouse/login', {}, 'reserved'],
  ];
  for (const [target, extra, want] of cases) {
    t.equal(outcome(decide(snap, facts(target, extra), null, NOW)), want, `${extra.host ?? 'gw.test'} ${target}`);
  }
  const none = decide(snap, facts('/x', { host: 'nowhere.test' }), null, NOW);
  t.match(none, { kind: 'refused', status: 404 }, 'no route: 404');
});

t.test('forward-auth: dot segments refused, a request no route describes still judged', async (t) => {
  t.match(decide(snap, facts('/a/../closed/x', { via: 'forward-auth' }), alice, NOW), { kind: 'refused', status: 400, reason: /dot segment/ });
  t.match(decide(snap, facts('/a/../closed/x'), alice, NOW), { kind: 'decided', decision: { action: 'deny', rule: 'closed' } }, 'the gateway forwards /closed/x and decides on it');
  t.match(decide(snap, facts('/closed/x', { via: 'forward-auth', host: 'nowhere.test' }), alice, NOW), { kind: 'decided', route: null, decision: { action: 'deny' } });
  t.match(decide(snap, facts('/admin.', { via: 'forward-auth', host: 'iis.test' }), alice, NOW), { kind: 'refused', status: 400 }, 'case-blind check also for forward-auth');
});

t.test('method overrides: evaluate both methods, reject, pass', async (t) => {
  const del = (extra: Partial<DecideFacts>) => outcome(decide(snap, facts('/items/1', { method: 'POST', ...extra }), alice, NOW));
  t.equal(del({}), 'allow', 'a plain POST');
  t.equal(del({ overrides: ['DELETE'] }), 'deny', 'POST claiming DELETE by header: the DELETE rule binds');
  t.equal(outcome(decide(snap, facts('/items/1?_method=delete', { method: 'POST' }), alice, NOW)), 'deny', '_method in the query');
  t.equal(del({ overrides: ['POST'] }), 'allow', 'overriding with the same method');
  t.equal(del({ overrides: ['DE LETE'] }), '400', 'a malformed override is refused');
  t.equal(del({ host: 'strict.test', overrides: ['DELETE'] }), '400', 'method_override: reject');
  t.equal(del({ host: 'strict.test' }), 'allow', 'reject routes take requests without an override');
  t.equal(del({ host: 'plain.test', overrides: ['DELETE'] }), 'allow', 'method_override: pass ignores it');
  const v = decide(snap, facts('/items/1', { method: 'POST', overrides: ['DELETE'] }), alice, NOW);
  t.match(v, { kind: 'decided', decision: { rule: 'no-delete', reason: /as DELETE, the method override/ } });
});

t.test('break-glass waives challenges, never deny rules', async (t) => {
  const bg: SubjectFacts = { ...alice, enrolled: [], breakglass: true };
  t.match(decide(snap, facts('/admin/x'), bg, NOW), { kind: 'decided', decision: { action: 'allow', breakglass: true, reason: /^break-glass \(would: / } });
  t.match(decide(snap, facts('/closed/x'), bg, NOW), { kind: 'decided', decision: { action: 'deny' } });
  t.match(decide(snap, facts('/admin/x'), { ...bg, breakglass: false }, NOW), { kind: 'decided', decision: { action: 'challenge' } });
});

t.test('explain says what decide says, a refused target included', async (t) => {
  const map: Record<string, string> = { bad_target: '400', no_route: '404' };
  const cases: Array<[string, string, string[] | undefined, SubjectFacts | null]> = [
    ['iis.test', '/admin.', undefined, alice],
    ['iis.test', '/Admin/x', undefined, alice],
    ['gw.test', '/items/1', ['DELETE'], alice],
    ['strict.test', '/items/1', ['DELETE'], alice],
    ['gw.test', '/admin/x', undefined, { ...alice, breakglass: true }],
    ['nowhere.test', '/x', undefined, null],
    ['gw.test', '/.gatehouse/x', undefined, null],
  ];
  for (const [host, target, overrides, subject] of cases) {
    const d = outcome(decide(snap, facts(target, { host, method: 'POST', overrides: overrides ?? [] }), subject, NOW));
    const e = explainRequest(snap, { method: 'POST', target, host, ip: '192.0.2.1', ...(overrides ? { overrides } : {}) }, subject, NOW);
    t.equal(map[e.outcome] ?? e.outcome, d, `${host} ${target} ${overrides ?? ''}: ${e.reason}`);
  }
});
