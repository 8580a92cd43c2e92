// Reading an app login form's username the way the app will (identity/login-form.ts).

import t from 'tap';
import { canonicalUsername, namesSameUser, readLoginUsername, whoamiUser, type UsernameRules } from '../../src/identity/login-form.ts';
import { parseParams } from '../../src/policy/param-match.ts';

const FOLD = { username_case: 'fold' as const, allow_unicode: false };
const FOLD_UNICODE = { username_case: 'fold' as const, allow_unicode: true };
const EXACT = { username_case: 'exact' as const, allow_unicode: false };

t.test('readLoginUsername: one unambiguous value or a refusal', async (t) => {
  t.same(readLoginUsername('', parseParams('username=alice&password=x'), 'username'), { ok: true, value: 'alice' });
  t.same(readLoginUsername('', parseParams('password=x'), 'username'), { ok: true, value: null }, 'absent');
  t.same(readLoginUsername('', parseParams('username=&password=x'), 'username'), { ok: true, value: null }, 'empty');
  t.match(readLoginUsername('', parseParams('username=mallory&username=victim'), 'username'), { ok: false, reason: /repeated/ }, 'PHP keeps the last');
  t.match(readLoginUsername('', parseParams('username=victim&username=victim'), 'username'), { ok: false }, 'even the same value twice');
  t.match(readLoginUsername('username=victim', parseParams('username=mallory'), 'username'), { ok: false, reason: /query/ }, 'servlets read the query first');
  t.match(readLoginUsername('username=', parseParams('username=mallory'), 'username'), { ok: false }, 'an empty query copy too');
  t.same(readLoginUsername('id=start', parseParams('u=alice'), 'u'), { ok: true, value: 'alice' }, 'other query parameters are fine');
});

t.test('canonicalUsername: one gateway user per app user', async (t) => {
  const cases: Array<[string, UsernameRules, string | null]> = [
    ['alice', FOLD, 'alice'],
    ['Alice', FOLD, 'alice'],
    ['ALICE@Example.COM', FOLD, 'alice@example.com'],
    ['vîctim', FOLD, null],
    ['ａｌｉｃｅ', FOLD, null],
    ['vîctim', FOLD_UNICODE, 'victim'],
    ['VÎCTIM', FOLD_UNICODE, 'victim'],
    ['ａｌｉｃｅ', FOLD_UNICODE, 'alice'],
    ['Ålice', FOLD_UNICODE, 'alice'],
    ['Alice', EXACT, 'Alice'],
    ['alice', EXACT, 'alice'],
    ['vîctim', EXACT, null],
    [' alice', FOLD, null],
    ['alice ', FOLD, null],
    ['al\nice', FOLD, null],
    ['bob\u0000', FOLD_UNICODE, null],
    ['', FOLD, null],
    ['x'.repeat(129), FOLD, null],
    ['x'.repeat(128), FOLD, 'x'.repeat(128)],
  ];
  for (const [raw, rules, expected] of cases) {
    const c = canonicalUsername(raw, rules);
    t.same(c.ok ? c.value : null, expected, `${raw.length > 20 ? `${raw.length} chars` : JSON.stringify(raw)} (${rules.username_case}${rules.allow_unicode ? ', unicode' : ''})`);
  }
});

t.test('namesSameUser and whoamiUser: the app\'s confirmation', async (t) => {
  t.ok(namesSameUser('victim', 'Victim', FOLD));
  t.ok(namesSameUser('victim', ' victim\n', FOLD), 'surrounding space in a page or header is not the user\'s');
  t.notOk(namesSameUser('victim', 'mallory', FOLD));
  t.notOk(namesSameUser('Victim', 'victim', EXACT));
  t.notOk(namesSameUser('victim', null, FOLD), 'the app named nobody');
  t.notOk(namesSameUser('victim', undefined, FOLD));
  t.equal(whoamiUser('<span id="user">victim</span>', /<span id="user">([^<]+)<\/span>/), 'victim');
  t.equal(whoamiUser('<b>o&#39;brien</b>', /<b>([^<]+)<\/b>/), "o'brien", 'entities decoded');
  t.equal(whoamiUser('nobody', /<span id="user">([^<]+)<\/span>/), null);
});
