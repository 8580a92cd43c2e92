// The pure parts of the session list (README "Signed-in browsers"): the place
// by network and which registered sessions are still alive.

import t from 'tap';
import { liveSessions, seenNetwork, sessionRecord } from '../../src/session/session-registry.ts';
import { signedInSession } from '../../src/session/session-data.ts';
import type { SessionRecord } from '../../src/store/types.ts';

t.test('seenNetwork: the client /24 or /48', async (t) => {
  const rows: Array<[string, string]> = [
    ['192.0.2.77', '192.0.2.0/24'],
    ['10.1.2.3', '10.1.2.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['2001:db8:abcd:12::1', '2001:db8:abcd::/48'],
    ['2001:0db8:0000:0042::7', '2001:db8:0::/48'],
    ['2001:db8::1', '2001:db8:0::/48'],
    ['::1', '0:0:0::/48'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
    ['2001:DB8:1:2:3:4:5:6', '2001:db8:1::/48'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0::/48'],
    ['', 'unknown'],
    ['not-an-ip', 'not-an-ip'],
  ];
  for (const [ip, want] of rows) t.equal(seenNetwork(ip), want, ip || '(empty)');
});

t.test('sessionRecord: what a sign-in registers', async (t) => {
  const s = signedInSession('alice', ['pwd'], [], 1000);
  t.same(sessionRecord({ ...s, rid: s.rid!, user: 'alice' }, 'Firefox on Windows', '203.0.113.5', 3_600_000), {
    id: s.rid, user: 'alice', label: 'Firefox on Windows', network: '203.0.113.0/24', created_at: 1000, seen_at: 1000, expires_at: 3_601_000,
  });
});

t.test('liveSessions: inside max_age and inside the idle timeout', async (t) => {
  const rec = (id: string, seen: number, expires: number): SessionRecord => ({ id, user: 'a', label: 'x', network: 'n', created_at: 0, seen_at: seen, expires_at: expires });
  const all = [rec('fresh', 900, 5000), rec('idle', 100, 5000), rec('old', 990, 1000)];
  t.same(liveSessions(all, 1000, 500).map((r) => r.id), ['fresh'], 'idle and past max_age dropped');
  t.same(liveSessions(all, 1000, 0).map((r) => r.id), ['fresh', 'idle'], 'no idle timeout: only max_age counts');
});
