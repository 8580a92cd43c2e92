// Adaptive MFA, pure: scoring, the risk rules over the policy's answer (through
// the one decision function), relaxation, report mode, and the signals of a
// sign-in from its history (README "Risk signals").

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { buildSnapshot } from '../../src/http/snapshot.ts';
import { decide, decideAfterAppSignIn, type DecideFacts } from '../../src/policy/decide.ts';
import { compileRisk, describeRisk, riskOutcome, scoreSignals, type CompiledRisk } from '../../src/policy/risk.ts';
import { distanceKm, observeSignIn, type SignInObservation, type SignInPlace } from '../../src/policy/risk-signals.ts';
import { networkOf } from '../../src/policy/address-prefix.ts';
import type { FactorCheck, SubjectFacts } from '../../src/policy/types.ts';
import type { RiskSignal } from '../../src/config/types.ts';

const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40) };
const NOW = Date.parse('2026-11-22T12:00:00Z');
const SIGNED_IN = NOW - 60_000;
const MIN = 60_000;

function snapshotOf(risk: Record<string, unknown> | undefined, policy: Record<string, unknown> = {}) {
  const config = {
    server: { public_url: 'http://gw.test' },
    routes: [{ path: '/', upstream: 'http://127.0.0.1:9' }],
    policy: {
      default: 'mfa',
      rules: [
        { id: 'open', match: { path: '/open/**' }, require: 'none' },
        { id: 'login-only', match: { path: '/docs/**' }, require: 'login' },
        { id: 'closed', match: { path: '/closed/**' }, require: 'deny' },
        { id: 'pay', match: { path: '/pay/**' }, require: 'mfa', max_age: '5m' },
      ],
      ...policy,
    },
    ...(risk ? { risk } : {}),
  };
  return buildSnapshot(parseConfig(stringify(config), 'test.yaml', { env: SECRETS, now: () => new Date(NOW), persistDevSecrets: false }));
}

const ISSUE_RISK = {
  signals: { new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60 },
  rules: [{ above: 50, require: 'mfa', max_age: 0 }, { above: 90, require: 'deny' }],
  relax_routine_below: 10,
  mode: 'enforce',
};

const totpAt = (at: number): FactorCheck => ({ kind: 'totp', amr: 'otp', phishing_resistant: false, at });

function subject(over: Partial<SubjectFacts> & { signals?: RiskSignal[] } = {}): SubjectFacts {
  const { signals, ...rest } = over;
  return {
    user: 'alice', groups: [], factors: [], remembered_device: true, enrolled: ['totp'], in_rollout: true, deferred: false,
    risk: { at: SIGNED_IN, signals: signals ?? [] },
    ...rest,
  };
}

function facts(target: string, ip = '192.0.2.10'): DecideFacts {
  return { target, host: 'gw.test', via: 'proxy', method: 'GET', overrides: [], ip };
}

t.test('scoring: the sum of the raised signals\' weights', async (t) => {
  const w = { new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60 };
  const rows: Array<[RiskSignal[], number, string]> = [
    [[], 0, 'risk 0 (no signal)'],
    [['new_device'], 20, 'risk 20 (new_device 20)'],
    [['new_network', 'new_device'], 30, 'risk 30 (new_device 20, new_network 10)'],
    [['new_network', 'new_network'], 10, 'risk 10 (new_network 10)'],
    [['impossible_travel', 'new_country', 'new_network'], 130, 'risk 130 (impossible_travel 80, new_country 40, new_network 10)'],
    [['recent_failures', 'risky_network'], 90, 'risk 90 (risky_network 60, recent_failures 30)'],
    [['new_device', 'new_network', 'new_country', 'impossible_travel', 'recent_failures', 'risky_network'], 240, 'risk 240 (impossible_travel 80, risky_network 60, new_country 40, recent_failures 30, new_device 20, new_network 10)'],
  ];
  for (const [signals, score, words] of rows) {
    const s = scoreSignals(w, signals);
    t.equal(s.score, score, signals.join('+'));
    t.equal(describeRisk(w, s), words);
  }
  t.same(scoreSignals({ ...w, new_device: 0 }, ['new_device']), { score: 0, signals: ['new_device'] }, 'a weight of 0 still names the signal');
});

t.test('which rule a score meets', async (t) => {
  const c = compileRisk(snapshotOf(ISSUE_RISK).config.risk)!;
  const rows: Array<[number, string]> = [
    [0, 'relax'], [9, 'relax'], [10, 'none'], [50, 'none'], [51, 'mfa'], [90, 'mfa'], [91, 'deny'], [500, 'deny'],
  ];
  for (const [score, want] of rows) t.equal(riskOutcome(c, score), want, `score ${score}`);
  const sameBar = compileRisk({ ...snapshotOf(ISSUE_RISK).config.risk, rules: [{ above: 50, require: 'mfa' }, { above: 50, require: 'deny' }] }) as CompiledRisk;
  t.equal(riskOutcome(sameBar, 60), 'deny', 'at the same bar the deny rule applies');
  t.equal(compileRisk(snapshotOf(undefined).config.risk), null, 'no section: off');
});

t.test('decisions with risk (default weights, rules above 50 and 90)', async (t) => {
  const snap = snapshotOf(ISSUE_RISK);
  type Row = [string, string, Partial<SubjectFacts> & { signals?: RiskSignal[] }, string | undefined, string, string, RegExp];
  const rows: Row[] = [
    // name, target, subject, ip, action, rule, reason
    ['known device, known network, routine factor passed', '/', { factors: [totpAt(SIGNED_IN + 1)] }, undefined, 'allow', 'default', /totp passed/],
    ['known device: routine MFA by the device, risk 0', '/', {}, undefined, 'allow', 'default', /remembered device/],
    ['new device, nothing passed: routine challenge stands (20 ≥ relax bar)', '/', { remembered_device: false }, undefined, 'challenge', 'default', /second factor required/],
    ['new device + new network 30: no rule', '/', { remembered_device: false, signals: ['new_network'] }, undefined, 'challenge', 'default', /second factor required/],
    ['new country + new network + new device 70 on an open page: step-up', '/open/x', { remembered_device: false, signals: ['new_network', 'new_country'] }, undefined, 'challenge', 'risk', /^risk 70 \(new_country 40, new_device 20, new_network 10\) above 50: needs a second factor since the sign-in$/],
    ['trusted browser does not satisfy a risk rule', '/', { signals: ['new_country', 'recent_failures'] }, undefined, 'challenge', 'risk', /risk 70 .*above 50.*remembered device does not count/],
    ['a factor passed before the sign-in does not count (max_age 0)', '/', { signals: ['new_country', 'recent_failures'], factors: [totpAt(SIGNED_IN - 1)] }, undefined, 'challenge', 'risk', /since the sign-in/],
    ['a factor passed at the sign-in counts', '/', { signals: ['new_country', 'recent_failures'], factors: [totpAt(SIGNED_IN)] }, undefined, 'allow', 'default', /totp passed/],
    ['a factor passed after the sign-in counts', '/docs/a', { signals: ['new_country', 'recent_failures'], factors: [totpAt(NOW - 1)] }, undefined, 'allow', 'login-only', /signed in/],
    ['a policy challenge stands, naming the risk', '/pay/1', { remembered_device: false, signals: ['new_country'] }, undefined, 'challenge', 'pay', /within 5m.*; risk 60 .*above 50$/],
    ['impossible travel with a new country: denied', '/open/x', { signals: ['impossible_travel', 'new_country'] }, undefined, 'deny', 'risk', /^risk 120 \(impossible_travel 80, new_country 40\) above 90: denied$/],
    ['deny even with a fresh factor', '/', { signals: ['impossible_travel', 'new_network', 'new_country'], factors: [totpAt(NOW)] }, undefined, 'deny', 'risk', /denied/],
    ['a policy deny stays the policy\'s', '/closed/x', { signals: ['impossible_travel', 'new_country'] }, undefined, 'deny', 'closed', /closed: denied/],
    ['risky network is judged on the request address', '/open/x', {}, '203.0.113.7', 'challenge', 'risk', /risky_network 60/],
    ['risky network matched IPv4-mapped', '/open/x', {}, '::ffff:203.0.113.7', 'challenge', 'risk', /risky_network 60/],
    ['outside the risky list', '/open/x', {}, '198.51.100.7', 'allow', 'open', /no sign-in required/],
    ['risky network + new device + failures: denied', '/open/x', { remembered_device: false, signals: ['recent_failures'] }, '203.0.113.7', 'deny', 'risk', /risk 110/],
    ['signals the session cannot carry are ignored (live ones)', '/open/x', { signals: ['risky_network', 'new_device'] }, undefined, 'allow', 'open', /no sign-in/],
    ['no factor enrolled: enrollment', '/open/x', { remembered_device: false, enrolled: [], signals: ['new_country'] }, undefined, 'challenge', 'risk', /none enrolled/],
  ];
  const snapRisky = snapshotOf({ ...ISSUE_RISK, risky_networks: [writeList('203.0.113.0/24\n# a comment\n\n2001:db8:bad::/48\n')] });
  for (const [name, target, s, ip, action, rule, reason] of rows) {
    const v = decide(ip ? snapRisky : snap, facts(target, ip), subject(s), NOW);
    if (v.kind !== 'decided') { t.fail(`${name}: ${v.kind}`); continue; }
    t.equal(v.decision.action, action, `${name}: action`);
    t.equal(v.decision.rule, rule, `${name}: rule`);
    t.match(v.decision.reason, reason, `${name}: reason`);
  }
  const d = decide(snap, facts('/open/x'), subject({ signals: ['new_country', 'recent_failures'] }), NOW);
  t.match(d.kind === 'decided' && d.decision, { action: 'challenge', kind: 'step_up', factors: [] }, 'a risk step-up accepts any factor');
  const e = decide(snap, facts('/open/x'), subject({ enrolled: [], signals: ['new_country', 'recent_failures'] }), NOW);
  t.match(e.kind === 'decided' && e.decision, { action: 'challenge', kind: 'enroll' });
  t.equal(decide(snap, facts('/open/x'), null, NOW).kind === 'decided' && (decide(snap, facts('/'), null, NOW) as { decision: { kind?: string } }).decision.kind, 'login', 'anonymous: the policy alone');
});

t.test('max_age of a risk rule counts back from the sign-in', async (t) => {
  const snap = snapshotOf({ ...ISSUE_RISK, rules: [{ above: 50, require: 'mfa', max_age: '10m' }] });
  const rows: Array<[number, string]> = [
    [SIGNED_IN - 10 * MIN, 'allow'],
    [SIGNED_IN - 10 * MIN - 1, 'challenge'],
    [SIGNED_IN + 1, 'allow'],
  ];
  for (const [at, want] of rows) {
    const v = decide(snap, facts('/open/x'), subject({ signals: ['new_country', 'recent_failures'], factors: [totpAt(at)] }), NOW);
    t.equal(v.kind === 'decided' && v.decision.action, want, `factor ${(SIGNED_IN - at) / MIN} min before the sign-in`);
  }
  const v = decide(snap, facts('/open/x'), subject({ signals: ['new_country', 'recent_failures'] }), NOW);
  t.match(v.kind === 'decided' && v.decision.reason, /within 10m before the sign-in/);
});

t.test('relax_routine_below skips the routine factor only', async (t) => {
  const snap = snapshotOf({ ...ISSUE_RISK, signals: { new_device: 5 }, relax_routine_below: 10 });
  const rows: Array<[string, string, Partial<SubjectFacts> & { signals?: RiskSignal[] }, string, RegExp]> = [
    ['new device on a known network: routine skipped', '/', { remembered_device: false }, 'allow', /routine second factor skipped, risk 5 \(new_device 5\) below relax_routine_below 10/],
    ['score at the bar: asked', '/', { remembered_device: false, signals: ['new_network'] }, 'challenge', /second factor required/],
    ['step-up rule: never relaxed', '/pay/1', { remembered_device: false }, 'challenge', /within 5m/],
    ['enrollment: never relaxed', '/', { remembered_device: false, enrolled: [] }, 'challenge', /none enrolled/],
  ];
  for (const [name, target, s, action, reason] of rows) {
    const v = decide(snap, facts(target), subject(s), NOW);
    t.equal(v.kind === 'decided' && v.decision.action, action, name);
    t.match(v.kind === 'decided' && v.decision.reason, reason, name);
  }
  const relaxedOff = snapshotOf({ ...ISSUE_RISK, signals: { new_device: 5 }, relax_routine_below: 0 });
  const v = decide(relaxedOff, facts('/'), subject({ remembered_device: false }), NOW);
  t.equal(v.kind === 'decided' && v.decision.action, 'challenge', 'relax_routine_below 0: never');
  const after = decideAfterAppSignIn(snap, facts('/open/x'), subject({ remembered_device: false }), NOW);
  t.equal(after.kind === 'decided' && after.decision.action, 'allow', 'the upstream_form routine factor is relaxed too');
});

t.test('report mode only reports', async (t) => {
  const snap = snapshotOf({ ...ISSUE_RISK, mode: 'report' });
  const rows: Array<[string, string, Partial<SubjectFacts> & { signals?: RiskSignal[] }, string, string, RegExp]> = [
    ['would deny: allowed, reported', '/open/x', { signals: ['impossible_travel', 'new_country'] }, 'report', 'risk', /^risk 120 .*above 90: denied \[report only; enforced: rule open: no sign-in required\]$/],
    ['would step up: allowed, reported', '/', { signals: ['new_country', 'recent_failures'] }, 'report', 'risk', /needs a second factor since the sign-in .*\[report only; enforced: default policy: remembered device\]$/],
    ['a policy challenge is the policy\'s own', '/pay/1', { remembered_device: false, signals: ['new_country'] }, 'challenge', 'pay', /within 5m.*none in this session/],
    ['would relax: the challenge stands, named', '/', { remembered_device: false, signals: [] }, 'challenge', 'default', /second factor required/],
    ['nothing to say: allow', '/open/x', {}, 'allow', 'open', /no sign-in required$/],
  ];
  for (const [name, target, s, action, rule, reason] of rows) {
    const v = decide(snap, facts(target), subject(s), NOW);
    t.equal(v.kind === 'decided' && v.decision.action, action, name);
    t.equal(v.kind === 'decided' && v.decision.rule, rule, name);
    t.match(v.kind === 'decided' && v.decision.reason, reason, name);
  }
  const relaxSnap = snapshotOf({ ...ISSUE_RISK, mode: 'report', signals: { new_device: 5 } });
  const v = decide(relaxSnap, facts('/'), subject({ remembered_device: false }), NOW);
  t.match(v.kind === 'decided' && v.decision, { action: 'challenge', reason: /\[report only: would skip it, risk 5/ });
  const w = decide(snap, facts('/open/x'), subject({ signals: ['impossible_travel', 'new_country'] }), NOW);
  t.match(w.kind === 'decided' && w.decision, { action: 'report', would: 'deny' });
});

t.test('break-glass: risk challenges waived, risk denials hold', async (t) => {
  const snap = snapshotOf(ISSUE_RISK);
  const step = decide(snap, facts('/open/x'), subject({ breakglass: true, signals: ['new_country', 'recent_failures'] }), NOW);
  t.match(step.kind === 'decided' && step.decision, { action: 'allow', breakglass: true });
  const deny = decide(snap, facts('/open/x'), subject({ breakglass: true, signals: ['impossible_travel', 'new_country'] }), NOW);
  t.match(deny.kind === 'decided' && deny.decision, { action: 'deny', rule: 'risk' });
});

t.test('signals of a sign-in from its history', async (t) => {
  const DAY = 86_400_000;
  const since = NOW - 90 * DAY;
  const london: SignInPlace = { network: '81.2.69.0/24', country: 'GB', lat: 51.5, lon: -0.13, at: NOW - 2 * 3_600_000 };
  const paris: SignInPlace = { network: '90.1.2.0/24', country: 'FR', lat: 48.86, lon: 2.35, at: NOW - 30 * DAY };
  const nowhere: SignInPlace = { network: '10.1.2.0/24', country: null, lat: null, lon: null, at: NOW - 3_600_000 };
  const obs = (o: Partial<SignInObservation>): SignInObservation => ({ network: '81.2.69.0/24', country: 'GB', lat: 51.5, lon: -0.13, at: NOW, failures: 0, ...o });
  const newYork = { network: '8.8.8.0/24', country: 'US', lat: 40.7, lon: -74 };
  type Row = [string, SignInPlace[], Partial<SignInObservation>, RiskSignal[], RiskSignal[]];
  const rows: Row[] = [
    ['first sign-in ever: no baseline, nothing new', [], newYork, [], []],
    ['same network, same place', [london], {}, [], []],
    ['another network, same country, same city', [london], { network: '81.2.70.0/24' }, ['new_network'], []],
    ['another country, far, 2 h later: impossible (5,570 km)', [london], newYork, ['new_network', 'new_country', 'impossible_travel'], []],
    ['another country, far, 12 h later: possible', [{ ...london, at: NOW - 12 * 3_600_000 }], newYork, ['new_network', 'new_country'], []],
    ['Paris 30 days ago, London now', [paris], {}, ['new_network', 'new_country'], []],
    ['London 2 h ago, Paris now: 340 km at 170 km/h', [london, paris], { network: '90.1.2.0/24', country: 'FR', lat: 48.86, lon: 2.35 }, [], []],
    ['London a minute ago, Paris now: faster than 1,000 km/h', [{ ...london, at: NOW - MIN }], { network: '90.1.3.0/24', country: 'FR', lat: 48.86, lon: 2.35 }, ['new_network', 'new_country', 'impossible_travel'], []],
    ['close places never count (under 300 km)', [{ ...london, at: NOW - MIN }], { network: '81.2.70.0/24', lat: 52.2, lon: 0.12 }, ['new_network'], []],
    ['sign-ins older than the window are forgotten', [{ ...london, at: since - 1 }], newYork, [], []],
    ['unknown address: network unavailable', [london], { network: null, country: null, lat: null, lon: null }, [], ['new_network', 'new_country', 'impossible_travel']],
    ['no coordinates now: travel unavailable', [london], { lat: null, lon: null }, [], ['impossible_travel']],
    ['the previous sign-in has no coordinates: travel unavailable', [london, nowhere], { network: '81.2.69.0/24' }, [], ['impossible_travel']],
    ['country unknown now: new_country unavailable', [london], { network: '10.9.9.0/24', country: null, lat: null, lon: null }, ['new_network'], ['new_country', 'impossible_travel']],
    ['two failures: not yet', [london], { failures: 2 }, [], []],
    ['three failures', [london], { failures: 3 }, ['recent_failures'], []],
    ['failures count on a first sign-in too', [], { failures: 5 }, ['recent_failures'], []],
  ];
  for (const [name, history, o, signals, unavailable] of rows) {
    const got = observeSignIn(history, obs(o), since);
    t.same(got.signals, signals, `${name}: signals`);
    t.same(got.unavailable, unavailable, `${name}: unavailable`);
  }
  const travel = observeSignIn([london], obs(newYork), since).travel!;
  t.match(travel, { from: '81.2.69.0/24', hours: 2 });
  t.ok(travel.km > 5500 && travel.km < 5650, `London–New York ${travel.km} km`);
});

t.test('networks and distances', async (t) => {
  const rows: Array<[string, string | null]> = [
    ['192.0.2.77', '192.0.2.0/24'],
    ['::ffff:192.0.2.77', '192.0.2.0/24'],
    ['2001:db8:1234:5678::1', '2001:db8:1234::/48'],
    ['2001:0db8:0000:ffff::1', '2001:db8:0::/48'],
    ['[2001:db8:a::1]', '2001:db8:a::/48'],
    ['::1', '0:0:0::/48'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0::/48'],
    ['', null],
    ['not-an-ip', null],
  ];
  for (const [ip, want] of rows) t.equal(networkOf(ip), want, JSON.stringify(ip));
  t.equal(Math.round(distanceKm(51.5, -0.13, 48.86, 2.35)), 343, 'London–Paris');
  t.equal(distanceKm(10, 10, 10, 10), 0);
  t.equal(Math.round(distanceKm(0, 0, 0, 180)), 20015, 'half the equator');
});


function writeList(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-risk-')), 'risky.txt');
  writeFileSync(file, text);
  return file;
}
