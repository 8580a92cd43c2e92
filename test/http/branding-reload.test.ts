// The operator's brand on the pages of a running gateway, and a config reload
// that changes it: the next page shows the new name, logo, colours and links
// (before, pages kept the old name until a restart).

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { startTestGateway } from '../helpers/gateway.ts';

async function get(url: string): Promise<{ status: number; body: string; type: string | null; csp: string | null }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type'), csp: res.headers.get('content-security-policy') };
}

const cssLink = (html: string) => /<link rel="stylesheet" href="(\/\.gatehouse\/brand\.css\?v=[^"]+)">/.exec(html)?.[1];

t.test('a reload applies the new brand on the next page', async (t) => {
  const f = await startTestGateway({
    upstream: false,
    config: { branding: { product_name: 'Acme Sign-in', colors: { primary: '#0b5d1e' }, footer_links: [{ text: 'Privacy', url: 'https://acme.test/privacy' }] } },
  });
  t.teardown(() => f.close());

  const before = await get(`${f.url}/.gatehouse/login`);
  t.equal(before.status, 200);
  t.match(before.body, /<title>[^<]*· Acme Sign-in<\/title>/);
  t.match(before.body, /<a href="https:\/\/acme\.test\/privacy">Privacy<\/a>/, 'footer link');
  const link1 = cssLink(before.body);
  t.ok(link1, 'the page links the brand stylesheet');
  const css1 = await get(`${f.url}${link1}`);
  t.equal(css1.status, 200);
  t.equal(css1.type, 'text/css; charset=utf-8');
  t.match(css1.body, /@media not all and \(prefers-color-scheme: dark\) \{\n {2}:root \{\n {4}--accent: #0b5d1e;/);
  t.match(css1.body, /--on-accent: #ffffff;/);
  t.match(before.csp ?? '', /style-src 'self'/, 'the brand stays within the page CSP (a file, not inline)');

  const config = parse(readFileSync(f.configPath, 'utf8')) as { branding: Record<string, unknown> };
  config.branding = {
    product_name: 'Globex Access', logo_url: '/.gatehouse/static/favicon.svg', support_contact: 'help@globex.test',
    colors: { primary: '#7a1fa2', background: '#fffaf0', text: '#1a1a1a' },
    footer_links: [{ text: 'Terms', url: '/terms' }],
  };
  writeFileSync(f.configPath, stringify(config));
  t.equal(await f.gw.reload(), true, 'the reload is accepted');

  const after = await get(`${f.url}/.gatehouse/login`);
  t.match(after.body, /<title>[^<]*· Globex Access<\/title>/, 'the next page has the new name');
  t.notMatch(after.body, /Acme Sign-in/, 'and not the old one');
  t.match(after.body, /<img class="brand__logo" src="\/\.gatehouse\/static\/favicon\.svg"/, 'the new logo');
  t.match(after.body, /<a href="mailto:help@globex\.test">help@globex\.test<\/a>/, 'the new support contact');
  t.match(after.body, /<a href="\/terms">Terms<\/a>/);
  t.notMatch(after.body, /Privacy/);
  const link2 = cssLink(after.body);
  t.ok(link2 && link2 !== link1, 'the stylesheet URL changes with its content (no stale cached colours)');
  const css2 = await get(`${f.url}${link2}`);
  t.match(css2.body, /--accent: #7a1fa2;/);
  t.match(css2.body, /--surface: #fffaf0;/);
  t.match(css2.body, /--text: #1a1a1a;/);

  delete (config.branding as { colors?: unknown }).colors;
  writeFileSync(f.configPath, stringify(config));
  t.equal(await f.gw.reload(), true);
  const plain = await get(`${f.url}/.gatehouse/login`);
  t.equal(cssLink(plain.body), undefined, 'no colours and no stylesheet: no brand stylesheet link');
  t.equal((await get(`${f.url}/.gatehouse/brand.css`)).status, 404);
});
