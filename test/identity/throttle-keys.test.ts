// What the throttle counts (src/identity/throttle.ts throttleKeys): the
// account, and the client's address, an IPv6 client by its /64 (README
// "Security model"), as tables.

import t from 'tap';
import { addressKey, throttleKeys } from '../../src/identity/throttle.ts';

t.test('addressKey: an IPv4 address itself, an IPv6 one by its /64', async (t) => {
  const cases: Array<[ip: string, key: string]> = [
    ['203.0.113.7', 'pwd:ip:203.0.113.7'],
    ['::ffff:203.0.113.7', 'pwd:ip:203.0.113.7'],
    ['::FFFF:203.0.113.7', 'pwd:ip:203.0.113.7'],
    ['2001:db8:1:2::1', 'pwd:ip:2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', 'pwd:ip:2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:abcd:0:0:1', 'pwd:ip:2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', 'pwd:ip:2001:db8:1:3::/64'],
    ['[2001:db8:1:2::1]', 'pwd:ip:2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'pwd:ip:fe80:0:0:0::/64'],
    ['::1', 'pwd:ip:0:0:0:0::/64'],
    ['unknown', 'pwd:ip:unknown'],
  ];
  for (const [ip, key] of cases) t.equal(addressKey('pwd', ip), key, ip);
});

t.test('throttleKeys: the account (locks) and the address, per kind of attempt', async (t) => {
  const cases: Array<[kind: 'pwd' | 'mfa', user: string, ip: string, keys: Array<{ key: string; free: number; account?: boolean }>]> = [
    ['pwd', 'Alice', '10.0.0.1', [{ key: 'pwd:u:alice', free: 5, account: true }, { key: 'pwd:ip:10.0.0.1', free: 20 }]],
    ['mfa', 'alice', '2001:db8:1:2::7', [{ key: 'mfa:u:alice', free: 5, account: true }, { key: 'mfa:ip:2001:db8:1:2::/64', free: 20 }]],
  ];
  for (const [kind, user, ip, keys] of cases) t.same(throttleKeys(kind, user, ip), keys, `${kind} ${user} ${ip}`);
});
