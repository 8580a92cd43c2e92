// Targets and headers that legacy stacks read differently from the gateway,
// checked on the bytes a lenient upstream received: an encoded '?' or '#' in
// the path, fullwidth and other compatibility characters on a case-insensitive
// (IIS) route, and the X-Original-URL / X-Rewrite-URL routing headers.

import t, { type Test } from 'tap';
import { startTestGateway, type GatewayFixture } from '../helpers/gateway.ts';
import { plainAnswer, startLenientUpstream, type LenientUpstream } from '../helpers/lenient-upstream.ts';
import { rawGet } from '../helpers/raw-http.ts';

async function gatewayBefore(t: Test, route: Record<string, unknown> = {}): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const up = await startLenientUpstream((q) => plainAnswer(200, 'OK', `seen ${q.target}`));
  t.teardown(() => up.close());
  const f = await startTestGateway({
    upstream: false,
    config: {
      routes: [{ path: '/', upstream: up.origin, ...route }],
      policy: { default: 'none', rules: [{ id: 'no-admin', match: { path: '/admin/**' }, require: 'deny' }] },
    },
  });
  t.teardown(() => f.close());
  return { f, up };
}

const get = (f: GatewayFixture, target: string, lines: string[] = []) => rawGet(f.port, target, [`Host: localhost:${f.port}`, 'Accept: application/json', ...lines]);

t.test("an encoded '?' or '#' in the path: 400, nothing forwarded", async (t) => {
  const { f, up } = await gatewayBefore(t);
  for (const target of ['/admin%3F/secret', '/admin%3f/x', '/echo%3F/../admin/secret', '/admin%23/secret', '/x/a%3Fb']) {
    const before = up.requests.length;
    const r = await get(f, target);
    t.equal(r.status, 400, `${target} refused`);
    t.equal(up.requests.length, before, `${target} not forwarded`);
  }
  const ok = await get(f, '/x/a?b=%3F%23');
  t.equal(ok.status, 200, 'encoded ? and # in the query are fine');
  t.equal(up.requests.at(-1)?.target, '/x/a?b=%3F%23');
  t.notOk(up.bytes().includes('%3F/'), 'no encoded ? in any path the upstream saw');
});

t.test('case-insensitive route: characters NFKC maps into ASCII are refused', async (t) => {
  const { f, up } = await gatewayBefore(t, { case_insensitive: true });
  const fullwidthAdmin = '/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E/secret'; // ａｄｍｉｎ
  for (const target of [fullwidthAdmin, '/admin%EF%BC%8E/secret', '/x%EF%BC%8Fadmin/secret', '/%E2%84%AAey', '/ADMIN/secret', '/Admin/secret']) {
    const before = up.requests.length;
    const r = await get(f, target);
    t.ok(r.status === 400 || r.status === 403, `${target} refused (${r.status})`);
    t.equal(up.requests.length, before, `${target} not forwarded`);
  }
  const ok = await get(f, '/caf%C3%A9');
  t.equal(ok.status, 200, 'other non-ASCII names pass');
  t.equal(up.requests.at(-1)?.target, '/caf%C3%A9');

  const cs = await gatewayBefore(t);
  const r = await get(cs.f, fullwidthAdmin);
  t.equal(r.status, 200, 'on a case-sensitive route a fullwidth name is just a name');
  t.equal(cs.up.requests.at(-1)?.target, fullwidthAdmin, 'forwarded as it is');
});

t.test('X-Original-URL and X-Rewrite-URL never reach the upstream', async (t) => {
  const { f, up } = await gatewayBefore(t);
  const r = await get(f, '/public/page', ['X-Original-URL: /admin/secret', 'X-Rewrite-URL: /admin/secret', 'X_Original_URL: /admin/secret', 'x-rewrite_url: /admin/secret']);
  t.equal(r.status, 200);
  const q = up.requests.at(-1)!;
  t.equal(q.target, '/public/page');
  t.same(q.headers.filter(([n]) => /original|rewrite/i.test(n)), [], 'no routing header upstream');
  t.notOk(up.bytes().includes('/admin'), 'the denied path appears nowhere in what the upstream received');
});
