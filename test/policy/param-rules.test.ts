// Declared rules with `query` / `params` conditions (policy/param-match.ts,
// policy/form-fields.ts, policy/request-match.ts, evaluate.ts): one table of
// requests against one policy, as the gateway decides them.

import t from 'tap';
import { compilePolicy, PolicyCompileError } from '../../src/policy/compile.ts';
import { evaluate, readsBody } from '../../src/policy/evaluate.ts';
import { bodyParams, type RequestBody } from '../../src/policy/form-fields.ts';
import { decodeParams } from '../../src/policy/param-match.ts';
import type { PolicyConfig, RuleConfig } from '../../src/config/types.ts';
import type { RequestFacts, SubjectFacts } from '../../src/policy/types.ts';

const MIN = 60_000;
const NOW = 1_000 * MIN;
const rules: RuleConfig[] = [
  { id: 'wiki-admin', match: { path: ['/doku.php'], query: { do: ['admin', 'export_*'] }, ignore_case: true }, require: 'mfa', max_age: 5 * MIN, mode: 'enforce' },
  { id: 'db-export', match: { path: ['/index.php'], params: { route: ['/export', '/server/privileges*'] } }, require: 'mfa', max_age: 5 * MIN, mode: 'enforce' },
  { id: 'api-token', match: { path: ['/api'], query: { token: 'present' } }, require: 'deny', mode: 'enforce' },
  { id: 'api-open', match: { path: ['/api'], query: { debug: 'absent' } }, require: 'none', mode: 'enforce' },
  { id: 'open-show', match: { path: ['/open.php'], query: { do: 'show' } }, require: 'none', mode: 'enforce' },
];
const config: PolicyConfig = { default: 'login', rules, stash_max_body: 1 << 20, stash_total_max: 64 << 20, inspect_body_max: 1 << 20, privileged_groups: [], exceptions: [] };
const policy = compilePolicy(config, { enforce_for: ['everyone'], max_deferrals: 3 });

// Signed in, TOTP passed 20 minutes ago: enough for the default (login), too old for the 5-minute step-up rules.
const STALE: SubjectFacts = { user: 'alice', groups: [], factors: [{ kind: 'totp', amr: 'otp', phishing_resistant: false, at: NOW - 20 * MIN }], remembered_device: false, enrolled: ['totp'], in_rollout: true, deferred: false };

const form = (text: string): RequestBody => ({ contentType: 'application/x-www-form-urlencoded', bytes: Buffer.from(text, 'latin1') });
const B = 'XyZ42';
const multipart = (parts: string, boundary = B): RequestBody => ({ contentType: `multipart/form-data; boundary=${boundary}`, bytes: Buffer.from(parts, 'latin1') });
const part = (head: string, value: string) => `--${B}\r\nContent-Disposition: form-data; ${head}\r\n\r\n${value}\r\n`;
const END = `--${B}--\r\n`;

type Row = [name: string, method: string, target: string, body: RequestBody, opts: { php?: true; anon?: true }, expect: string];
// expect: '<action> <rule>'; step-up challenges read 'challenge <rule>'.
const rows: Row[] = [
  // query: values, wildcards, case, decoding
  ['query value matches', 'GET', '/doku.php?do=admin', undefined, {}, 'challenge wiki-admin'],
  ['another action: the default', 'GET', '/doku.php?do=show&id=start', undefined, {}, 'allow default'],
  ['no query', 'GET', '/doku.php', undefined, {}, 'allow default'],
  ['ignore_case: do=ADMIN', 'GET', '/doku.php?do=ADMIN', undefined, {}, 'challenge wiki-admin'],
  ['wildcard: export_raw', 'GET', '/doku.php?do=export_raw', undefined, {}, 'challenge wiki-admin'],
  ['wildcard needs its literal part: export', 'GET', '/doku.php?do=export', undefined, {}, 'allow default'],
  ['percent-encoded value', 'GET', '/doku.php?do=%61dmin', undefined, {}, 'challenge wiki-admin'],
  ['percent-encoded name', 'GET', '/doku.php?%64o=admin', undefined, {}, 'challenge wiki-admin'],
  ['decoded once only: %2561dmin is "%61dmin"', 'GET', '/doku.php?do=%2561dmin', undefined, {}, 'allow default'],
  ["'+' is a space: 'ad min' is another value", 'GET', '/doku.php?do=ad+min', undefined, {}, 'allow default'],
  ['name without =: empty value', 'GET', '/doku.php?do', undefined, {}, 'allow default'],
  ['HEAD like GET', 'HEAD', '/doku.php?do=admin', undefined, {}, 'challenge wiki-admin'],
  ['query rule ignores the body', 'POST', '/doku.php?id=x', form('do=admin'), {}, 'allow default'],
  // duplicates: any occurrence counts
  ['duplicate, same value', 'GET', '/doku.php?do=admin&do=admin', undefined, {}, 'challenge wiki-admin'],
  ['duplicate, admin last (PHP reads it)', 'GET', '/doku.php?do=show&do=admin', undefined, {}, 'challenge wiki-admin'],
  ['duplicate, admin first (servlets read it)', 'GET', '/doku.php?do=admin&do=show', undefined, {}, 'challenge wiki-admin'],
  ['duplicate, neither matches', 'GET', '/doku.php?do=show&do=edit', undefined, {}, 'allow default'],
  // fail closed on what cannot be read
  ['invalid UTF-8 in the value', 'GET', '/doku.php?do=adm%FFin', undefined, {}, 'challenge wiki-admin'],
  ['encoded NUL in the value', 'GET', '/doku.php?do=admin%00', undefined, {}, 'challenge wiki-admin'],
  ['encoded newline in the value', 'GET', '/doku.php?do=admin%0A', undefined, {}, 'challenge wiki-admin'],
  ['an undecodable name puts every condition in doubt', 'GET', '/doku.php?%FF=1&do=show', undefined, {}, 'challenge wiki-admin'],
  ['a bad value of another name does not matter', 'GET', '/doku.php?x=%FF&do=show', undefined, {}, 'allow default'],
  ['UTF-8 elsewhere is fine', 'GET', '/doku.php?id=%C3%A9t%C3%A9&do=show', undefined, {}, 'allow default'],
  ['a stray % stays literal', 'GET', '/doku.php?%ZZ=1&do=admin', undefined, {}, 'challenge wiki-admin'],
  ['%uXXXX (IIS reads a UTF-16 unit, PHP the text): unreadable', 'GET', '/doku.php?do=%u0061dmin', undefined, {}, 'challenge wiki-admin'],
  ['%u in a name puts every condition in doubt', 'GET', '/doku.php?%u0064o=show', undefined, {}, 'challenge wiki-admin'],
  // ';' splits pairs for Rack 2 and Perl's CGI, not for PHP or servlets
  ["';': a second do=admin for Rack 2", 'GET', '/doku.php?do=show;do=admin', undefined, {}, 'challenge wiki-admin'],
  ["';' in the name's pair, no reading matches: certain", 'GET', '/doku.php?do=show;sort=asc', undefined, {}, 'allow default'],
  ["';' in another pair: do is certain", 'GET', '/doku.php?do=show&sort=a;b', undefined, {}, 'allow default'],
  ["';' in a form body", 'POST', '/index.php', form('route=/sql;route=/export'), {}, 'challenge db-export'],
  ["';' hiding a name: present is in doubt", 'GET', '/api?debug=1;token=x', undefined, {}, 'deny api-token'],
  ["';' and an opening rule: in doubt, not opened", 'GET', '/open.php?do=show;do=admin', undefined, { anon: true }, 'challenge default'],
  // PHP naming (routes[].params_style: php)
  ['plain style: do[admin] is another name', 'GET', '/doku.php?do[admin]=1', undefined, {}, 'allow default'],
  ['php style: do[admin]=1 is do=admin', 'GET', '/doku.php?do[admin]=1', undefined, { php: true }, 'challenge wiki-admin'],
  ['php style, encoded brackets', 'GET', '/doku.php?do%5Badmin%5D=1', undefined, { php: true }, 'challenge wiki-admin'],
  ['php style: do[]=admin is do=admin', 'GET', '/doku.php?do[]=admin', undefined, { php: true }, 'challenge wiki-admin'],
  ['php style: do[show]=1 is do=show', 'GET', '/doku.php?do[show]=1', undefined, { php: true }, 'allow default'],
  // params: query or body
  ['params in the query', 'GET', '/index.php?route=/export', undefined, {}, 'challenge db-export'],
  ['params wildcard', 'GET', '/index.php?route=/server/privileges&db=x', undefined, {}, 'challenge db-export'],
  ['params, another route', 'GET', '/index.php?route=/sql', undefined, {}, 'allow default'],
  ['params only in a urlencoded body', 'POST', '/index.php', form('route=%2Fexport&db=x'), {}, 'challenge db-export'],
  ['params: query and body disagree', 'POST', '/index.php?route=/sql', form('route=/export'), {}, 'challenge db-export'],
  ['params: body with another route', 'POST', '/index.php', form('route=/sql&token=x'), {}, 'allow default'],
  ["params: '+' in a form is a space", 'POST', '/index.php', form('route=/ex+port'), {}, 'allow default'],
  ['params: POST without a body', 'POST', '/index.php?route=/sql', undefined, {}, 'allow default'],
  ['params: PUT form body counts too', 'PUT', '/index.php', form('route=/export'), {}, 'challenge db-export'],
  ["params: a GET's body is not read", 'GET', '/index.php?route=/sql', 'unread', {}, 'allow default'],
  ['multipart field', 'POST', '/index.php', multipart(part('name="route"', '/export') + END), {}, 'challenge db-export'],
  ['multipart, quoted boundary', 'POST', '/index.php', { contentType: `multipart/form-data; boundary="${B}"`, bytes: Buffer.from(part('name="route"', '/export') + END) }, {}, 'challenge db-export'],
  ['multipart other fields, a textarea with newlines', 'POST', '/index.php', multipart(part('name="sql"', 'a\r\nb') + part('name="route"', '/sql') + END), {}, 'allow default'],
  ['multipart file part is not a field', 'POST', '/index.php', multipart(part('name="route"; filename="x.txt"', '/export') + END), {}, 'allow default'],
  ['multipart without its closing delimiter', 'POST', '/index.php', multipart(part('name="route"', '/sql')), {}, 'challenge db-export'],
  ['multipart without a boundary', 'POST', '/index.php', { contentType: 'multipart/form-data', bytes: Buffer.from(part('name="route"', '/sql') + END) }, {}, 'challenge db-export'],
  // multipart written so that apps' parsers part ways: not read, in doubt
  ['multipart, a boundary over 70 characters', 'POST', '/index.php', multipart(part('name="route"', '/sql').replaceAll(B, 'A'.repeat(71)) + `--${'A'.repeat(71)}--\r\n`, 'A'.repeat(71)), {}, 'challenge db-export'],
  ['multipart, two boundary parameters (Rack takes the last)', 'POST', '/index.php', { contentType: `multipart/form-data; boundary=${B}; boundary=other`, bytes: Buffer.from(part('name="route"', '/sql') + END) }, {}, 'challenge db-export'],
  ['multipart, "boundary" elsewhere in the header (PHP finds the first)', 'POST', '/index.php', { contentType: `multipart/form-data; xboundary=other; boundary=${B}`, bytes: Buffer.from(part('name="route"', '/sql') + END) }, {}, 'challenge db-export'],
  ['multipart, a name given twice', 'POST', '/index.php', multipart(part('name="x"; name="route"', '/sql') + END), {}, 'challenge db-export'],
  ["multipart, a 'single-quoted' name (PHP strips the quotes)", 'POST', '/index.php', multipart(part("name='route'", '/sql') + END), {}, 'challenge db-export'],
  ["multipart, a space after '=' (PHP skips it)", 'POST', '/index.php', multipart(part('name= "route"', '/sql') + END), {}, 'challenge db-export'],
  ['multipart, a folded header line', 'POST', '/index.php', multipart(`--${B}\r\nContent-Disposition: form-data;\r\n name="route"\r\n\r\n/sql\r\n${END}`), {}, 'challenge db-export'],
  ['multipart, filename*= (PHP reads a field, busboy a file)', 'POST', '/index.php', multipart(part("name=\"route\"; filename*=UTF-8''x.txt", '/sql') + END), {}, 'challenge db-export'],
  ['multipart, another disposition type', 'POST', '/index.php', multipart(`--${B}\r\nContent-Disposition: form-datax; name="route"\r\n\r\n/sql\r\n${END}`), {}, 'challenge db-export'],
  ['multipart, "boundary" inside the boundary (WebKit\'s ----WebKitFormBoundary…) is read', 'POST', '/index.php', multipart(part('name="route"', '/sql').replaceAll(B, '----WebKitFormBoundaryx7') + '------WebKitFormBoundaryx7--\r\n', '----WebKitFormBoundaryx7'), {}, 'allow default'],
  ['multipart, "boundary=" inside a quoted boundary (Rack takes the last)', 'POST', '/index.php', { contentType: `multipart/form-data; boundary="${B} boundary=c"`, bytes: Buffer.from(part('name="route"', '/sql') + END) }, {}, 'challenge db-export'],
  ['multipart, a plain boundary of 70 is read', 'POST', '/index.php', multipart(part('name="route"', '/sql').replaceAll(B, 'A'.repeat(70)) + `--${'A'.repeat(70)}--\r\n`, 'A'.repeat(70)), {}, 'allow default'],
  ['multipart, parameters with spaces around ";" and a charset are read', 'POST', '/index.php', { contentType: `multipart/form-data ;  charset=utf-8 ; boundary="${B}"`, bytes: Buffer.from(part('name="route" ;filename2=x', '/sql') + END) }, {}, 'allow default'],
  ['other content type (JSON) fails closed', 'POST', '/index.php', { contentType: 'application/json', bytes: Buffer.from('{"route":"/sql"}') }, {}, 'challenge db-export'],
  ['text/plain fails closed', 'POST', '/index.php', { contentType: 'text/plain', bytes: Buffer.from('route=/sql') }, {}, 'challenge db-export'],
  ['oversize or unread body fails closed', 'POST', '/index.php?route=/sql', 'unread', {}, 'challenge db-export'],
  ['missing body on another path: no params rule, no doubt', 'POST', '/other', 'unread', {}, 'allow default'],
  // present / absent
  ['present', 'GET', '/api?token=x', undefined, {}, 'deny api-token'],
  ['present, empty value', 'GET', '/api?token=', undefined, {}, 'deny api-token'],
  ['present, no =', 'GET', '/api?token', undefined, {}, 'deny api-token'],
  ['absent holds', 'GET', '/api', undefined, {}, 'allow api-open'],
  ['absent fails: the default', 'GET', '/api?debug=1', undefined, {}, 'allow default'],
  ['an undecodable name: present and absent in doubt, the most demanding applies', 'GET', '/api?%FF=1', undefined, {}, 'deny api-token'],
  // a doubt never opens: an opening rule in doubt does not apply
  ['opening rule, clear', 'GET', '/open.php?do=show', undefined, { anon: true }, 'allow open-show'],
  ['opening rule, ambiguous', 'GET', '/open.php?do=show&do=admin', undefined, { anon: true }, 'challenge default'],
  ['opening rule, encoded control', 'GET', '/open.php?do=sh%00ow', undefined, { anon: true }, 'challenge default'],
];

t.test(`parameter rules: ${rows.length} requests`, async (t) => {
  t.ok(rows.length >= 40);
  for (const [name, method, target, body, opts, expect] of rows) {
    const q = target.indexOf('?');
    const facts: RequestFacts = { host: 'apps', method, path: q === -1 ? target : target.slice(0, q), ip: '10.0.0.1', query: q === -1 ? '' : target.slice(q + 1) };
    if (body !== undefined) facts.body = body;
    if (opts.php) facts.params_style = 'php';
    const d = evaluate(facts, opts.anon ? null : STALE, policy, NOW);
    t.equal(`${d.action} ${d.rule}`, expect, `${name}: ${method} ${target} (${d.reason})`);
    if (expect.startsWith('challenge') && !opts.anon) t.match(d, { kind: 'step_up', max_age: 5 * MIN }, `${name}: a fresh second factor`);
  }
});

t.test('a fresh factor satisfies the parameter rule; a doubt says why', async (t) => {
  const fresh = { ...STALE, factors: [{ ...STALE.factors[0], at: NOW - MIN }] };
  const facts: RequestFacts = { host: 'a', method: 'GET', path: '/doku.php', ip: '', query: 'do=admin' };
  t.match(evaluate(facts, fresh, policy, NOW), { action: 'allow', rule: 'wiki-admin' });
  t.match(evaluate({ ...facts, query: 'do=show&do=admin' }, STALE, policy, NOW).reason, /ambiguous or unread/);
});

t.test('readsBody: only paths where a params rule could decide', async (t) => {
  const f = (path: string, method = 'POST'): RequestFacts => ({ host: 'a', method, path, ip: '' });
  t.equal(readsBody(f('/index.php'), policy), true, 'params rule');
  t.equal(readsBody(f('/doku.php'), policy), false, 'query rules need no body');
  t.equal(readsBody(f('/elsewhere'), policy), false);
  const later = compilePolicy({ ...config, rules: [{ id: 'all', match: { path: ['/**'] }, require: 'login', mode: 'enforce' }, ...rules] }, { enforce_for: ['everyone'], max_deferrals: 3 });
  t.equal(readsBody(f('/index.php'), later), false, 'an unconditional rule before it decides first');
});

t.test('decoding and multipart details', async (t) => {
  t.same(decodeParams('a=1&&b=%20x+y&a=2').pairs, [['a', '1'], ['b', ' x y'], ['a', '2']]);
  t.same(decodeParams('do.x=1&a b=2', 'php').pairs, [['do_x', '1'], ['a_b', '2']], "PHP's name mangling");
  t.same(decodeParams('do[a][b]=1', 'php').pairs, [['do', 'a']]);
  const semi = decodeParams('a=1;b=2&c=3');
  t.same(semi.pairs, [['a', '1;b=2'], ['a', '1'], ['b', '2'], ['c', '3']], "';': both readings of the pair are occurrences");
  t.same(semi.ambiguous, ['a', 'a', 'b'], 'and their names are in doubt');
  t.equal(decodeParams('a=1&c=3').ambiguous, undefined, 'no list without a ;');
  t.same(decodeParams('a=%u0041&%U0042=1'), { pairs: [['a', null]], doubtful: true }, '%uXXXX is unreadable, in either case');
  t.same(bodyParams(multipart(part('name="a[x]"', 'v') + END), 'php').pairs, [['a', 'x']]);
  t.same(bodyParams(multipart(`preamble\r\n${part('name=a', '1')}${END}`), 'plain').pairs, [['a', '1']], 'preamble, unquoted name');
  t.equal(bodyParams(multipart(part('name="a"', '\u00ff') + END), 'plain').pairs[0][1], null, 'not UTF-8: unreadable value');
});

t.test('case-insensitive routes compare parameter names case-blind (ASP.NET), values as written', async (t) => {
  const folded = compilePolicy({ ...config, rules: [{ id: 'del', match: { path: ['/App.aspx'], query: { Action: 'delete' } }, require: 'deny', mode: 'enforce' }] }, { enforce_for: ['everyone'], max_deferrals: 3 }, { caseInsensitive: true });
  const plain = compilePolicy({ ...config, rules: [{ id: 'del', match: { path: ['/App.aspx'], query: { Action: 'delete' } }, require: 'deny', mode: 'enforce' }] }, { enforce_for: ['everyone'], max_deferrals: 3 });
  const at = (query: string): RequestFacts => ({ host: 'a', method: 'GET', path: '/app.aspx', ip: '', query });
  for (const q of ['action=delete', 'ACTION=delete', 'Action=delete', 'aCtIoN=delete']) t.match(evaluate(at(q), STALE, folded, NOW), { action: 'deny', rule: 'del' }, `folded: ${q}`);
  t.match(evaluate(at('action=DELETE'), STALE, folded, NOW), { action: 'allow' }, 'values stay case-sensitive unless ignore_case');
  t.match(evaluate(at('action=show&ACTION=delete'), STALE, folded, NOW), { action: 'deny' }, 'an occurrence under another case counts: in doubt');
  t.match(evaluate({ ...at('ACTION=delete'), path: '/App.aspx' }, STALE, plain, NOW), { action: 'allow' }, 'a case-sensitive route compares names exactly');
});

t.test('bad parameter conditions are config errors', async (t) => {
  const bad = (match: RuleConfig['match']) => () => compilePolicy({ ...config, rules: [{ id: 'x', match, require: 'mfa', mode: 'enforce' }] }, { enforce_for: ['everyone'], max_deferrals: 3 });
  t.throws(bad({ path: ['/a'], query: { do: [] } }), PolicyCompileError);
  t.throws(bad({ path: ['/a'], query: { '': 'x' } }), PolicyCompileError);
  t.throws(bad({ path: ['/a'], params: { do: ['present', 'x'] } }), /stand alone/);
  t.throws(bad({ path: ['/a'], query: { do: 3 as unknown as string } }), PolicyCompileError);
});
