import t from 'tap';
import type { FactorKind, PolicyConfig, PolicyException, RolloutConfig, RuleConfig, RuleMatch } from '../../src/config/types.ts';
import type { Decision, FactorCheck, RequestFacts, SubjectFacts } from '../../src/policy/types.ts';
import { compilePolicy, PolicyCompileError, SIGN_IN_RULE } from '../../src/policy/compile.ts';
import { RISK_RULE } from '../../src/policy/risk.ts';
import { evaluate, formatDuration } from '../../src/policy/evaluate.ts';
import { matchPath } from '../../src/policy/path-pattern.ts';

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;

function rule(id: string, match: RuleMatch, require: RuleConfig['require'], extra: Partial<RuleConfig> = {}): RuleConfig {
  return { id, match, require, mode: 'enforce', ...extra };
}

const ROLLOUT: RolloutConfig = { enforce_for: ['everyone'], grace_until: '2026-12-31', max_deferrals: 3 };

function exception(e: Partial<PolicyException> & { rule: string; expires: string }): PolicyException {
  return { reason: 'test', owner: 'secops', ...e };
}

const RULES: RuleConfig[] = [
  rule('static', { path: ['/static/**'] }, 'none'),
  rule('health', { path: ['/health'] }, 'none'),
  rule('blocked', { path: ['/internal/**'] }, 'deny'),
  rule('admin-deny', { path: ['/admin/**'], not_groups: ['admins'] }, 'deny'),
  rule('admin', { path: ['/admin/**'] }, 'mfa', { max_age: 10 * MIN }),
  rule('billing', { path: ['/billing/**'], methods: ['POST', 'PUT', 'PATCH', 'DELETE'] }, 'mfa', { max_age: 5 * MIN }),
  rule('billing-read', { path: ['/billing/**'] }, 'login'),
  rule('api-keys', { path: ['/settings/api-keys', '/settings/api-keys/**'] }, 'mfa', { factors: ['webauthn'] }),
  rule('export', { path: ['/reports/*/export'] }, 'mfa', { max_age: 15 * MIN, factors: ['webauthn', 'totp'] }),
  rule('user-page', { path: ['/users/*'] }, 'login'),
  rule('csv', { path: ['/csv/**'], methods: ['GET'] }, 'deny'),
  rule('partner-host', { host: 'partner.example.com', path: ['/**'] }, 'deny'),
  rule('dev-hosts', { host: '*.dev.example.com' }, 'none'),
  rule('office', { path: ['/intranet/**'], networks: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] }, 'login'),
  rule('intranet-outside', { path: ['/intranet/**'] }, 'deny'),
  rule('beta', { path: ['/beta/**'], groups: ['beta'] }, 'login'),
  rule('beta-others', { path: ['/beta/**'] }, 'deny'),
  rule('audit-report', { path: ['/audit/**'] }, 'mfa', { max_age: 1 * MIN, mode: 'report' }),
  rule('legacy-report', { path: ['/legacy/**'] }, 'deny', { mode: 'report' }),
  rule('legacy', { path: ['/legacy/**'] }, 'none'),
  rule('app', { path: ['/app/**'] }, 'mfa'),
  rule('order-a', { path: ['/order/a/**'] }, 'none'),
  rule('order-all', { path: ['/order/**'] }, 'deny'),
  rule('seq-broad', { path: ['/seq/**'] }, 'login'),
  rule('seq-narrow', { path: ['/seq/secret'] }, 'deny'),
  rule('tools', { path: ['/tools/*/run/**'], groups: ['ops'] }, 'mfa', { max_age: 2 * MIN }),
  rule('root', { path: ['/'] }, 'none'),
];

const EXCEPTIONS: PolicyException[] = [
  exception({ user: 'carol', rule: 'billing', expires: '2027-01-31' }),
  exception({ group: 'contractors', rule: 'blocked', expires: '2027-01-31' }),
  exception({ user: 'dave', rule: 'admin', expires: '2026-06-14' }), // ended yesterday
  exception({ user: 'erin', rule: 'admin', expires: '2026-06-15' }), // lasts all of today (UTC)
  exception({ user: 'frank', group: 'ops', rule: 'tools', expires: '2027-01-31' }), // both must hold
];

function policyConfig(def: PolicyConfig['default'], rules = RULES, exceptions = EXCEPTIONS): PolicyConfig {
  return { default: def, rules, stash_max_body: 1 << 20, stash_total_max: 64 << 20, inspect_body_max: 1 << 20, privileged_groups: ['admins'], exceptions };
}

const POLICY = compilePolicy(policyConfig('mfa'), ROLLOUT);
/** The same rules, each saying `rollout: follow`. */
const FOLLOW = compilePolicy(policyConfig('mfa', RULES.map((r) => ({ ...r, rollout: 'follow' as const }))), ROLLOUT);

type SubjectOpts = Partial<Omit<SubjectFacts, 'factors'>> & { passed?: [FactorKind, number][] };
/** A signed-in subject; `passed` lists [kind, ms ago]. Defaults: in rollout, totp enrolled. */
function user(opts: SubjectOpts = {}): SubjectFacts {
  const factors: FactorCheck[] = (opts.passed ?? []).map(([kind, ago]) => ({
    kind,
    amr: kind === 'webauthn' ? 'hwk' : 'otp',
    phishing_resistant: kind === 'webauthn',
    at: NOW - ago,
  }));
  return {
    user: opts.user ?? 'alice',
    groups: opts.groups ?? [],
    factors,
    remembered_device: opts.remembered_device ?? false,
    enrolled: opts.enrolled ?? ['totp'],
    in_rollout: opts.in_rollout ?? true,
    deferred: opts.deferred ?? false,
  };
}

function req(method: string, path: string, extra: Partial<RequestFacts> = {}): RequestFacts {
  return { host: 'portal.example.com', method, path, ip: '203.0.113.9', ...extra };
}

interface Row {
  name: string;
  req: RequestFacts;
  subject: SubjectFacts | null;
  want: Partial<{
    action: Decision['action'];
    rule: string;
    kind: string;
    would: string;
    factors: FactorKind[];
    max_age: number | undefined;
  }>;
  reason?: string | RegExp;
  policy?: ReturnType<typeof compilePolicy>;
  now?: number;
}

const fresh = user({ passed: [['totp', 1 * MIN]] });
const admin = (passed: [FactorKind, number][] = [['totp', 1 * MIN]], extra: SubjectOpts = {}) =>
  user({ groups: ['admins'], passed, ...extra });

const rows: Row[] = [
  // ---- ordering: first match in declared order ----
  { name: 'order: narrow rule declared first wins', req: req('GET', '/order/a/x'), subject: null, want: { action: 'allow', rule: 'order-a' } },
  { name: 'order: broad rule after it catches the rest', req: req('GET', '/order/b'), subject: null, want: { action: 'deny', rule: 'order-all' } },
  { name: 'order: narrow rule declared after a broad one is shadowed', req: req('GET', '/seq/secret'), subject: fresh, want: { action: 'allow', rule: 'seq-broad' } },
  { name: 'order: prefix rule matches the prefix itself', req: req('GET', '/order'), subject: null, want: { action: 'deny', rule: 'order-all' } },
  { name: 'no rule matched: default mfa asks anonymous to sign in', req: req('GET', '/nowhere'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' } },
  { name: 'root exact pattern', req: req('GET', '/'), subject: null, want: { action: 'allow', rule: 'root' } },

  // ---- methods ----
  { name: 'methods: POST matches a write-only rule', req: req('POST', '/billing/pay'), subject: fresh, want: { action: 'allow', rule: 'billing' } },
  { name: 'methods: GET skips the write-only rule', req: req('GET', '/billing/invoices'), subject: user({ passed: [['totp', 60 * MIN]] }), want: { action: 'allow', rule: 'billing-read' } },
  { name: 'methods: DELETE with a stale factor is a step-up', req: req('DELETE', '/billing/x'), subject: user({ passed: [['totp', 7 * MIN + 12 * SEC]] }), want: { action: 'challenge', kind: 'step_up', rule: 'billing', factors: [], max_age: 5 * MIN }, reason: 'rule billing: second factor older than 5m (last totp 7m12s ago)' },
  { name: 'methods: GET-only rule also covers HEAD', req: req('HEAD', '/csv/all'), subject: fresh, want: { action: 'deny', rule: 'csv' } },
  { name: 'methods: GET-only rule does not cover POST', req: req('POST', '/csv/all'), subject: fresh, want: { action: 'allow', rule: 'default' } },

  // ---- host ----
  { name: 'host: matched case-insensitively', req: req('GET', '/anything', { host: 'PARTNER.Example.COM' }), subject: fresh, want: { action: 'deny', rule: 'partner-host' } },
  { name: 'host: trailing dot does not escape a host rule', req: req('GET', '/x', { host: 'partner.example.com.' }), subject: fresh, want: { action: 'deny', rule: 'partner-host' } },
  { name: 'host: rule for another host does not match', req: req('GET', '/x'), subject: fresh, want: { action: 'allow', rule: 'default' } },
  { name: 'host: *.dev wildcard matches a subdomain (rule without path)', req: req('GET', '/deep/path', { host: 'a.dev.example.com' }), subject: null, want: { action: 'allow', rule: 'dev-hosts' } },
  { name: 'host: *.dev wildcard does not match the apex', req: req('GET', '/deep/path', { host: 'dev.example.com' }), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' } },
  { name: 'host: rule without host applies to every host', req: req('GET', '/static/a.css', { host: 'other.example.org' }), subject: null, want: { action: 'allow', rule: 'static' } },

  // ---- path patterns ----
  { name: 'path: exact', req: req('GET', '/health'), subject: null, want: { action: 'allow', rule: 'health' } },
  { name: 'path: exact ignores one trailing slash', req: req('GET', '/health/'), subject: null, want: { action: 'allow', rule: 'health' } },
  { name: 'path: exact does not match below', req: req('GET', '/health/x'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' } },
  { name: 'path: ** matches deep paths', req: req('GET', '/static/js/vendor/app.js'), subject: null, want: { action: 'allow', rule: 'static' } },
  { name: 'path: ** matches the prefix itself', req: req('GET', '/static'), subject: null, want: { action: 'allow', rule: 'static' } },
  { name: 'path: ** is segment-bounded', req: req('GET', '/staticfoo'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' } },
  { name: 'path: * matches one segment', req: req('GET', '/users/bob'), subject: fresh, want: { action: 'allow', rule: 'user-page' } },
  { name: 'path: * does not match the parent', req: req('GET', '/users'), subject: fresh, want: { action: 'allow', rule: 'default' } },
  { name: 'path: * does not match two segments', req: req('GET', '/users/bob/edit'), subject: user(), want: { action: 'challenge', kind: 'mfa', rule: 'default' } },
  { name: 'path: middle * matches', req: req('GET', '/reports/q3/export'), subject: user({ passed: [['webauthn', 1 * MIN]] }), want: { action: 'allow', rule: 'export' } },
  { name: 'path: middle * needs a segment', req: req('GET', '/reports/export'), subject: fresh, want: { action: 'allow', rule: 'default' } },
  { name: 'path: middle * pattern is exact after it', req: req('GET', '/reports/q3/export/x'), subject: fresh, want: { action: 'allow', rule: 'default' } },
  { name: 'path: middle * then ** (with group)', req: req('POST', '/tools/db/run/now'), subject: user({ groups: ['ops'], passed: [['totp', 1 * MIN]] }), want: { action: 'allow', rule: 'tools' } },
  { name: 'path: case-sensitive by default', req: req('GET', '/Static/a.css'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' } },
  { name: 'path: rule with two patterns, first', req: req('GET', '/settings/api-keys'), subject: user({ passed: [['webauthn', 1 * MIN]], enrolled: ['webauthn'] }), want: { action: 'allow', rule: 'api-keys' } },
  { name: 'path: rule with two patterns, second', req: req('POST', '/settings/api-keys/new'), subject: user({ passed: [['webauthn', 1 * MIN]], enrolled: ['webauthn'] }), want: { action: 'allow', rule: 'api-keys' } },
  { name: 'path: not absolute is denied', req: req('OPTIONS', '*'), subject: fresh, want: { action: 'deny' } },

  // ---- groups / not_groups ----
  { name: 'not_groups: non-admin denied', req: req('GET', '/admin/users'), subject: user({ groups: ['staff'], passed: [['totp', 1 * MIN]] }), want: { action: 'deny', rule: 'admin-deny' } },
  { name: 'not_groups: admin skips the deny rule', req: req('GET', '/admin/users'), subject: admin(), want: { action: 'allow', rule: 'admin' } },
  { name: 'not_groups: anonymous is asked to sign in, not denied', req: req('GET', '/admin/users'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'admin-deny' } },
  { name: 'groups: member matches', req: req('GET', '/beta/feature'), subject: user({ groups: ['staff', 'beta'] }), want: { action: 'allow', rule: 'beta' } },
  { name: 'groups: non-member falls through', req: req('GET', '/beta/feature'), subject: user({ groups: ['staff'] }), want: { action: 'deny', rule: 'beta-others' } },
  { name: 'groups: anonymous is asked to sign in', req: req('GET', '/beta/feature'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'beta', factors: [] } },
  { name: 'groups: user without groups falls through', req: req('POST', '/tools/db/run'), subject: fresh, want: { action: 'allow', rule: 'default' } },

  // ---- networks ----
  { name: 'networks: IPv4 inside', req: req('GET', '/intranet/wiki', { ip: '10.1.2.3' }), subject: user(), want: { action: 'allow', rule: 'office' } },
  { name: 'networks: IPv4 outside', req: req('GET', '/intranet/wiki', { ip: '192.168.1.1' }), subject: user(), want: { action: 'deny', rule: 'intranet-outside' } },
  { name: 'networks: IPv4-mapped IPv6 inside', req: req('GET', '/intranet/wiki', { ip: '::ffff:10.0.0.1' }), subject: user(), want: { action: 'allow', rule: 'office' } },
  { name: 'networks: IPv4-mapped IPv6 outside', req: req('GET', '/intranet/wiki', { ip: '::ffff:192.168.0.1' }), subject: user(), want: { action: 'deny', rule: 'intranet-outside' } },
  { name: 'networks: IPv6 inside', req: req('GET', '/intranet/wiki', { ip: '2001:db8::5' }), subject: user(), want: { action: 'allow', rule: 'office' } },
  { name: 'networks: IPv6 outside', req: req('GET', '/intranet/wiki', { ip: '2001:db9::5' }), subject: user(), want: { action: 'deny', rule: 'intranet-outside' } },
  { name: 'networks: bare address is a /32', req: req('GET', '/intranet/wiki', { ip: '192.0.2.7' }), subject: user(), want: { action: 'allow', rule: 'office' } },
  { name: 'networks: neighbour of a bare address', req: req('GET', '/intranet/wiki', { ip: '192.0.2.8' }), subject: user(), want: { action: 'deny', rule: 'intranet-outside' } },
  { name: 'networks: anonymous inside still needs login', req: req('GET', '/intranet/wiki', { ip: '10.9.9.9' }), subject: null, want: { action: 'challenge', kind: 'login', rule: 'office' } },

  // ---- freshness ----
  { name: 'freshness: exactly max_age passes', req: req('POST', '/billing/pay'), subject: user({ passed: [['totp', 5 * MIN]] }), want: { action: 'allow', rule: 'billing' } },
  { name: 'freshness: max_age + 1 ms fails', req: req('POST', '/billing/pay'), subject: user({ passed: [['totp', 5 * MIN + 1]] }), want: { action: 'challenge', kind: 'step_up', rule: 'billing', max_age: 5 * MIN }, reason: 'older than 5m (last totp 5m ago)' },
  { name: 'freshness: the newest check counts, whatever the order', req: req('POST', '/billing/pay'), subject: user({ passed: [['email', 1 * MIN], ['totp', 30 * MIN]], enrolled: ['totp', 'email'] }), want: { action: 'allow', rule: 'billing' } },
  { name: 'freshness: no check in session', req: req('POST', '/billing/pay'), subject: user(), want: { action: 'challenge', kind: 'step_up', rule: 'billing' }, reason: 'rule billing: needs second factor within 5m; none in this session' },

  // ---- factor kinds ----
  { name: 'factors: webauthn passed satisfies webauthn rule', req: req('GET', '/settings/api-keys'), subject: user({ passed: [['webauthn', 300 * MIN]], enrolled: ['webauthn'] }), want: { action: 'allow', rule: 'api-keys' } },
  { name: 'factors: only totp enrolled → enroll webauthn', req: req('GET', '/settings/api-keys'), subject: user({ passed: [['totp', 1 * MIN]], enrolled: ['totp'] }), want: { action: 'challenge', kind: 'enroll', rule: 'api-keys', factors: ['webauthn'], max_age: undefined }, reason: 'rule api-keys: needs webauthn; user has only totp enrolled' },
  { name: 'factors: webauthn enrolled but totp used → step_up', req: req('GET', '/settings/api-keys'), subject: user({ passed: [['totp', 1 * MIN]], enrolled: ['totp', 'webauthn'] }), want: { action: 'challenge', kind: 'step_up', rule: 'api-keys', factors: ['webauthn'], max_age: undefined }, reason: /needs webauthn; not used in this session \(session has totp\)/ },
  { name: 'factors: fresh email is not a listed kind', req: req('GET', '/reports/q3/export'), subject: user({ passed: [['email', 1 * MIN]], enrolled: ['totp', 'email'] }), want: { action: 'challenge', kind: 'step_up', rule: 'export', factors: ['webauthn', 'totp'], max_age: 15 * MIN }, reason: /needs webauthn or totp within 15m/ },
  { name: 'factors: stale listed kind', req: req('GET', '/reports/q3/export'), subject: user({ passed: [['totp', 20 * MIN], ['email', 1 * MIN]], enrolled: ['totp', 'email'] }), want: { action: 'challenge', kind: 'step_up', rule: 'export' }, reason: 'rule export: webauthn or totp older than 15m (last totp 20m ago)' },
  { name: 'factors: recovery satisfies routine mfa', req: req('GET', '/app/home'), subject: user({ passed: [['recovery', 1 * MIN]] }), want: { action: 'allow', rule: 'app' } },

  // ---- remembered device ----
  { name: 'remembered device satisfies routine mfa', req: req('GET', '/app/home'), subject: user({ remembered_device: true }), want: { action: 'allow', rule: 'app' }, reason: 'remembered device' },
  { name: 'remembered device never satisfies step-up (max_age)', req: req('POST', '/billing/pay'), subject: user({ remembered_device: true }), want: { action: 'challenge', kind: 'step_up', rule: 'billing' }, reason: /remembered device does not count/ },
  { name: 'remembered device never satisfies step-up (factors)', req: req('GET', '/settings/api-keys'), subject: user({ remembered_device: true, enrolled: ['webauthn'] }), want: { action: 'challenge', kind: 'step_up', rule: 'api-keys' } },
  { name: 'routine mfa without a check or device → mfa', req: req('GET', '/app/home'), subject: user(), want: { action: 'challenge', kind: 'mfa', rule: 'app', factors: [], max_age: undefined }, reason: 'rule app: second factor required; none in this session' },

  // ---- rollout: governs policy.default and `rollout: follow` rules only ----
  { name: 'rollout (follow): outside, routine mfa allowed', req: req('GET', '/app/home'), subject: user({ in_rollout: false, enrolled: [] }), want: { action: 'allow', rule: 'app' }, reason: 'rule app: not in rollout', policy: FOLLOW },
  { name: 'rollout (follow): outside with a factor, routine still allowed', req: req('GET', '/app/home'), subject: user({ in_rollout: false }), want: { action: 'allow', rule: 'app' }, reason: 'not in rollout', policy: FOLLOW },
  { name: 'rollout (follow): outside, enrolled, step-up still applies', req: req('POST', '/billing/pay'), subject: user({ in_rollout: false, passed: [['totp', 10 * MIN]] }), want: { action: 'challenge', kind: 'step_up', rule: 'billing' }, policy: FOLLOW },
  { name: 'rollout (follow): outside, nothing enrolled, step-up allowed', req: req('POST', '/billing/pay'), subject: user({ in_rollout: false, enrolled: [] }), want: { action: 'allow', rule: 'billing' }, reason: 'not in rollout', policy: FOLLOW },
  { name: 'rollout (follow): outside, no qualifying kind enrolled', req: req('GET', '/settings/api-keys'), subject: user({ in_rollout: false, enrolled: ['totp'] }), want: { action: 'allow', rule: 'api-keys' }, reason: 'not in rollout', policy: FOLLOW },
  { name: 'rollout: outside, default mfa allowed', req: req('GET', '/nowhere'), subject: user({ in_rollout: false, enrolled: [] }), want: { action: 'allow', rule: 'default' }, reason: 'default policy: not in rollout' },
  { name: 'explicit rule binds everyone: outside, nothing enrolled → enroll', req: req('GET', '/app/home'), subject: user({ in_rollout: false, enrolled: [] }), want: { action: 'challenge', kind: 'enroll', rule: 'app' } },
  { name: 'explicit rule binds everyone: outside with a factor → mfa', req: req('GET', '/app/home'), subject: user({ in_rollout: false }), want: { action: 'challenge', kind: 'mfa', rule: 'app' } },
  { name: 'explicit rule binds everyone: a stolen password of an unenrolled user pays no bills', req: req('POST', '/billing/pay'), subject: user({ in_rollout: false, enrolled: [] }), want: { action: 'challenge', kind: 'enroll', rule: 'billing' } },
  { name: 'explicit rule binds everyone: no qualifying kind → enroll', req: req('GET', '/settings/api-keys'), subject: user({ in_rollout: false, enrolled: ['totp'] }), want: { action: 'challenge', kind: 'enroll', rule: 'api-keys' } },
  { name: 'rollout: inside, nothing enrolled → enroll', req: req('GET', '/app/home'), subject: user({ enrolled: [] }), want: { action: 'challenge', kind: 'enroll', rule: 'app', factors: [] } },

  // ---- deferral (grace): like rollout, the default policy and `rollout: follow` rules only ----
  { name: 'deferral (follow): routine mfa allowed', req: req('GET', '/app/home'), subject: user({ enrolled: [], deferred: true }), want: { action: 'allow', rule: 'app' }, reason: 'deferred enrollment', policy: FOLLOW },
  { name: 'deferral: an explicit rule still asks to enroll', req: req('GET', '/app/home'), subject: user({ enrolled: [], deferred: true }), want: { action: 'challenge', kind: 'enroll', rule: 'app' } },
  { name: 'deferral: step-up still asks to enroll', req: req('POST', '/billing/pay'), subject: user({ enrolled: [], deferred: true }), want: { action: 'challenge', kind: 'enroll', rule: 'billing', factors: [], max_age: 5 * MIN }, policy: FOLLOW },
  { name: 'deferral: default mfa allowed too', req: req('GET', '/nowhere'), subject: user({ enrolled: [], deferred: true }), want: { action: 'allow', rule: 'default' } },

  // ---- report mode ----
  { name: 'report: would-be step-up is reported, request allowed', req: req('GET', '/audit/log'), subject: user({ passed: [['totp', 3 * MIN]] }), want: { action: 'report', would: 'challenge', kind: 'step_up', rule: 'audit-report' }, reason: /older than 1m.*report only; enforced: default policy/ },
  { name: 'report: a satisfied report rule is a plain allow', req: req('GET', '/audit/log'), subject: user({ passed: [['totp', 30 * SEC]] }), want: { action: 'allow', rule: 'default' } },
  { name: 'report: never weakens the enforced default (challenge stands)', req: req('GET', '/audit/log'), subject: user(), want: { action: 'challenge', kind: 'mfa', rule: 'default' } },
  { name: 'report: would-be deny is reported', req: req('GET', '/legacy/page'), subject: null, want: { action: 'report', would: 'deny', rule: 'legacy-report' } },
  { name: 'report: deny rule in front of default none', req: req('GET', '/legacy/page'), subject: null, want: { action: 'report', would: 'deny', rule: 'r' }, policy: compilePolicy(policyConfig('none', [rule('r', { path: ['/legacy/**'] }, 'deny', { mode: 'report' })], []), ROLLOUT) },
  { name: 'report: anonymous would-be login', req: req('GET', '/x'), subject: null, want: { action: 'report', would: 'challenge', kind: 'login', rule: 'r' }, policy: compilePolicy(policyConfig('none', [rule('r', {}, 'login', { mode: 'report' })], []), ROLLOUT) },

  { name: 'report: a report rule declared after the deciding rule is ignored', req: req('GET', '/a/b'), subject: null, want: { action: 'allow', rule: 'exact' }, policy: compilePolicy(policyConfig('none', [rule('exact', { path: ['/a/b'] }, 'none'), rule('later', { path: ['/a/**'] }, 'deny', { mode: 'report' })], []), ROLLOUT) },
  { name: 'report: only the first report rule is reported', req: req('GET', '/a/b'), subject: null, want: { action: 'report', rule: 'first', would: 'deny' }, policy: compilePolicy(policyConfig('none', [rule('first', { path: ['/a/b'] }, 'deny', { mode: 'report' }), rule('second', { path: ['/a/**'] }, 'login', { mode: 'report' })], []), ROLLOUT) },

  // ---- default requirement ----
  { name: 'default none: anonymous allowed', req: req('GET', '/nowhere'), subject: null, want: { action: 'allow', rule: 'default' }, policy: compilePolicy(policyConfig('none'), ROLLOUT) },
  { name: 'default login: anonymous challenged', req: req('GET', '/nowhere'), subject: null, want: { action: 'challenge', kind: 'login', rule: 'default' }, policy: compilePolicy(policyConfig('login'), ROLLOUT) },
  { name: 'default login: signed in allowed without mfa', req: req('GET', '/nowhere'), subject: user(), want: { action: 'allow', rule: 'default' }, policy: compilePolicy(policyConfig('login'), ROLLOUT) },
  { name: 'default mfa: signed in without a factor', req: req('GET', '/nowhere'), subject: user(), want: { action: 'challenge', kind: 'mfa', rule: 'default' }, reason: 'default policy: second factor required' },
  { name: 'deny rule denies anonymous too', req: req('GET', '/internal/metrics'), subject: null, want: { action: 'deny', rule: 'blocked' } },

  // ---- exceptions ----
  { name: 'exception by user skips the rule', req: req('POST', '/billing/pay'), subject: user({ user: 'carol', passed: [['totp', 60 * MIN]] }), want: { action: 'allow', rule: 'billing-read' } },
  { name: 'exception by group skips the rule', req: req('GET', '/internal/metrics'), subject: user({ groups: ['contractors'], passed: [['totp', 1 * MIN]] }), want: { action: 'allow', rule: 'default' } },
  { name: 'exception of another user does not apply', req: req('POST', '/billing/pay'), subject: user({ user: 'mallory', passed: [['totp', 60 * MIN]] }), want: { action: 'challenge', kind: 'step_up', rule: 'billing' } },
  { name: 'exception expired yesterday no longer applies', req: req('GET', '/admin/x'), subject: admin([['totp', 60 * MIN]], { user: 'dave' }), want: { action: 'challenge', kind: 'step_up', rule: 'admin' } },
  { name: 'exception lasts its whole expiry day (UTC)', req: req('GET', '/admin/x'), subject: admin([['totp', 60 * MIN]], { user: 'erin' }), want: { action: 'allow', rule: 'default' }, now: Date.UTC(2026, 5, 15, 23, 59, 59, 999) },
  { name: 'exception ends at midnight after its day', req: req('GET', '/admin/x'), subject: admin([['totp', 1 * MIN]], { user: 'erin' }), want: { action: 'challenge', kind: 'step_up', rule: 'admin' }, now: Date.UTC(2026, 5, 16) + 11 * MIN },
  { name: 'exception with user and group needs both (both)', req: req('POST', '/tools/db/run'), subject: user({ user: 'frank', groups: ['ops'], passed: [['totp', 60 * MIN]] }), want: { action: 'allow', rule: 'default' } },
  { name: 'exception with user and group needs both (user only)', req: req('POST', '/tools/db/run'), subject: user({ user: 'grace', groups: ['ops'], passed: [['totp', 60 * MIN]] }), want: { action: 'challenge', kind: 'step_up', rule: 'tools' } },
];

const ciRules = [rule('reports-deny', { path: ['/Admin/Reports/**'] }, 'deny'), rule('Users', { path: ['/Users/*/Edit'] }, 'deny')];
const CI = compilePolicy(policyConfig('none', ciRules, []), ROLLOUT, { caseInsensitive: true });
const CS = compilePolicy(policyConfig('none', ciRules, []), ROLLOUT);
rows.push(
  { name: 'case-insensitive compile: lower-cased path matches a mixed-case pattern', req: req('GET', '/admin/reports/q3'), subject: null, want: { action: 'deny', rule: 'reports-deny' }, policy: CI },
  { name: 'case-insensitive compile: middle * pattern', req: req('GET', '/users/bob/edit'), subject: null, want: { action: 'deny', rule: 'Users' }, policy: CI },
  { name: 'case-sensitive compile: lower-case path does not match', req: req('GET', '/admin/reports/q3'), subject: null, want: { action: 'allow', rule: 'default' }, policy: CS },
  { name: 'case-sensitive compile: exact case matches', req: req('GET', '/Admin/Reports/q3'), subject: null, want: { action: 'deny', rule: 'reports-deny' }, policy: CS },
);

t.ok(rows.length >= 60, `table has ${rows.length} rows`);

for (const row of rows) {
  t.test(row.name, async (t) => {
    const d = evaluate(row.req, row.subject, row.policy ?? POLICY, row.now ?? NOW);
    const got: Record<string, unknown> = {};
    for (const key of Object.keys(row.want)) got[key] = (d as Record<string, unknown>)[key];
    t.same(got, row.want, `decision ${JSON.stringify(d)}`);
    if (typeof row.reason === 'string') t.ok(d.reason.includes(row.reason), `reason ${JSON.stringify(d.reason)} includes ${JSON.stringify(row.reason)}`);
    else if (row.reason) t.match(d.reason, row.reason);
    t.ok(d.reason.length > 0, 'has a reason');
  });
}

t.test('evaluate is pure: same input, same answer; inputs untouched', async (t) => {
  const subject = user({ passed: [['totp', 7 * MIN]] });
  const before = JSON.stringify(subject);
  const a = evaluate(req('POST', '/billing/pay'), subject, POLICY, NOW);
  const b = evaluate(req('POST', '/billing/pay'), subject, POLICY, NOW);
  t.same(a, b);
  t.equal(JSON.stringify(subject), before);
  if (a.action === 'challenge') {
    a.factors.push('sms');
    const c = evaluate(req('GET', '/settings/api-keys'), user(), POLICY, NOW);
    t.same(c.action === 'challenge' && c.factors, ['webauthn'], 'decisions do not share arrays with the policy');
  }
});

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(450), '450ms');
  t.equal(formatDuration(30 * SEC), '30s');
  t.equal(formatDuration(5 * MIN), '5m');
  t.equal(formatDuration(7 * MIN + 12 * SEC + 999), '7m12s');
  t.equal(formatDuration(90 * MIN), '1h30m');
  t.equal(formatDuration(51 * 3600 * SEC), '2d3h');
  t.equal(formatDuration(-5), '0ms');
});

t.test('compile rejects bad input with the rule named', async (t) => {
  const bad = (rules: RuleConfig[], exceptions: PolicyException[] = []) => () => compilePolicy(policyConfig('mfa', rules, exceptions), ROLLOUT);
  t.throws(bad([rule('x', { path: ['/a/b*'] }, 'none')]), { name: 'PolicyCompileError', message: /rule x: .*whole segments/ });
  t.throws(bad([rule('x', { path: ['/**/a'] }, 'none')]), /only allowed as the last segment/);
  t.throws(bad([rule('x', { path: ['a/b'] }, 'none')]), /must start with/);
  t.throws(bad([rule('x', { path: [] }, 'none')]), /empty list/);
  t.throws(bad([rule('x', { networks: ['10.0.0.0/33'] }, 'none')]), /rule x: match.networks: "10.0.0.0\/33"/);
  t.throws(bad([rule('x', { networks: ['10.0.0.300/8'] }, 'none')]), /not an IP address or CIDR/);
  t.throws(bad([rule('x', { networks: ['fe80::/abc'] }, 'none')]), /not an IP address or CIDR/);
  t.throws(bad([rule('x', { host: 'a.example.com:8080' }, 'none')]), /without port/);
  t.throws(bad([rule('x', {}, 'none'), rule('x', {}, 'deny')]), /duplicate rule id "x"/);
  t.throws(bad([rule('default', {}, 'none')]), /reserved/);
  // The ids the gateway decides under itself: the implicit sign-in rule's and the risk section's too.
  for (const id of [SIGN_IN_RULE, RISK_RULE]) t.throws(bad([rule(id, {}, 'none')]), { name: 'PolicyCompileError', message: `policy.rules[0]: the id "${id}" is reserved for ` });
  t.throws(bad([rule('x', {}, 'none')], [exception({ user: 'a', rule: 'nope', expires: '2027-01-01' })]), /unknown rule "nope"/);
  t.throws(bad([rule('x', {}, 'none')], [exception({ rule: 'x', expires: '2027-01-01' })]), /needs a user or a group/);
  t.throws(bad([rule('x', {}, 'none')], [exception({ user: 'a', rule: 'x', expires: '2027-02-30' })]), /expires: invalid date/);
  t.ok(bad([rule('x', { networks: ['::1', '10.0.0.0/8'] }, 'none')])(), 'valid networks compile');
});

// The index must give exactly what a plain first-match scan gives.
t.test('indexed lookup equals a linear first-match scan (random rules and paths)', async (t) => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const words = ['a', 'b', 'c', 'dd'];
  const seg = () => words[rand(words.length)];
  const randomPattern = () => {
    const depth = rand(4);
    const segs = Array.from({ length: depth }, () => (rand(6) === 0 ? '*' : seg()));
    const tail = rand(3);
    if (tail === 1) segs.push('*');
    if (tail === 2) segs.push('**');
    return '/' + segs.join('/');
  };
  let mismatches = 0;
  let checked = 0;
  for (let round = 0; round < 40; round++) {
    const rules: RuleConfig[] = Array.from({ length: 1 + rand(25) }, (_, i) => {
      const paths = rand(8) === 0 ? undefined : Array.from({ length: 1 + rand(2) }, randomPattern);
      return rule(`r${i}`, paths ? { path: paths } : {}, (['none', 'deny', 'login'] as const)[rand(3)]);
    });
    const policy = compilePolicy(policyConfig('mfa', rules, []), ROLLOUT);
    for (let k = 0; k < 60; k++) {
      const path = '/' + Array.from({ length: rand(5) }, seg).join('/') + (rand(5) === 0 ? '/' : '');
      const expected = rules.find((r) => !r.match.path || r.match.path.some((p) => matchPath(p, path)))?.id ?? 'default';
      const got = evaluate(req('GET', path), user({ passed: [['totp', 0]] }), policy, NOW).rule;
      checked++;
      if (got !== expected) {
        mismatches++;
        t.fail(`path ${path}: index says ${got}, scan says ${expected}; rules ${JSON.stringify(rules.map((r) => r.match.path))}`);
      }
    }
  }
  t.equal(mismatches, 0, `${checked} lookups agree`);
});
