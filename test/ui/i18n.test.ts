// The message catalogs: every key in every shipped language with the same
// parameters; no user-visible English outside the catalog in any template or
// page module; Accept-Language negotiation; dates in the user's locale and the
// operator's time zone; an operator's extra catalog (ui.catalog_dir), right to
// left included; and pages and emails served in the negotiated language by a
// real gateway, with the product name of the running config.

import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SHIPPED_LANGUAGES } from '../../src/config/sections/ui.ts';
import { CATALOGS, dateFormatter, dayFormatter, negotiateLanguage, textDirection, translator } from '../../src/ui/i18n.ts';
import { catalogProblems, placeholders, sameParameters } from '../../src/identity/translate.ts';
import { FACTOR_KINDS } from '../../src/factors/types.ts';
import { createRenderer } from '../../src/ui/render.ts';
import { loadConfig } from '../../src/config/load.ts';
import { buildSnapshot } from '../../src/http/snapshot.ts';
import { runCheck } from '../../src/cli/check.ts';
import { parse, stringify } from 'yaml';
import { startTestGateway } from '../helpers/gateway.ts';
import { CookieAgent } from '../helpers/cookie-agent.ts';
import { rtlTestCatalog } from '../helpers/rtl-catalog.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const VIEWS = path.join(ROOT, 'views');
const EN: Record<string, string> = CATALOGS.en;
const isPluralForm = (key: string) => /\.(one|other)$/.test(key);

/** Developer pages, not shown to users: free to be English. */
const NOT_USER_FACING = new Set(['styleguide.eta']);

function templates(): string[] {
  return readdirSync(VIEWS, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.eta') && !NOT_USER_FACING.has(path.basename(f)))
    .map((f) => path.join(VIEWS, f));
}

/** The page modules: everything that hands text to a template or a browser. */
function pageModules(): string[] {
  const ui = readdirSync(path.join(ROOT, 'src/ui')).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, 'src/ui', f));
  return [...ui, path.join(ROOT, 'src/web/respond.ts'), path.join(ROOT, 'src/web/upstream-form-login.ts'), path.join(ROOT, 'src/http/gateway.ts'), path.join(ROOT, 'src/http/forward-auth.ts'), path.join(ROOT, 'src/web/risk-refusal.ts'), path.join(ROOT, 'src/identity/messages.ts')];
}

const rel = (f: string) => path.relative(ROOT, f);

t.test('every shipped language has exactly the English keys, none empty, with the same parameters', async (t) => {
  t.same(Object.keys(CATALOGS).sort(), [...SHIPPED_LANGUAGES].sort(), 'a catalog per shipped language');
  const keys = Object.keys(EN).sort();
  t.ok(keys.length > 300, `the catalog holds every page and email string (${keys.length} keys)`);
  for (const lang of SHIPPED_LANGUAGES) {
    const catalog: Record<string, string> = CATALOGS[lang];
    t.same(Object.keys(catalog).sort(), keys, `${lang}: the same keys as en`);
    const wrong = keys.filter((k) => !catalog[k]?.trim() || !sameParameters(placeholders(catalog[k]), placeholders(EN[k]), k.endsWith('.one')));
    t.same(wrong, [], `${lang}: every message filled in, with the English parameters`);
    t.same(catalogProblems(catalog), [], `${lang}: passes the check an operator's catalog gets`);
  }
  // Plural forms come in pairs.
  for (const key of keys.filter(isPluralForm)) t.ok(`${key.replace(/\.(one|other)$/, '')}.other` in EN && `${key.replace(/\.(one|other)$/, '')}.one` in EN, `${key}: one and other`);
});

t.test('no user-visible English outside the catalog: templates', async (t) => {
  for (const file of templates()) {
    const source = readFileSync(file, 'utf8');
    const visible = source
      .replace(/<%[\s\S]*?%>/g, ' ')                       // template code and output tags
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/g, ' ')
      .replace(/<[^>]*>/g, ' ')                            // markup
      .replace(/&[a-z]+;/g, ' ');
    t.same(visible.match(/\p{L}{2,}/gu) ?? [], [], `${rel(file)}: no words outside it.t(...)`);
    // Attributes people read (alt, aria-label, title, placeholder, data-*label, data-countdown-done) come from the catalog too.
    const attrs = [...source.matchAll(/\b(alt|aria-label|title|placeholder|data-[\w-]*label|data-countdown-done|data-unit-[\w-]+)="([^"]*)"/g)]
      .filter((m) => /\p{L}{2,}/u.test(m[2].replace(/<%[\s\S]*?%>/g, '')));
    t.same(attrs.map((m) => m[0]), [], `${rel(file)}: no literal words in readable attributes`);
    // Sentences in template code (a label passed to a partial, a title): none.
    const code = [...source.matchAll(/<%(?!\/\*)[\s\S]*?%>/g)].map((m) => m[0]).join('\n');
    const sentences = [...code.matchAll(/(['"`])([A-Z][a-z’']+(?:[ ,][\p{L}’'.,:-]+){1,})\1/gu)].map((m) => m[2]);
    t.same(sentences, [], `${rel(file)}: no English sentences in template code`);
  }
});

t.test('no user-visible English outside the catalog: page modules', async (t) => {
  // A property a template or a browser shows, given a literal with words in it.
  const SHOWN = /\b(error|notice|message|title|label|heading|hint|description|badge|subject|text)\s*:\s*(['"`])((?:(?!\2).)*\p{L}{2,}\s+\p{L}{2,}(?:(?!\2).)*)\2/gu;
  for (const file of pageModules()) {
    const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const shown = [...source.matchAll(SHOWN)]
      // A log line's message ({ message, fields } for failSignIn's log) goes to the operator, not to a person.
      .filter((m) => !/failSignIn\([^\n]*$/.test(source.slice(0, m.index)))
      .map((m) => m[0]);
    t.same(shown, [], `${rel(file)}: user-facing text comes from the catalog`);
    // Any sentence in a literal (a returned message, a ternary) outside errors and logs for the operator.
    const sentences = source.split('\n')
      .filter((line) => !/\b(Error\(|log\.(info|warn|error|debug)|audit\.write|failSignIn\(|reason:|throw )/.test(line))
      .flatMap((line) => [...line.matchAll(/(['"`])([A-Z][a-z’']*(?: [\p{L}\d’'(),:;{}$./*+-]+){2,}[.!?])\1/gu)].map((m) => m[2]));
    t.same(sentences, [], `${rel(file)}: no sentences outside the catalog`);
  }
});

t.test('every key a template or module names is in the catalog, and the keys built at run time too', async (t) => {
  const named = new Set<string>();
  for (const file of templates()) {
    for (const m of readFileSync(file, 'utf8').matchAll(/it\.(?:t|tn|around)\('([\w.-]+)'/g)) named.add(m[1]);
  }
  for (const file of pageModules()) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\b(?:msg|plural|t|tn)\('([\w.-]+)'/g)) named.add(m[1]);
  }
  t.ok(named.size > 150, `${named.size} literal keys found`);
  // A literal ending in . or _ is a prefix completed at run time (checked below).
  for (const k of named) if (/[._]$/.test(k)) named.delete(k);
  const missing = [...named].filter((k) => !(k in EN) && !(`${k}.one` in EN && `${k}.other` in EN));
  t.same(missing, [], 'every literal key exists (a plural key has .one and .other)');
  const built = [
    ...FACTOR_KINDS.flatMap((k) => ['label', 'description', 'badge'].map((p) => `factor.${k.kind}.${p}`)),
    ...[400, 403, 404, 405, 413, 429, 431, 500, 502, 503, 504].flatMap((s) => ['heading', 'message', 'hint'].map((p) => `error.${s}.${p}`)),
    ...['remove-factor', 'regenerate-recovery', 'sign-out-everywhere'].flatMap((a) => ['heading', 'body', 'button'].map((p) => `account.confirm.${a}.${p}`)),
    ...['account', 'remove-factor', 'rename-factor', 'regenerate-recovery', 'revoke-device', 'sign-out-everywhere'].map((w) => `challenge.why.${w}`),
    ...['removed', 'renamed', 'device'].map((d) => `account.done.${d}`),
    ...['expired', 'mismatch', 'denied', 'rejected', 'unavailable'].flatMap((k) => ['heading', 'message', 'hint'].map((p) => `oidc.${k}.${p}`)),
    'enroll.totp_expired', 'enroll.totp_wrong', 'account.error.last-factor',
  ];
  t.same(built.filter((k) => !(k in EN)), [], 'every key built from a kind, status or action exists');
  // The script words (views/static/*.js read data-messages): each script word the renderer sends exists.
  const scripts = readdirSync(path.join(VIEWS, 'static')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(path.join(VIEWS, 'static', f), 'utf8')).join('\n');
  const words = [...scripts.matchAll(/\bwords\.(\w+)/g)].map((m) => `js.${m[1]}`);
  t.same(words.filter((k) => !(k in EN)), [], 'every word a script reads is in the catalog');
  t.notMatch(scripts, /textContent = '[A-Z]/, 'no script writes English of its own');
});

t.test('negotiateLanguage: Accept-Language order and q, only offered languages', async (t) => {
  const ui = { languages: ['en', 'de', 'fr', 'es'], default_language: 'en' };
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
  for (const [header, want] of table) t.equal(negotiateLanguage(header, ui), want, String(header));
  t.equal(negotiateLanguage('de, fr', { languages: ['en', 'fr'], default_language: 'en' }), 'fr', 'a language the operator did not offer is skipped');
  t.equal(negotiateLanguage('ja', { languages: ['en', 'de'], default_language: 'de' }), 'de', 'ui.default_language when nothing matches');
  t.equal(negotiateLanguage('pt-BR, pt;q=0.5', { languages: ['en', 'pt', 'pt-br'], default_language: 'en' }), 'pt-br', 'an exact regional catalog first');
  t.equal(textDirection('de'), 'ltr');
  t.equal(textDirection('ar-EG'), 'rtl');
  t.equal(textDirection('he'), 'rtl');
  t.equal(translator('de').t('signed_out.body', { product: 'Acme' }), 'Sie sind in diesem Browser von Acme abgemeldet.');
  t.equal(translator('fr').tn('account.recovery_left', 0), 'Il reste 0 code inutilisé.', 'French: 0 takes the singular (Intl.PluralRules)');
  t.equal(translator('de').tn('account.recovery_left', 2), 'Noch 2 unbenutzte Codes.');
  t.equal(translator('xx').t('login.heading'), 'Sign in', 'an unknown language reads English');
});

t.test("dates in the user's language and the operator's time zone", async (t) => {
  const at = Date.parse('2026-11-22T23:30:00Z');
  t.match(dateFormatter('de', 'Europe/Berlin')(at), /23\.11\.2026, 00:30/, 'German, Berlin: already the next day');
  t.match(dateFormatter('en', 'America/New_York')(at), /Nov 22, 2026, 6:30\sPM/);
  t.match(dateFormatter('fr', 'UTC')(at), /22 nov\. 2026, 23:30/);
  t.match(dateFormatter('es', 'Europe/Madrid')(at), /23 nov 2026, 0:30/);
  t.equal(dayFormatter('de')('2026-12-31'), '31. Dezember 2026', 'a configured day stays that day, in any zone');
  t.equal(dayFormatter('en')('2026-12-31'), 'December 31, 2026');
});

t.test('catalogProblems: what an operator catalog must get right', async (t) => {
  const full = { ...EN };
  t.same(catalogProblems(full), []);
  const { ['login.heading']: _drop, ...short } = full;
  t.match(catalogProblems(short), [/1 message\(s\) missing or empty: login\.heading/]);
  t.match(catalogProblems({ ...full, 'login.heding': 'x' }), [/unknown message "login\.heding"/]);
  t.match(catalogProblems({ ...full, 'login.lead': 'zu {application}' }), [/login\.lead: parameters \["application"\], English has \["app"\]/]);
  t.same(catalogProblems({ ...full, 'account.recovery_left.one': 'Ein Code.', 'account.recovery_left.few': 'Ein paar: {n}.' }), [], 'the singular may drop {n}; a language adds its own plural forms');
  t.match(catalogProblems({ ...full, 'login.lead': '' }), [/missing or empty: login\.lead/]);
});

t.test('the renderer: every page in the negotiated language, lang and dir set, nothing left in English', async (t) => {
  const renderer = createRenderer(VIEWS, { product_name: 'Acme' }, { ui: { languages: ['en', 'de', 'fr', 'es'], default_language: 'en', time_zone: 'UTC', catalogs: {} } });
  const de = renderer.page('signed-out', { accept_language: 'de-DE,de;q=0.9' });
  t.match(de, /<html lang="de" dir="ltr">/);
  t.match(de, /<title>Abgemeldet · Acme<\/title>/);
  t.match(de, /<h1>Sie haben sich abgemeldet<\/h1>/);
  t.match(de, /Geschützt durch die Anmeldung von Acme/);
  t.match(renderer.page('signed-out', { accept_language: 'es' }), /<h1>Ha cerrado la sesión<\/h1>/);
  t.match(renderer.page('signed-out', {}), /<html lang="en" dir="ltr">[\s\S]*You(&#39;|')ve signed out/);
  const login = renderer.page('login', { accept_language: 'de', csrf: 'x', wait_seconds: 30, username: 'alice' });
  t.match(login, /<html lang="de"/);
  t.match(login, /<h1>Anmelden<\/h1>/);
  t.match(login, /Zu viele Versuche\. Versuchen Sie es in <span data-countdown="30" data-unit-one="Sekunde" data-unit-many="Sekunden">30 Sekunden<\/span> erneut\./, 'the countdown sits inside the translated sentence');
  t.match(login, /data-messages="\{&quot;show&quot;:&quot;Anzeigen&quot;/, 'script words in the page language');
  const account = renderer.page('account', {
    accept_language: 'fr', csrf: 'x', user: { id: 'alice', display_name: 'Alice' }, recovery_remaining: 1, sessions: [],
    factors: [{ id: 'f1', name: 'Pixel', kind: 'totp', created: Date.parse('2026-11-22T23:30:00Z'), last_used: null, renamable: false }], devices: [],
  });
  t.match(account, /Application d’authentification · ajoutée le <span class="nowrap">22 nov\. 2026, 23:30<\/span> · dernière utilisation <span class="nowrap">jamais<\/span>/, 'factor kind, dates and "never" in French');
  t.match(account, /Il reste 1 code inutilisé\./);
  for (const lang of SHIPPED_LANGUAGES) {
    const error = renderer.page('error', { accept_language: lang, status: 429, wait_seconds: 1, request_id: 'r1' });
    t.notMatch(error, /\{\w+\}/, `${lang}: no parameter left unfilled`);
    t.match(error, new RegExp(`<html lang="${lang}"`));
  }
  t.match(renderer.page('error', { accept_language: 'es', status: 502 }), /<h1>La aplicación no responde<\/h1>/);
  t.match(renderer.page('error', { accept_language: 'de', status: 403, message: { key: 'error.account_disabled' } }), /Dieses Konto ist am Gateway gesperrt\./, 'a message from a module, in the page language');
});

t.test('an extra catalog from ui.catalog_dir: right to left, mirrored, and refused when incomplete', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-catalogs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'ar.json'), JSON.stringify(rtlTestCatalog()));
  const yaml = path.join(dir, 'gatehouse.yaml');
  writeFileSync(yaml, `server: { public_url: "https://gate.example.com" }\nroutes: [{ path: "/", upstream: "http://127.0.0.1:9" }]\nui: { languages: [en, ar], catalog_dir: "${dir}" }\n`);
  const config = loadConfig(yaml, { persistDevSecrets: false });
  t.same(config.ui.languages, ['en', 'ar']);
  t.ok(config.ui.catalogs?.ar, 'the catalog was read');
  const renderer = createRenderer(VIEWS, { product_name: 'Acme' }, { ui: config.ui });
  const ar = renderer.page('login', { accept_language: 'ar-EG,ar;q=0.9', csrf: 'x' });
  t.match(ar, /<html lang="ar" dir="rtl">/, 'lang and dir follow the catalog language');
  t.match(ar, /<h1>تسجيل الدخول<\/h1>/);

  writeFileSync(path.join(dir, 'ar.json'), JSON.stringify({ ...rtlTestCatalog(), 'login.heading': undefined, 'login.lead': 'إلى {application}' }));
  t.throws(() => buildSnapshot(loadConfig(yaml, { persistDevSecrets: false })), /ar\.json: 1 message\(s\) missing or empty: login\.heading[\s\S]*login\.lead: parameters/, 'an incomplete catalog is refused (at start and on reload)');
  let out = '';
  let err = '';
  const io = { stdout: { write: (x: string) => ((out += x), true) }, stderr: { write: (x: string) => ((err += x), true) } };
  t.equal(await runCheck(['--config', yaml], io), 1, 'gatehouse check fails on it');
  t.match(err, /ui\.catalog_dir ar\.json: 1 message\(s\) missing or empty: login\.heading/);
  t.equal(out, '', 'and does not say ok');
  writeFileSync(yaml, `server: { public_url: "https://gate.example.com" }\nroutes: [{ path: "/", upstream: "http://127.0.0.1:9" }]\nui: { languages: [en, he] }\n`);
  t.throws(() => loadConfig(yaml, { persistDevSecrets: false }), /no catalog for "he"; available: en, de, fr, es \(add more with ui\.catalog_dir\)/);
});

t.test('a real gateway: pages and emails follow Accept-Language within ui.languages; emails carry the reloaded product name', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { ui: { languages: ['en', 'fr'], default_language: 'en', time_zone: 'Europe/Paris' } } });
  t.teardown(() => f.close());
  const page = async (p: string, lang: string) => (await new CookieAgent().send(`${f.url}${p}`, { headers: { 'accept-language': lang } })).body;
  t.match(await page('/.gatehouse/logout', 'fr-FR,fr;q=0.9'), /<html lang="fr" dir="ltr">[\s\S]*<h1>Vous êtes déconnecté<\/h1>/);
  t.match(await page('/.gatehouse/logout', 'de-DE'), /<html lang="en"[\s\S]*<h1>You(&#39;|')ve signed out<\/h1>/, 'German is shipped but not offered here: English');
  t.match(await page('/.gatehouse/login', 'fr'), /<h1>Connexion<\/h1>[\s\S]*<label class="field__label" for="username">Nom d’utilisateur<\/label>/);
  t.match(await page('/.gatehouse/no-such-page', 'fr'), /<h1>Page introuvable<\/h1>/);
});

t.test('emails: in the language of the page that sent them, with the product name after a config reload', async (t) => {
  const f = await startTestGateway({ upstream: false, config: { ui: { languages: ['en', 'de', 'fr', 'es'] }, branding: { product_name: 'Old Portal' } } });
  t.teardown(() => f.close());
  const outbox = () => readFileSync(path.join(f.dir, 'outbox.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string; subject: string; text: string });
  const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  /** Signs `user` in, opens email enrollment and asks for a code, with the browser's Accept-Language. */
  async function sendCode(user: string, password: string, lang: string) {
    const agent = new CookieAgent();
    const headers = { 'accept-language': lang };
    const login = await agent.send(`${f.url}/.gatehouse/login?rd=%2F`, { headers });
    await agent.send(`${f.url}/.gatehouse/login`, { form: { csrf: csrfIn(login.body), rd: '/', username: user, password }, headers });
    const setup = await agent.send(`${f.url}/.gatehouse/enroll?rd=%2F&method=email`, { headers });
    t.match(setup.body, /<html lang="(de|fr|es|en)"/);
    const sent = await agent.send(`${f.url}/.gatehouse/enroll`, { form: { csrf: csrfIn(setup.body), rd: '/', action: 'email-send' }, headers });
    t.equal(sent.status, 200, `${user}: code sent`);
    return outbox().filter((m) => m.to === `${user}@example.com`).at(-1)!;
  }
  const de = await sendCode('alice', 'alice-test-pass', 'de-DE,de;q=0.9');
  t.equal(de.subject, 'Ihr Anmeldecode für Old Portal', 'German subject');
  t.match(de.text, /^Ihr Anmeldecode für Old Portal lautet \d{6}\. Er läuft in 10 Minuten ab\./, 'German text, duration by Intl');

  const config = parse(readFileSync(f.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
  config.branding = { ...config.branding, product_name: 'New Portal' };
  writeFileSync(f.configPath, stringify(config));
  t.ok(await f.gw.reload(), 'the config reloaded');
  const es = await sendCode('bob', 'bob-test-pass', 'es');
  t.equal(es.subject, 'Su código de inicio de sesión de New Portal', 'the reloaded product name, in Spanish');
  t.match(es.text, /Caduca en 10 minutos\./);
});
