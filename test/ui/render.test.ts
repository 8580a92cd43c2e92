import t from 'tap';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkBranding, createRenderer, localPath, supportLink, type Branding } from '../../src/ui/render.ts';

const VIEWS = path.resolve(import.meta.dirname, '..', '..', 'views');
const BRANDING: Branding = { product_name: 'Example Portal', support_contact: 'help@example.com' };
const HOSTILE = '<script>alert(1)</script>"\'&';

// Plausible data for every page; each case is one page the server renders.
const PAGE_CASES: Array<{ id: string; page: string; data: Record<string, unknown> }> = [
  { id: 'login', page: 'login', data: { rd: '/billing', csrf: 'csrf-token-1' } },
  { id: 'login-error', page: 'login', data: { rd: '/', csrf: 'c', username: 'alice', error: "That username and password don't match." } },
  { id: 'login-lockout', page: 'login', data: { rd: '/', csrf: 'c', username: 'alice', wait_seconds: 30 } },
  ...[400, 403, 404, 429, 500, 502, 503, 504].map((status) => ({
    id: `error-${status}`,
    page: 'error',
    data: { status, request_id: '01JD4X7Q9R2M', rule_id: status === 403 ? 'billing-admins-only' : undefined, wait_seconds: status === 429 ? 45 : undefined, retry_url: '/billing' },
  })),
  { id: 'signed-out', page: 'signed-out', data: {} },
  { id: 'logout', page: 'logout', data: { csrf: 'c', username: 'alice', cancel_url: '/home' } },
  { id: 'styleguide', page: 'styleguide', data: { csrf: 'c' } },
  ...(['ask', 'answered', 'gone'] as const).map((mode) => ({
    id: `push-approve-${mode}`, page: 'push-approve',
    data: { mode, token: 'tok', csrf: 'tok', who: 'Alice', app: 'portal.example.com/', action: 'POST /billing/pay', ip: '192.0.2.7', at: 0, choices: [12, 47, 90], expires_in: 42, outcome: mode === 'gone' ? 'expired' : 'approved' },
  })),
];

const renderer = createRenderer(VIEWS, BRANDING);

const ENTITIES: Record<string, string> = { '&#39;': "'", '&quot;': '"', '&lt;': '<', '&gt;': '>', '&amp;': '&' };
const decode = (html: string): string => html.replace(/&#39;|&quot;|&lt;|&gt;|&amp;/g, (e) => ENTITIES[e]);

t.test('every page renders as a full document in the layout, CSP-clean', async (t) => {
  t.same([...renderer.pages].sort(), ['account', 'challenge', 'enroll', 'error', 'login', 'logout', 'push-approve', 'signed-out', 'styleguide']);
  for (const { id, page, data } of PAGE_CASES) {
    const html = renderer.page(page, data);
    t.match(html, /^<!doctype html>\n<html lang="en" dir="ltr">/, `${id}: doctype, lang and dir`);
    t.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/, `${id}: viewport`);
    t.equal(html.match(/<link rel="stylesheet"[^>]*>/g)?.length, 1, `${id}: one stylesheet`);
    t.match(html, /<link rel="stylesheet" href="\/\.gatehouse\/static\/gatehouse\.css\?v=[0-9a-f]+">/, `${id}: the gateway stylesheet`);
    t.match(html, /<title>[^<]+ · Example Portal<\/title>/, `${id}: title`);
    t.match(html, /<header class="site-header">[\s\S]*Example Portal[\s\S]*<main id="main" class="card[^"]*">[\s\S]*<h1>[\s\S]*<\/main>\s*<footer/, `${id}: header, card with a heading, footer`);
    t.match(html, /<a href="mailto:help@example\.com">help@example\.com<\/a>/, `${id}: support contact`);
    // Strict CSP: no inline script, no inline style, no handlers, nothing external.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) {
      t.match(tag, /^<script src="\/\.gatehouse\/static\/[a-z-]+\.js\?v=[0-9a-f]+" defer>$/, `${id}: script ${tag} is external, same-origin, deferred`);
    }
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${id}: no inline script`);
    t.notMatch(html, /<style\b|\sstyle=/i, `${id}: no inline style`);
    t.notMatch(html, /\son[a-z]+=/i, `${id}: no inline event handlers`);
    t.notMatch(html, /javascript:/i, `${id}: no javascript: URLs`);
    t.notMatch(html, /(src|href|action)="(https?:)?\/\//i, `${id}: no external assets`);
  }
});

t.test('push approval page: the facts, the place by name in the page language', async (t) => {
  const data = { mode: 'ask', token: 'tok', csrf: 'tok', who: 'Alice', app: 'portal.example.com/', action: 'POST /billing/pay', ip: '192.0.2.7', country: 'DE', at: 0, choices: [12, 47, 90], expires_in: 42 };
  const en = renderer.page('push-approve', data);
  t.match(en, /<dd data-fact="place">Germany<\/dd>/);
  t.match(en, /<dd data-fact="action">POST \/billing\/pay<\/dd>/);
  t.equal(en.match(/class="button button--secondary push-choice"/g)?.length, 3, 'three numbers');
  const de = createRenderer(VIEWS, BRANDING, { ui: { languages: ['en', 'de'], default_language: 'en', time_zone: 'UTC' } }).page('push-approve', { ...data, accept_language: 'de' });
  t.match(de, /<dt>Ungefährer Ort<\/dt><dd data-fact="place">Deutschland<\/dd>/, 'German page, German country name');
  t.notMatch(renderer.page('push-approve', { ...data, country: undefined }), /data-fact="place"/, 'no place when unknown');
});

t.test('hostile data is text, never markup', async (t) => {
  const pages: Array<[string, Record<string, unknown>]> = [
    ['login', { csrf: HOSTILE, rd: HOSTILE, username: HOSTILE, error: HOSTILE, app_name: HOSTILE }],
    ['login', { csrf: 'c', rd: '/', notice: HOSTILE, wait_seconds: HOSTILE }],
    ['error', { status: 403, rule_id: HOSTILE, request_id: HOSTILE, message: HOSTILE, heading: HOSTILE, hint: HOSTILE }],
    ['error', { status: HOSTILE }],
    ['logout', { csrf: 'c', username: HOSTILE, error: HOSTILE, cancel_url: HOSTILE }],
    ['signed-out', { notice: HOSTILE, login_url: HOSTILE }],
    ['push-approve', { mode: 'ask', token: HOSTILE, csrf: 'c', who: HOSTILE, app: HOSTILE, action: HOSTILE, ip: HOSTILE, at: 0, choices: [HOSTILE], expires_in: HOSTILE }],
  ];
  for (const [page, data] of pages) {
    const html = renderer.page(page, data);
    t.notMatch(html, '<script>alert', `${page}: no raw <script>`);
    t.notMatch(html, `"'&`, `${page}: quotes and ampersands escaped`);
  }
  const login = renderer.page('login', { csrf: 'c', rd: '"><script>x</script>', username: '"><img src=x>', error: '<b>bold</b>' });
  t.match(login, '<input type="hidden" name="rd" value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">', 'rd cannot break out of its attribute');
  t.match(login, 'value="&quot;&gt;&lt;img src=x&gt;"', 'username cannot break out of its attribute');
  t.match(login, '<p id="login-error">&lt;b&gt;bold&lt;/b&gt;</p>', 'error message shown as text');

  const hostileBrand = createRenderer(VIEWS, { product_name: '<img src=x onerror=alert(1)>', support_contact: '<script>x</script>' });
  const html = hostileBrand.page('signed-out', {});
  t.notMatch(html, '<img src=x', 'product name escaped');
  t.notMatch(html, '<script>x', 'support contact escaped');
  t.notMatch(html, /<[^>]*\son[a-z]+=/i, 'no handler attribute got through');
});

t.test('forms carry the CSRF token; a POST form without one is refused', async (t) => {
  for (const page of ['login', 'logout', 'styleguide']) {
    const html = renderer.page(page, { csrf: 'tok-123', rd: '/' });
    t.match(html, '<input type="hidden" name="csrf" value="tok-123">', `${page}: csrf hidden input`);
    const forms = html.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
    t.ok(forms.length > 0, `${page}: has forms`);
    for (const form of forms) {
      if (/method="post"/.test(form)) t.match(form, 'name="csrf" value="tok-123"', `${page}: every POST form has the token`);
    }
    t.throws(() => renderer.page(page, { rd: '/' }), /POST form but no csrf/, `${page}: refused without csrf`);
    t.throws(() => renderer.page(page, { rd: '/', csrf: '' }), /POST form but no csrf/, `${page}: refused with empty csrf`);
  }
  t.doesNotThrow(() => renderer.page('signed-out', {}), 'pages without forms need no token');
  t.doesNotThrow(() => renderer.page('error', { status: 404 }), 'error pages need no token');
});

t.test('login: fields, autocomplete, focus, lockout', async (t) => {
  const html = renderer.page('login', { csrf: 'c', rd: '/billing?x=1' });
  t.match(html, /<label class="field__label" for="username">Username<\/label>\s*<input[^>]*id="username"[^>]*autocomplete="username"[^>]*autofocus/);
  t.match(html, /<label class="field__label" for="password">Password<\/label>\s*<input[^>]*id="password"[^>]*type="password"[^>]*autocomplete="current-password"/);
  t.match(html, '<input type="hidden" name="rd" value="/billing?x=1">');
  t.match(html, /<form class="form" method="post" action="\/\.gatehouse\/login">/);
  t.match(html, /<button class="button button--primary button--block" type="submit">Sign in<\/button>/);
  t.notMatch(html, 'role="alert"', 'no alert without an error');
  t.notMatch(html, 'aria-invalid', 'no field marked invalid without an error');

  const again = renderer.page('login', { csrf: 'c', rd: '/', username: 'alice', error: 'Wrong username or password.' });
  t.match(again, /<div class="alert alert--error" role="alert">\s*<p id="login-error">Wrong username or password\.<\/p>/, 'visible error with role=alert');
  t.match(again, /id="username"[^>]*aria-describedby="login-error"[^>]*aria-invalid="true"/, 'the username box is marked invalid and points at the message');
  t.match(again, /id="password"[^>]*aria-describedby="login-error"[^>]*aria-invalid="true"/, 'so is the password box');
  t.match(again, /id="username"[^>]*value="alice"/, 'username kept');
  t.notMatch(again, /id="username"[^>]*autofocus/, 'focus moves on from a known username…');
  t.match(again, /id="password"[^>]*autofocus/, '…to the password');

  const locked = renderer.page('login', { csrf: 'c', rd: '/', wait_seconds: 30 });
  t.match(locked.replace(/<[^>]+>/g, ''), 'Too many attempts. Try again in 30 seconds.', 'lockout message with the wait');
  t.match(locked, /role="alert"/);
  t.match(locked, 'countdown.js', 'countdown enhancement loaded');
  const one = renderer.page('login', { csrf: 'c', rd: '/', wait_seconds: 0.4 });
  t.match(one.replace(/<[^>]+>/g, ''), 'Try again in 1 second.', 'rounded up, singular');
});

t.test('error pages: plain words for each status', async (t) => {
  const text = (data: Record<string, unknown>) => decode(renderer.page('error', data).replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');
  const table: Array<[number, RegExp]> = [
    [400, /Error 400 That request couldn't be handled/],
    [403, /Error 403 Access denied .*A security rule doesn't allow this request/],
    [404, /Error 404 Page not found/],
    [429, /Error 429 Too many requests/],
    [502, /Error 502 The application isn't responding .*couldn't be reached/],
    [503, /Error 503 Sign-in is temporarily unavailable .*the sign-in service is temporarily unavailable; nothing was let through/i],
    [504, /Error 504 The application is taking too long .*didn't answer in time/],
    [500, /Error 500 Something went wrong/],
    [405, /Error 405 That action isn't available here/],
    [413, /Error 413 That was too much to send/],
    [431, /Error 431 .*too many cookies/],
  ];
  for (const [status, expected] of table) {
    const page = text({ status, request_id: 'req-42' });
    t.match(page, expected, `${status}: heading and message`);
    t.match(page, /What you can do: \S/, `${status}: what you can do`);
    t.match(page, /Request ID req-42/, `${status}: request id for support`);
  }
  t.match(text({ status: 403, rule_id: 'billing' }), /Rule billing/, '403 shows the rule id');
  t.match(text({ status: 429, wait_seconds: 45 }), /Wait 45 seconds, then try again/, '429 shows the wait');
  t.match(text({ status: 418 }), /Error 418 Something went wrong/, 'unknown status: generic words, real code');
  t.match(renderer.page('error', { status: 503 }), '<title>Sign-in is temporarily unavailable · Example Portal</title>');
  t.notMatch(renderer.page('error', { status: 503 }), 'support-ids', 'no empty id block');
  t.match(renderer.page('error', { status: 502, retry_url: '/billing' }), '<a class="button button--primary" href="/billing">Try again</a>');
});

t.test('logout: who is signed in, and the sign-out-everywhere choice', async (t) => {
  const html = renderer.page('logout', { csrf: 'c', user: 'alice' });
  t.match(html, /You(&#39;|')re signed in as <strong>alice<\/strong>/, 'user works as well as username');
  t.match(html, /<input class="check__box" type="checkbox" id="everywhere" name="everywhere" value="1">\s*<label class="check__label" for="everywhere">/, 'labelled checkbox posting everywhere=1');
  t.notMatch(renderer.page('logout', { csrf: 'c', everywhere: false }), 'name="everywhere"', 'can be hidden');
});

t.test('links built from data stay on this origin', async (t) => {
  const html = renderer.page('logout', { csrf: 'c', cancel_url: 'https://evil.example/' });
  t.match(html, '<a class="button button--secondary" href="/">Cancel</a>');
  const ok = renderer.page('logout', { csrf: 'c', cancel_url: '/home?tab=1' });
  t.match(ok, 'href="/home?tab=1">Cancel');
  const table: Array<[unknown, string]> = [
    ['/a/b?c=d#e', '/a/b?c=d#e'],
    ['/', '/'],
    ['//evil.example/x', 'F'],
    ['/\\evil.example', 'F'],
    ['\\\\evil.example', 'F'],
    ['https://evil.example', 'F'],
    ['javascript:alert(1)', 'F'],
    ['/%0d%0aSet-Cookie:x', '/%0d%0aSet-Cookie:x'],
    ['/\t/evil.example', 'F'],
    ['relative', 'F'],
    ['', 'F'],
    [undefined, 'F'],
    [42, 'F'],
  ];
  for (const [input, expected] of table) t.equal(localPath(input, 'F'), expected, `localPath(${JSON.stringify(input)})`);
});

t.test('support contact and branding checks', async (t) => {
  t.same(supportLink('help@example.com'), { text: 'help@example.com', href: 'mailto:help@example.com' });
  t.same(supportLink('https://help.example.com/it'), { text: 'https://help.example.com/it', href: 'https://help.example.com/it' });
  t.same(supportLink('IT desk, ext. 4242'), { text: 'IT desk, ext. 4242' });
  t.same(supportLink('javascript:alert(1)'), { text: 'javascript:alert(1)' });
  t.equal(supportLink('  '), undefined);
  t.equal(supportLink(undefined), undefined);

  t.throws(() => checkBranding({ product_name: '' }), /product_name/);
  t.throws(() => checkBranding({ product_name: 'X', logo_url: 'https://cdn.example/logo.png' }), /logo_url/);
  t.throws(() => checkBranding({ product_name: 'X', logo_url: '//cdn.example/logo.png' }), /logo_url/);
  t.throws(() => checkBranding({ product_name: 'X', logo_url: 'data:text/html;base64,PHNjcmlwdD4=' }), /logo_url/);
  t.doesNotThrow(() => checkBranding({ product_name: 'X', logo_url: '/.gatehouse/static/favicon.svg' }));
  t.doesNotThrow(() => checkBranding({ product_name: 'X', logo_url: 'data:image/png;base64,iVBORw0KGgo=' }));

  const withLogo = createRenderer(VIEWS, { product_name: 'X', logo_url: '/.gatehouse/static/favicon.svg' });
  t.match(withLogo.page('signed-out', {}), '<img class="brand__logo" src="/.gatehouse/static/favicon.svg" alt="" width="32" height="32">');
  t.notMatch(createRenderer(VIEWS, { product_name: 'X' }).page('signed-out', {}), 'Need help?', 'no footer contact without one');
});

t.test('only known pages; templates compiled once at start', async (t) => {
  for (const name of ['layout', 'partials/alerts', '../package', 'nope', '', 'LOGIN']) {
    t.throws(() => renderer.page(name, {}), /unknown page/, `${JSON.stringify(name)} refused`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-views-'));
  cpSync(VIEWS, dir, { recursive: true });
  const cached = createRenderer(dir, BRANDING, { assetVersion: 'abc123' });
  writeFileSync(path.join(dir, 'signed-out.eta'), '<% layout("./layout", { title: "x" }) %><h1>changed on disk</h1>');
  writeFileSync(path.join(dir, 'extra.eta'), '<h1>new</h1>');
  const html = cached.page('signed-out', {});
  t.match(html, /You(&#39;|')ve signed out/, 'serves the template compiled at start');
  t.notMatch(html, 'changed on disk');
  t.throws(() => cached.page('extra', {}), /unknown page/, 'a template added later is not a page');
  t.match(html, 'gatehouse.css?v=abc123', 'asset version from options');
  t.throws(() => createRenderer(path.join(dir, 'partials'), BRANDING), /missing layout\.eta/);
});

t.test('components render with their accessibility attributes', async (t) => {
  const html = renderer.page('styleguide', { csrf: 'c', demo_action: '/echo' });
  t.match(html, /<label class="field__label" for="code">Enter the 6-digit code<\/label>/, 'code label');
  const otp = html.match(/<input class="input input--otp"[^>]*>/)?.[0] ?? '';
  for (const attr of ['inputmode="numeric"', 'autocomplete="one-time-code"', 'pattern="[0-9]*"', 'maxlength="6"', 'minlength="6"', 'data-autosubmit', 'aria-describedby="code-hint"', 'required']) {
    t.match(otp, attr, `otp input has ${attr}`);
  }
  t.match(html, 'action="/echo"', 'demo form posts where asked');
  t.match(html.replace(/<[^>]+>/g, ''), /Step 2 of 3/, 'stepper text');
  t.match(html, /<ol class="stepper__bar" aria-hidden="true">\s*<li class="stepper__seg stepper__seg--done"><\/li>\s*<li class="stepper__seg stepper__seg--current"><\/li>\s*<li class="stepper__seg"><\/li>/, 'stepper segments');
  for (const badge of ['Most secure', 'Works offline', 'Needs your phone', 'Fallback']) t.match(html, `>${badge}</span>`, `badge ${badge}`);
  t.match(html, /<a class="method-card" href="\/\.gatehouse\/challenge\/webauthn">/, 'method card link');
  t.match(html, /<form class="method-card__form" method="post" action="\/\.gatehouse\/challenge">\s*<input type="hidden" name="csrf" value="c">\s*<input type="hidden" name="method" value="email">\s*<button class="method-card" type="submit">/, 'method card that posts');
  t.match(html, '<a href="/.gatehouse/challenge">Try another method</a>');
  t.match(html, /<input[^>]*id="sg-recovery"[^>]*aria-describedby="sg-recovery-error"[^>]*aria-invalid="true"/, 'field error tied to input');
  t.equal(html.match(/<li><code>[a-z0-9-]+<\/code><\/li>/g)?.length, 10, 'recovery codes');
  t.match(html, /<script src="\/\.gatehouse\/static\/autosubmit\.js\?v=[0-9a-f]+" defer>/, 'autosubmit script loaded');
  // Every input (except hidden) has a label pointing at it.
  for (const input of html.match(/<input\b(?![^>]*type="hidden")[^>]*>/g) ?? []) {
    const id = input.match(/\bid="([^"]+)"/)?.[1];
    t.ok(id && html.includes(`for="${id}"`), `input ${id} has a label`);
  }
});
