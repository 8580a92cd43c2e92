// The sign-in sequence and the first-factor throttle steps, called with
// values (no request): a real store, shared state, session manager, factor
// registry and throttle; the audit writes are recorded as they are awaited.

import t from 'tap';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/audit/events.ts';
import { createMetrics } from '../../src/audit/metrics.ts';
import { createFactorRegistry } from '../../src/factors/registry.ts';
import { openNotifier } from '../../src/identity/notifier.ts';
import { Throttle, throttleKeys } from '../../src/identity/throttle.ts';
import { anonymousSession } from '../../src/session/session-data.ts';
import { SessionManager } from '../../src/session/session-manager.ts';
import { failSignIn, reserveSignIn, signIn, type SignInServices } from '../../src/session/sign-in.ts';
import { createMemorySharedState } from '../../src/store/memory-shared-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { testFactorsConfig } from '../helpers/factors-config.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const FACTORS = testFactorsConfig('sign-in-test-key-0123456789-abcdefghijklm');
const WHO = { user: 'alice', ip: '192.0.2.7', requestId: 'req-1' };

async function rig(t: { testdir(): string; teardown(fn: () => unknown): unknown }) {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const clock = { now: T0 };
  const now = () => clock.now;
  const shared = createMemorySharedState({ now });
  t.teardown(async () => { await store.close(); await shared.close(); });
  const factors = createFactorRegistry({ store, shared, notifier: openNotifier({ kind: 'file', path: join(t.testdir(), 'outbox.log') }), factors: FACTORS, product: 'Example Portal', now });
  const sessions = new SessionManager({ secret: 'x'.repeat(32), cookieName: 'gatehouse', secure: false, maxAge: 3_600_000, idle: 600_000, shared, now });
  const audited: AuditEvent[] = [];
  const audit = { write: async (e: AuditEvent) => { audited.push(e); } };
  const svc: SignInServices = { factors, sessions, audit, store, now };
  return { store, shared, sessions, audited, audit, svc, clock, now, log: { warn: () => undefined }, metrics: createMetrics({ defaultMetrics: false }) };
}

t.test('signIn: enrolled kinds from the registry, a new session id, the old session revoked, the success audited', async (t) => {
  const r = await rig(t);
  await r.store.addFactor({ id: 'f1', user: 'alice', kind: 'email', name: 'Email', data: {}, created_at: T0, last_used_at: null });
  await r.store.replaceRecoveryCodes('alice', ['h1', 'h2']);
  const before = anonymousSession(T0);
  const beforeCookie = await r.sessions.seal(before);
  t.ok(await r.sessions.read(beforeCookie), 'the pre-sign-in session opens');

  const out = await signIn(r.svc, { ...WHO, amr: ['pwd'], method: (d) => (d ? 'pwd+device' : 'pwd'), previous: { session: before, cookie: beforeCookie }, device: 'dev-1' });
  t.ok(out.ok, 'signed in');
  if (!out.ok) return;
  t.same(out.session.enrolled, ['email', 'recovery'], 'the kinds FactorRegistry.enrolledKinds lists');
  t.not(out.session.sid, before.sid, 'a new session id');
  t.not(out.session.csrf, before.csrf, 'a new CSRF token');
  t.equal(out.session.device, 'dev-1', 'the remembered device is recorded');
  t.equal(await r.sessions.read(beforeCookie), null, 'the pre-sign-in session is revoked (no fixation)');
  t.equal((await r.sessions.read(out.sealed))?.user, 'alice', 'the new cookie opens as alice');
  t.match(out.setCookie, /^gatehouse=/, 'a Set-Cookie for the session cookie');
  t.same(r.audited, [{ event: 'signin.success', user: 'alice', ip: WHO.ip, request_id: WHO.requestId, method: 'pwd+device' }], 'the success is audited before signIn returns');
  t.same(await r.store.listSessions('alice', T0), [{ id: out.session.rid, user: 'alice', label: 'Browser', network: '192.0.2.0/24', created_at: T0, seen_at: T0, expires_at: T0 + 3_600_000 }],
    'the new session is in the registry under its registry id, placed by its /24');
});

t.test('signIn: a profile, factors and kinds the source vouches for', async (t) => {
  const r = await rig(t);
  const check = { kind: 'totp' as const, amr: 'otp', at: T0, phishing_resistant: false };
  const out = await signIn(r.svc, {
    ...WHO, amr: ['pwd', 'otp'], method: () => 'oidc', previous: { session: null, cookie: undefined },
    profile: { email: 'a@example.com', groups: ['staff'], display_name: 'Alice' }, pwdAt: T0 - 5000, factors: [check], alsoEnrolled: ['totp'], deferred: true,
  });
  t.ok(out.ok);
  if (!out.ok) return;
  t.same(out.session.enrolled, ['totp'], 'the trusted kind counts as enrolled');
  t.same(out.session.factors, [check]);
  t.equal(out.session.pwd_at, T0 - 5000);
  t.equal(out.session.deferred, true);
  t.same(out.session.profile?.groups, ['staff']);
  t.equal(out.session.device, undefined, 'no device when none vouched');
});

t.test('signIn: a refusal by the source is audited as a failure and leaves no session', async (t) => {
  const r = await rig(t);
  let sealedSeen = '';
  const out = await signIn(r.svc, {
    ...WHO, amr: ['pwd'], method: () => 'oidc', previous: { session: null, cookie: undefined },
    confirm: (sealed) => { sealedSeen = sealed; return 'too large'; },
  });
  t.same(out, { ok: false, reason: 'too large', by: 'source' });
  t.same(r.audited, [{ event: 'signin.failure', user: 'alice', reason: 'too large', ip: WHO.ip, request_id: WHO.requestId }], 'audited as a failure, no success');
  t.equal(await r.sessions.read(sealedSeen), null, 'the refused session does not open');
});

t.test('reserveSignIn and failSignIn: failures audited, the sixth starts a wait, a refused attempt is a lock-out', async (t) => {
  const r = await rig(t);
  const throttle = new Throttle(r.shared);
  const keys = throttleKeys('pwd', 'alice', WHO.ip);
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    const reserved = await reserveSignIn(r, throttle, keys, WHO);
    if (!t.ok(reserved.ok, `attempt ${i + 1} may try`) || !reserved.ok) return;
    waits.push((await failSignIn(r, throttle, reserved.attempt, WHO, 'invalid credentials', { message: 'sign-in failed' })).waitMs);
  }
  t.same(waits.slice(0, 5), [0, 0, 0, 0, 0], 'five failures are free');
  t.ok(waits[5] > 0, 'the sixth earns a wait');
  t.equal(r.audited.filter((e) => e.event === 'signin.failure').length, 6, 'every failure is audited');
  const started = r.audited.filter((e) => e.event === 'signin.lockout');
  t.same(started.map((e) => 'failures' in e && e.failures), [6], 'one lock-out began, carrying the failure count');
  t.match(await r.metrics.lockouts.get(), { values: [{ value: 1 }] }, 'the lock-out is counted');

  const refused = await reserveSignIn(r, throttle, keys, WHO);
  t.equal(refused.ok, false, 'the next attempt waits');
  const last = r.audited.at(-1)!;
  t.equal(last.event, 'signin.lockout', 'the refused attempt is audited as a lock-out');
  t.notOk('failures' in last && last.failures !== undefined, 'without a failure count (it began earlier)');
});
