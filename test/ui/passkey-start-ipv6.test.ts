// The per-address ceiling on passkey sign-in starts (src/ui/passkey-signin.ts)
// for IPv6 clients, over real sockets: one host is routinely given a whole /64,
// so the ceiling counts the /64. Counted by address, one host picking a fresh
// address for every browser would have no ceiling on the starts it asks for.
// Clients come from their addresses through a trusted proxy on loopback.

import t from 'tap';
import { Client, startTestGateway } from '../helpers/gateway.ts';
import { STARTS_PER_ADDRESS_PER_MINUTE } from '../../src/ui/passkey-signin.ts';

const f = await startTestGateway({ upstream: false, config: { server: { trusted_proxies: ['127.0.0.1/32'] }, policy: { default: 'login', rules: [] } } });
t.teardown(() => f.close());

/** A fresh browser at `ip`: its CSRF token from the sign-in page, and a way to ask for passkey options. */
async function browserAt(ip: string): Promise<() => Promise<number>> {
  const c = new Client(f.url);
  const headers = { 'x-forwarded-for': ip };
  const page = await (await c.fetch('/.gatehouse/login', { headers })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  return async () => {
    const r = await c.fetch('/.gatehouse/passkey/options', { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json', origin: f.url, 'x-csrf-token': csrf }, body: '{}' });
    await r.arrayBuffer();
    return r.status;
  };
}

t.test('one IPv6 /64 is one address: a fresh address per browser gets no fresh ceiling', async (t) => {
  f.clock.hold();
  t.teardown(() => f.clock.release());
  let served = 0;
  let status = 200;
  const perBrowser = 30;
  const browsers = Math.ceil(STARTS_PER_ADDRESS_PER_MINUTE / perBrowser) + 2;
  for (let b = 1; b <= browsers && status === 200; b++) {
    // Every browser a different address of 2001:db8:1:2::/64, spelled as clients spell them.
    const options = await browserAt(b % 2 === 0 ? `2001:db8:1:2::${b.toString(16)}` : `2001:0db8:0001:0002:0:0:${b.toString(16)}:1`);
    for (let i = 0; i < perBrowser && status === 200; i++) if ((status = await options()) === 200) served++;
  }
  t.equal(status, 429, 'refused once the /64 has started its ceiling');
  t.equal(served, STARTS_PER_ADDRESS_PER_MINUTE, `the /64 served ${STARTS_PER_ADDRESS_PER_MINUTE} starts in all`);
  t.equal(await (await browserAt('2001:db8:1:2:ffff::1'))(), 429, 'yet another address of it: refused');
  t.equal(await (await browserAt('2001:db8:1:3::1'))(), 200, 'the next /64 is another client');
  t.equal(await (await browserAt('192.0.2.7'))(), 200, 'and an IPv4 client its own address');
  f.clock.advance(61_000);
  t.equal(await (await browserAt('2001:db8:1:2::77'))(), 200, 'a minute later the /64 is served again');
});
