import t from 'tap';
import { usedStashTarget } from '../../src/http/stash.ts';
import { refererPage } from '../../src/policy/return-target.ts';
import type { RequestContext } from '../../src/web/context.ts';

const ORIGIN = 'http://gw.example:8080';

// [Referer, the page a reload after a replay lands on (undefined: none, the caller's '/')]
const pages: Array<[referer: string | undefined, page: string | undefined]> = [
  [`${ORIGIN}/billing`, '/billing'],
  [`${ORIGIN}/billing/form?step=2&x=%2F`, '/billing/form?step=2&x=%2F'],
  [`${ORIGIN}/`, '/'],
  [`${ORIGIN}/a//b`, '/a//b'],
  // Same origin, but a path a Location reads as another host, or not a place to send anyone.
  [`${ORIGIN}//evil.example/phish`, undefined],
  [`${ORIGIN}///evil.example/`, undefined],
  [`${ORIGIN}/\\evil.example/`, undefined],
  [`${ORIGIN}/%2F%2Fevil.example`, undefined],
  [`${ORIGIN}/%5Cevil.example`, undefined],
  [`${ORIGIN}/.//evil.example`, undefined],
  [`${ORIGIN}/\t/evil.example`, undefined],
  [`${ORIGIN}/x\r\nSet-Cookie: a=1`, undefined],
  [`${ORIGIN}/.gatehouse/logout`, undefined],
  [`${ORIGIN}/.GATEHOUSE/logout?everywhere=1`, undefined],
  // Not the gateway's origin.
  ['http://evil.example/billing', undefined],
  [`${ORIGIN}.evil.example/billing`, undefined],
  [`${ORIGIN}@evil.example/billing`, undefined],
  ['https://gw.example:8080/billing', undefined],
  [ORIGIN, undefined],
  ['/billing', undefined],
  ['', undefined],
  [undefined, undefined],
];

t.test('refererPage: the Referer path on the gateway origin, only as a safe return target', async (t) => {
  for (const [referer, page] of pages) t.equal(refererPage(referer, ORIGIN), page, JSON.stringify(referer));
});

t.test('usedStashTarget: a stored page is checked again as it is read', async (t) => {
  const read = (stored: string | null) => usedStashTarget({ svc: { shared: { get: async () => stored } }, snap: { publicOrigin: ORIGIN } } as unknown as RequestContext, 'stash-id-0123');
  t.equal(await read('/billing?x=1'), '/billing?x=1');
  t.equal(await read('//evil.example/phish'), '/', 'stored unchecked (by an older instance): the page the code uses when there is none');
  t.equal(await read(null), null, 'none stored: the caller decides');
});
