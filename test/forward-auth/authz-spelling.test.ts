// The proxies' own forward-auth subrequests always ask for /.gatehouse/authz
// spelled exactly so. Any other spelling that normalizes to it is a client that
// got past a proxy's block: gatehouse answers 404 even to a trusted peer, and
// 403 (as before) to a peer that is not a trusted proxy.

import t from 'tap';
import { startTestGateway } from '../helpers/gateway.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { rawGet } from '../helpers/raw-http.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { AUTHZ_SPELLINGS } from './proxy-scenarios.ts';

const FORWARDED = ['X-Original-URI: /public/x', 'X-Original-Method: GET', 'Accept: application/json'];

t.test('behind a trusted proxy: only the exact spelling is the authz endpoint', async (t) => {
  const f = await startTestGateway({
    upstream: false,
    config: { server: { trusted_proxies: ['127.0.0.1/32'] }, policy: { default: 'login', rules: [{ id: 'public', match: { path: '/public/**' }, require: 'none' }] } },
  });
  t.teardown(() => f.close());
  const ask = (target: string) => rawGet(f.port, target, [`Host: localhost:${f.port}`, ...FORWARDED]);
  t.equal((await ask('/.gatehouse/authz')).status, 200, 'the exact spelling answers');
  t.equal((await ask('/.gatehouse/authz?mode=401')).status, 200, 'with a query too');
  for (const target of ['/.gatehouse/authz/', '/.gatehouse/%61uthz', '//.gatehouse/authz', '/.gatehouse//authz', '/.gatehouse/./authz', '/x/../.gatehouse/authz', '/%2egatehouse/authz']) {
    const r = await ask(target);
    t.equal(r.status, 404, `${target}: 404`);
    t.notMatch(r.head, /x-gatehouse-user/i, `${target}: no identity headers`);
  }
});

t.test('from a peer that is not a trusted proxy: 403', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { server: { trusted_proxies: [] } } });
  t.teardown(() => f.close());
  const r = await rawGet(f.port, '/.gatehouse/authz', [`Host: localhost:${f.port}`, ...FORWARDED]);
  t.equal(r.status, 403);
});

// No Traefik binary is packaged here (README, forward-auth section): its blocking rule is
// checked the way Traefik applies it, a Go regexp over the decoded request path.
t.test('the Traefik example refuses every spelling before any other router', async (t) => {
  const doc = parse(readFileSync(join(PROJECT_ROOT, 'examples/traefik/dynamic.yml'), 'utf8'));
  const routers = doc.http.routers as Record<string, { rule: string; priority: number; middlewares?: string[] }>;
  const block = routers['gatehouse-authz-refused'];
  t.ok(block, 'a blocking router exists');
  const m = /^PathRegexp\(`\(\?i\)(.+)`\)$/.exec(block.rule);
  t.ok(m, `the rule is a case-insensitive PathRegexp: ${block.rule}`);
  const re = new RegExp(m![1], 'i');
  for (const [name, r] of Object.entries(routers)) if (name !== 'gatehouse-authz-refused') t.ok(block.priority > r.priority, `before ${name}`);
  t.same(block.middlewares, ['gatehouse-refuse']);
  t.same(doc.http.middlewares['gatehouse-refuse'], { ipAllowList: { sourceRange: ['0.0.0.0/32'] } }, 'a deny-all middleware');
  for (const target of AUTHZ_SPELLINGS) {
    const q = target.indexOf('?');
    const decoded = decodeURIComponent(q === -1 ? target : target.slice(0, q));
    t.ok(re.test(decoded), `${target} (decoded ${decoded}) is refused`);
  }
  for (const path of ['/', '/echo/x', '/.gatehouse/login', '/.gatehouse/static/app.css', '/authz', '/docs/gatehouse/authz']) {
    t.notOk(re.test(path), `${path} is not blocked`);
  }
});
