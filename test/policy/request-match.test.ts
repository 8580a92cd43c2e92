// Parameter conditions and request matching (policy/param-match.ts,
// policy/request-match.ts), and the implicit upstream_form sign-in rule.

import t from 'tap';
import { compileParamCondition, conditionHolds, parseParams } from '../../src/policy/param-match.ts';
import { compileRequestMatch, matchRequest } from '../../src/policy/request-match.ts';
import { compilePolicy, SIGN_IN_RULE, signInOverrides } from '../../src/policy/compile.ts';
import { evaluate, routineMfaDue } from '../../src/policy/evaluate.ts';
import type { PolicyConfig } from '../../src/config/types.ts';
import type { SubjectFacts } from '../../src/policy/types.ts';

t.test('parameter conditions: values, wildcards, presence; repeats fail closed', async (t) => {
  const cases: Array<[string, Parameters<typeof compileParamCondition>[0], string[], boolean]> = [
    ['literal', 'login', ['login'], true],
    ['literal, other value', 'login', ['logout'], false],
    ['literal is case-sensitive', 'login', ['LOGIN'], false],
    ['absent parameter', 'login', [], false],
    ['repeated, same value: ambiguous', 'login', ['login', 'login'], false],
    ['repeated, different values', 'login', ['edit', 'login'], false],
    ['wildcard prefix', 'admin*', ['admin/users'], true],
    ['wildcard middle', '/a/*/c', ['/a/b/c'], true],
    ['wildcard no match', 'admin*', ['user'], false],
    ['regex characters are literal', 'a.b', ['aXb'], false],
    ['star alone matches empty', '*', [''], true],
    ['present', { present: true }, ['x'], true],
    ['present, repeated', { present: true }, ['x', 'y'], true],
    ['present, absent', { present: true }, [], false],
    ['absent', { present: false }, [], true],
    ['absent, present', { present: false }, [''], false],
  ];
  for (const [name, spec, values, expected] of cases) t.equal(conditionHolds(compileParamCondition(spec), values), expected, name);
  t.same(parseParams('?a=1&b=%20x&a=2'), [['a', '1'], ['b', ' x'], ['a', '2']]);
  t.same(parseParams(''), []);
});

t.test('request matches: query, form, params (either), fields', async (t) => {
  const m = (spec: Parameters<typeof compileRequestMatch>[0]) => compileRequestMatch(spec);
  const form = (s: string) => parseParams(s);
  t.ok(matchRequest(m({}), { query: '' }), 'an empty match matches everything');
  t.ok(matchRequest(m({ query: { do: 'login' } }), { query: 'do=login&id=start' }));
  t.notOk(matchRequest(m({ query: { do: 'login' } }), { query: 'id=start', form: form('do=login') }), 'query means the URL query only');
  t.ok(matchRequest(m({ params: { do: 'login' } }), { query: 'id=start', form: form('do=login&u=x') }), 'params: in the body');
  t.ok(matchRequest(m({ params: { do: 'login' } }), { query: 'do=login', form: [] }), 'params: in the query');
  t.notOk(matchRequest(m({ params: { do: 'login' } }), { query: 'do=login', form: form('do=edit') }), 'params: query and body disagree: no match');
  t.notOk(matchRequest(m({ params: { do: 'login' } }), { query: 'do=login', form: form('do=login') }), 'params: named twice is ambiguous');
  t.notOk(matchRequest(m({ params: { do: 'login' } }), { query: 'do=login' }), 'a form the gateway did not read matches no params condition');
  t.ok(matchRequest(m({ fields: ['pma_username'] }), { query: '', form: form('pma_username=&x=1') }), 'fields: present, even empty');
  t.notOk(matchRequest(m({ fields: ['pma_username'] }), { query: 'pma_username=x', form: [] }), 'fields are form fields');
  t.ok(matchRequest(m({ form: { action: 'save*' } }), { query: '', form: form('action=save_draft') }));
});

const SUBJECT: SubjectFacts = { user: 'victim', groups: [], factors: [], remembered_device: false, enrolled: ['totp'], in_rollout: true, deferred: false };
const ROLLOUT = { enforce_for: ['everyone'], max_deferrals: 3 };

function policy(extra: Partial<PolicyConfig> = {}): PolicyConfig {
  return { default: 'mfa', rules: [], stash_max_body: 1 << 20, stash_total_max: 64 << 20, inspect_body_max: 1 << 20, privileged_groups: [], exceptions: [], sign_in: { path: '/doku.php', match: { params: { do: 'login' }, fields: ['u'] } }, ...extra };
}

t.test('the implicit sign-in rule opens the login page and the sign-in, nothing else on the path', async (t) => {
  const p = compilePolicy(policy({ rules: [{ id: 'wiki', match: { path: ['/doku.php'] }, require: 'deny', mode: 'enforce' }] }), ROLLOUT);
  const ev = (method: string, query: string, form?: string) =>
    evaluate({ host: 'wiki', method, path: '/doku.php', ip: '10.0.0.1', query, ...(form !== undefined ? { form: parseParams(form) } : {}) }, null, p, 0);
  t.equal(ev('GET', 'do=login').rule, SIGN_IN_RULE, 'the login page');
  t.equal(ev('GET', 'do=login').action, 'allow');
  t.equal(ev('HEAD', 'do=login').rule, SIGN_IN_RULE);
  t.equal(ev('POST', 'id=start', 'do=login&u=alice&p=x').rule, SIGN_IN_RULE, 'the sign-in POST');
  t.equal(ev('GET', 'do=edit').rule, 'wiki', 'another action of the same script: the declared rule');
  t.equal(ev('POST', 'id=start', 'do=save&wikitext=x').action, 'deny', 'an edit: the declared rule');
  t.equal(ev('POST', 'id=start', 'do=login&p=x').rule, 'wiki', 'a login POST without the username field is not the sign-in');
  t.equal(ev('POST', 'id=start').rule, 'wiki', 'an unread body is not the sign-in');
  t.equal(ev('GET', 'do=login&do=admin').rule, 'wiki', 'an ambiguous action is not the login page');
  const folded = compilePolicy(policy(), ROLLOUT, { caseInsensitive: true });
  t.equal(evaluate({ host: 'w', method: 'GET', path: '/doku.php', ip: '1.1.1.1', query: 'do=login' }, null, folded, 0).rule, SIGN_IN_RULE, 'also in the folded policy');
  t.equal(compilePolicy(policy({ sign_in: undefined }), ROLLOUT).root.children, null, 'no sign-in rule without upstream_form');
});

t.test('check: rules the implicit sign-in rule overrides', async (t) => {
  const rules = [
    { id: 'all', match: { path: ['/**'] }, require: 'mfa' as const, mode: 'enforce' as const },
    { id: 'open', match: { path: ['/doku.php'] }, require: 'none' as const, mode: 'enforce' as const },
    { id: 'deletes', match: { path: ['/doku.php'], methods: ['DELETE'] }, require: 'deny' as const, mode: 'enforce' as const },
    { id: 'other', match: { path: ['/admin/**'] }, require: 'deny' as const, mode: 'enforce' as const },
  ];
  const w = signInOverrides(policy({ rules }));
  t.equal(w.length, 1);
  t.match(w[0], /rule all \(require: mfa\).*login_path \/doku\.php/);
  t.same(signInOverrides(policy({ rules, sign_in: undefined })), []);
});

t.test('routineMfaDue: the second factor owed after an app sign-in, whatever the target', async (t) => {
  const p = compilePolicy(policy(), ROLLOUT);
  t.match(routineMfaDue(SUBJECT, p, 0), { action: 'challenge', kind: 'mfa' });
  t.match(routineMfaDue({ ...SUBJECT, enrolled: [] }, p, 0), { action: 'challenge', kind: 'enroll' });
  t.equal(routineMfaDue({ ...SUBJECT, factors: [{ kind: 'totp', amr: 'otp', phishing_resistant: false, at: 0 }] }, p, 1).action, 'allow');
  t.equal(routineMfaDue({ ...SUBJECT, in_rollout: false }, p, 0).action, 'allow', 'outside the rollout');
  t.equal(routineMfaDue(SUBJECT, compilePolicy(policy({ default: 'login' }), ROLLOUT), 0).action, 'allow', 'nothing requires MFA');
  const oneRule = compilePolicy(policy({ default: 'login', rules: [{ id: 'pay', match: { path: ['/pay'] }, require: 'mfa', mode: 'enforce' }] }), ROLLOUT);
  t.equal(routineMfaDue(SUBJECT, oneRule, 0).action, 'challenge', 'one rule requiring MFA is enough');
});
