import t from 'tap';
import type { RolloutConfig } from '../../src/config/types.ts';
import { deferralAllowed, isInRollout, isoDateEnd } from '../../src/policy/rollout.ts';

const rollout = (r: Partial<RolloutConfig>): RolloutConfig => ({ enforce_for: ['everyone'], max_deferrals: 3, ...r });

t.test('isInRollout', async (t) => {
  const rows: [string[], string[], boolean][] = [
    [['everyone'], [], true],
    [['everyone'], ['staff'], true],
    [['pilot'], ['staff', 'pilot'], true],
    [['pilot', 'finance'], ['finance'], true],
    [['pilot'], ['staff'], false],
    [['pilot'], [], false],
    [[], ['everyone', 'pilot'], false], // [] = nobody
    [['Pilot'], ['pilot'], false], // group names are exact
  ];
  for (const [enforce_for, groups, expected] of rows) {
    t.equal(isInRollout(groups, rollout({ enforce_for })), expected, `enforce_for ${JSON.stringify(enforce_for)}, groups ${JSON.stringify(groups)}`);
  }
});

t.test('isoDateEnd', async (t) => {
  t.equal(isoDateEnd('2026-12-31'), Date.UTC(2027, 0, 1), 'a date lasts its whole UTC day');
  t.equal(isoDateEnd('2028-02-29'), Date.UTC(2028, 2, 1), 'leap day');
  t.equal(isoDateEnd('2026-06-15T08:00:00Z'), Date.UTC(2026, 5, 15, 8), 'a timestamp ends at that instant');
  t.equal(isoDateEnd('2026-06-15T10:00:00+02:00'), Date.UTC(2026, 5, 15, 8), 'offsets are honoured');
  for (const bad of ['2026-02-30', '2026-13-01', '31/12/2026', 'tomorrow', '', '2026-1-1']) {
    t.throws(() => isoDateEnd(bad), /invalid date/, JSON.stringify(bad));
  }
});

t.test('deferralAllowed: the whole grace_until day is allowed', async (t) => {
  const r = rollout({ grace_until: '2026-12-31', max_deferrals: 3 });
  const rows: [string, number, number, boolean, number][] = [
    ['well before', Date.UTC(2026, 5, 1), 0, true, 3],
    ['start of the last day', Date.UTC(2026, 11, 31), 1, true, 2],
    ['last millisecond of the last day', Date.UTC(2026, 11, 31, 23, 59, 59, 999), 2, true, 1],
    ['midnight after the last day', Date.UTC(2027, 0, 1), 0, false, 0],
    ['a month later', Date.UTC(2027, 1, 1), 0, false, 0],
    ['all deferrals used', Date.UTC(2026, 5, 1), 3, false, 0],
    ['more than allowed (bad state) still refused', Date.UTC(2026, 5, 1), 7, false, 0],
  ];
  for (const [name, now, deferrals, allowed, remaining] of rows) {
    const got = deferralAllowed({ deferrals }, r, now);
    t.same({ allowed: got.allowed, remaining: got.remaining }, { allowed, remaining }, name);
    t.ok(got.reason.length > 0, `${name}: ${got.reason}`);
  }
  t.match(deferralAllowed({ deferrals: 2 }, r, Date.UTC(2026, 5, 1)).reason, 'may defer 1 more time until 2026-12-31');
  t.match(deferralAllowed({ deferrals: 0 }, r, Date.UTC(2027, 0, 1)).reason, /grace period ended/);
  t.match(deferralAllowed({ deferrals: 3 }, r, Date.UTC(2026, 5, 1)).reason, /all 3 deferrals used/);
});

t.test('deferralAllowed: no grace period, zero deferrals, bad date', async (t) => {
  t.same(deferralAllowed({ deferrals: 0 }, rollout({}), Date.UTC(2026, 0, 1)).allowed, false, 'no grace_until: enroll now');
  t.same(deferralAllowed({ deferrals: 0 }, rollout({ grace_until: '2026-12-31', max_deferrals: 0 }), Date.UTC(2026, 0, 1)).allowed, false, 'max_deferrals 0');
  const bad = deferralAllowed({ deferrals: 0 }, rollout({ grace_until: 'soon' }), Date.UTC(2026, 0, 1));
  t.equal(bad.allowed, false, 'an invalid date fails closed');
  t.match(bad.reason, /invalid/);
});
