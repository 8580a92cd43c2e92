// The message catalogs: every key in every shipped language, no English left
// in a translated template, Accept-Language negotiation, dates in the user's
// locale and the operator's time zone, and the signed-out page served in the
// negotiated language by a real gateway.

import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SHIPPED_LANGUAGES } from '../../src/config/sections/ui.ts';
import { CATALOGS, dateFormatter, negotiateLanguage, textDirection, TRANSLATED_PAGES, translator } from '../../src/ui/i18n.ts';
import { createRenderer } from '../../src/ui/render.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const VIEWS = path.resolve('views');
const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

t.test('every shipped language has exactly the English keys, none empty, with the same parameters', async (t) => {
  t.same(Object.keys(CATALOGS).sort(), [...SHIPPED_LANGUAGES].sort(), 'a catalog per shipped language');
  const keys = Object.keys(CATALOGS.en).sort();
  for (const lang of SHIPPED_LANGUAGES) {
    const catalog = CATALOGS[lang] as Record<string, string>;
    t.same(Object.keys(catalog).sort(), keys, `${lang}: the same keys as en`);
    for (const key of keys) {
      t.ok(catalog[key]?.trim(), `${lang} ${key}: not empty`);
      t.same(params(catalog[key] ?? ''), params(CATALOGS.en[key as keyof typeof CATALOGS.en]), `${lang} ${key}: the same parameters`);
    }
  }
});

t.test('a translated template has no user-visible text outside the catalog', async (t) => {
  for (const name of [...TRANSLATED_PAGES, 'layout']) {
    const source = readFileSync(path.join(VIEWS, `${name}.eta`), 'utf8');
    const visible = source
      .replace(/<%[\s\S]*?%>/g, ' ')                       // template code and output tags
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/g, ' ')
      .replace(/<[^>]*>/g, ' ')                            // markup
      .replace(/&[a-z]+;/g, ' ');
    t.same(visible.match(/\p{L}{2,}/gu) ?? [], [], `${name}.eta: no words outside it.t(...)`);
    const used = [...source.matchAll(/it\.t\('([^']+)'/g)].map((m) => m[1]);
    t.ok(used.length > 0, `${name}.eta uses the catalog`);
    for (const key of used) t.ok(key in CATALOGS.en, `${name}.eta: ${key} is in the catalog`);
  }
});

t.test('negotiateLanguage: Accept-Language order and q, only offered languages', async (t) => {
  const ui = { languages: ['en', 'de', 'fr', 'es'] as const, default_language: 'en' as const };
  const table: Array<[string | undefined, string]> = [
    [undefined, 'en'],
    ['', 'en'],
    ['de-DE,de;q=0.9,en;q=0.8', 'de'],
    ['fr-CA', 'fr'],
    ['it, es;q=0.5, en;q=0.4', 'es'],
    ['en;q=0.1, fr;q=0.9', 'fr'],
    ['de;q=0, es', 'es'],
    ['*', 'en'],
    ['ja', 'en'],
    ['DE', 'de'],
  ];
  for (const [header, want] of table) t.equal(negotiateLanguage(header, { ...ui, languages: [...ui.languages] }), want, String(header));
  t.equal(negotiateLanguage('de, fr', { languages: ['en', 'fr'], default_language: 'en' }), 'fr', 'a language the operator did not offer is skipped');
  t.equal(negotiateLanguage('ja', { languages: ['en', 'de'], default_language: 'de' }), 'de', 'ui.default_language when nothing matches');
  t.equal(textDirection('de'), 'ltr');
  t.equal(textDirection('ar-EG'), 'rtl');
  t.equal(translator('de')('signed_out.body', { product: 'Acme' }), 'Sie sind in diesem Browser von Acme abgemeldet.');
});

t.test('dates in the user\'s language and the operator\'s time zone', async (t) => {
  const at = Date.parse('2026-11-22T23:30:00Z');
  t.match(dateFormatter('de', 'Europe/Berlin')(at), /23\.11\.2026, 00:30/, 'German, Berlin: already the next day');
  t.match(dateFormatter('en', 'America/New_York')(at), /Nov 22, 2026, 6:30\sPM/);
  t.match(dateFormatter('fr', 'UTC')(at), /22 nov\. 2026, 23:30/);
});

t.test('the renderer: a translated page in the negotiated language, any other page in English whole', async (t) => {
  const renderer = createRenderer(VIEWS, { product_name: 'Acme' }, { ui: { languages: ['en', 'de', 'fr', 'es'], default_language: 'en', time_zone: 'UTC' } });
  const de = renderer.page('signed-out', { accept_language: 'de-DE,de;q=0.9' });
  t.match(de, /<html lang="de" dir="ltr">/);
  t.match(de, /<title>Abgemeldet · Acme<\/title>/);
  t.match(de, /<h1>Sie haben sich abgemeldet<\/h1>/);
  t.match(de, />Erneut anmelden<\/a>/);
  t.match(de, /Geschützt durch die Anmeldung von Acme/);
  t.notMatch(de, /signed out|Sign in again|Protected by/);
  t.match(renderer.page('signed-out', { accept_language: 'es' }), /<h1>Ha cerrado la sesión<\/h1>/);
  t.match(renderer.page('signed-out', {}), /<html lang="en" dir="ltr">[\s\S]*You(&#39;|')ve signed out/);
  const login = renderer.page('login', { accept_language: 'de', csrf: 'x' });
  t.match(login, /<html lang="en"/, 'a page not in the catalogs yet stays English');
  t.match(login, /Protected by Acme sign-in/, 'its layout too (never half translated)');
});

t.test('a real gateway: the signed-out page follows Accept-Language within ui.languages', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { ui: { languages: ['en', 'fr'], default_language: 'en', time_zone: 'Europe/Paris' } } });
  t.teardown(() => f.close());
  const page = async (lang: string) => (await fetch(`${f.url}/.gatehouse/logout`, { headers: { 'accept-language': lang, accept: 'text/html' } })).text();
  t.match(await page('fr-FR,fr;q=0.9'), /<html lang="fr" dir="ltr">[\s\S]*<h1>Vous êtes déconnecté<\/h1>/);
  t.match(await page('de-DE'), /<html lang="en"[\s\S]*<h1>You(&#39;|')ve signed out<\/h1>/, 'German is shipped but not offered here: English');
});
