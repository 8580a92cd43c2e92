// HTML of the "Acme Legacy Portal": pure functions from data to markup. Every
// page carries a banner showing what the gateway told the app about the user.

import type { GatewayIdentity } from './identity.ts';
import type { ApiKey, Payment } from './state.ts';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export interface PageContext {
  identity: GatewayIdentity;
  headerPrefix: string;
  appUser?: string;          // signed in to the app's own login (JSESSIONID)
  nowSec: number;            // for "n seconds ago"
}

function row(label: string, value: string | undefined, headerName: string): string {
  const shown = value === undefined ? '<span class="none">(not sent)</span>' : escapeHtml(value);
  return `<tr><th title="${escapeHtml(headerName)}">${escapeHtml(label)}</th><td>${shown}</td></tr>`;
}

function authTimeText(authTime: number | undefined, nowSec: number): string | undefined {
  if (authTime === undefined) return undefined;
  const ago = Math.max(0, Math.round(nowSec - authTime));
  return `${new Date(authTime * 1000).toISOString()} (${ago} s ago)`;
}

function assertionText(identity: GatewayIdentity): string | undefined {
  const a = identity.assertion;
  if (a === undefined) return undefined;
  if (!a.wellFormed) return 'present, but not a well-formed JWT';
  return `present (${a.alg ?? 'no alg'}${a.sub !== undefined ? `, sub=${a.sub}` : ''}; this app does not verify it)`;
}

export function identityBanner(ctx: PageContext): string {
  const id = ctx.identity;
  const p = ctx.headerPrefix;
  const anySent = id.user !== undefined || id.email !== undefined || id.groups.length > 0 || id.assertion !== undefined;
  const note = anySent
    ? 'This is what the gateway told the portal about you on this request.'
    : 'No identity headers on this request: it did not come through gatehouse, or the route lets anonymous visitors in.';
  const appSession = ctx.appUser !== undefined
    ? `Signed in to the portal's own login as <b>${escapeHtml(ctx.appUser)}</b> (<a href="/logout">sign out of the app</a>)`
    : 'No portal session (<a href="/login">portal sign-in</a>)';
  return `<div class="banner" id="identity">
<div class="banner-title">Identity received from the gateway</div>
<table class="ident">
${row('User', id.user, `${p}User`)}
${row('Email', id.email, `${p}Email`)}
${row('Groups', id.groups.length > 0 ? id.groups.join(', ') : undefined, `${p}Groups`)}
${row('Auth methods', id.authMethods.length > 0 ? id.authMethods.join(' ') : undefined, `${p}Auth-Methods`)}
${row('Auth time', authTimeText(id.authTime, ctx.nowSec), `${p}Auth-Time`)}
${row('Assertion (JWT)', assertionText(id), `${p}Assertion`)}
</table>
<div class="banner-note">${note}</div>
<div class="banner-note">${appSession}</div>
${anySent ? '<div class="banner-note">Gateway: <a href="/.gatehouse/account">your security settings</a> · <a href="/.gatehouse/logout">sign out</a></div>' : ''}
</div>`;
}

const NAV: [string, string][] = [
  ['/', 'Home'], ['/billing', 'Billing'], ['/export', 'Data export'], ['/settings/api-keys', 'API keys'],
  ['/reports', 'Reports'], ['/sse', 'Live feed'],
];

export function layout(ctx: PageContext, title: string, body: string): string {
  const nav = NAV.map(([href, label]) => `<a href="${href}">${label}</a>`).join(' | ');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>${escapeHtml(title)} - Acme Legacy Portal</title>
<link rel="stylesheet" href="/static/app.css">
</head><body>
<div class="top"><span class="logo">ACME</span> Legacy Portal <span class="ver">v3.2 (build 2009-11-04)</span></div>
<div class="nav">${nav}</div>
${identityBanner(ctx)}
<div class="content">
<h1>${escapeHtml(title)}</h1>
${body}
</div>
<div class="footer">&copy; 2009 Acme Corp. Internal use only. Best viewed in Internet Explorer 8 at 1024&times;768.</div>
</body></html>
`;
}

export function homePage(ctx: PageContext): string {
  return layout(ctx, 'Welcome', `<p>Welcome to the Acme intranet. Choose a module:</p>
<ul class="modules">
<li><a href="/billing">Billing</a> - pay suppliers</li>
<li><a href="/export">Data export</a> - download the customer list (CSV)</li>
<li><a href="/settings/api-keys">API keys</a> - keys for integrations</li>
<li><a href="/reports">Reports</a> - quarterly figures</li>
<li><a href="/sse">Live feed</a> - server-sent events</li>
</ul>`);
}

export function billingPage(ctx: PageContext, paymentCount: number, error?: string): string {
  const err = error === undefined ? '' : `<p class="error">${escapeHtml(error)}</p>`;
  return layout(ctx, 'Billing', `${err}<p>Payments submitted since start-up: <b id="payment-count">${paymentCount}</b></p>
<form method="post" action="/billing/pay" class="box">
<table>
<tr><td><label for="amount">Amount (USD)</label></td><td><input id="amount" name="amount" value="100.00" size="12"></td></tr>
<tr><td><label for="payee">Payee</label></td><td><input id="payee" name="payee" value="Globex Ltd" size="30"></td></tr>
<tr><td></td><td><input type="submit" value="Submit payment"></td></tr>
</table>
</form>`);
}

export function paymentDonePage(ctx: PageContext, payment: Payment): string {
  return layout(ctx, 'Payment submitted', `<p class="ok" id="payment-result">Payment of ${escapeHtml(payment.amount)} to ${escapeHtml(payment.payee)} submitted</p>
<p>Reference: PAY-${String(payment.id).padStart(6, '0')} (payment #${payment.id}).</p>
<p><a href="/billing">Back to billing</a></p>`);
}

export function exportPage(ctx: PageContext): string {
  return layout(ctx, 'Data export', `<p>Export the customer list as comma-separated values.</p>
<p><a class="button" href="/export/download">Download customers.csv</a></p>`);
}

export function customersCsv(): string {
  const rows = [
    ['id', 'name', 'email', 'country', 'balance'],
    ['1001', 'Globex Ltd', 'ap@globex.example', 'US', '1200.50'],
    ['1002', 'Initech', 'billing@initech.example', 'US', '310.00'],
    ['1003', 'Umbrella plc', 'finance@umbrella.example', 'GB', '98000.00'],
    ['1004', 'Soylent SA', 'compta@soylent.example', 'FR', '45.99'],
  ];
  return rows.map((r) => r.join(',')).join('\r\n') + '\r\n';
}

export function apiKeysPage(ctx: PageContext, keys: ApiKey[], created?: { name: string; secret: string }, error?: string): string {
  const list = keys.map((k) => `<tr><td>${escapeHtml(k.name)}</td><td><code>${escapeHtml(k.prefix)}...</code></td><td>${escapeHtml(k.createdBy ?? '(unknown)')}</td><td>${escapeHtml(k.createdAt)}</td></tr>`).join('\n');
  const notice = created === undefined ? '' : `<p class="ok" id="api-key-created">Created key ${escapeHtml(created.name)}: <code>${escapeHtml(created.secret)}</code> (copy it now, it is not shown again)</p>`;
  const err = error === undefined ? '' : `<p class="error">${escapeHtml(error)}</p>`;
  return layout(ctx, 'API keys', `${notice}${err}
<table class="grid" id="api-keys"><tr><th>Name</th><th>Key</th><th>Created by</th><th>Created</th></tr>
${list}
</table>
<form method="post" action="/settings/api-keys" class="box">
<label for="name">New key name</label> <input id="name" name="name" value="integration"> <input type="submit" value="Create key">
</form>`);
}

export function reportsPage(ctx: PageContext): string {
  const data = [['Q1', '1,204,331', '982,114'], ['Q2', '1,310,090', '1,001,876'], ['Q3', '1,287,455', '1,044,019'], ['Q4', '1,502,870', '1,120,554']];
  const rows = data.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return layout(ctx, 'Reports', `<table class="grid"><tr><th>Quarter</th><th>Revenue</th><th>Costs</th></tr>
${rows}
</table>`);
}

export function ssePage(ctx: PageContext): string {
  return layout(ctx, 'Live feed', `<p>Events from <code>/events</code> (one every 500 ms):</p>
<p>Status: <span id="sse-status">connecting...</span></p>
<ul id="sse-log" class="log"></ul>
<script src="/static/sse.js"></script>`);
}

export function loginPage(ctx: PageContext, error?: string, username = ''): string {
  const err = error === undefined ? '' : `<p class="error" id="login-error">${escapeHtml(error)}</p>`;
  return layout(ctx, 'Portal sign-in', `${err}<form method="post" action="/login" class="box">
<table>
<tr><td><label for="username">Username</label></td><td><input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username"></td></tr>
<tr><td><label for="password">Password</label></td><td><input id="password" name="password" type="password" autocomplete="current-password"></td></tr>
<tr><td></td><td><input type="submit" value="Sign in"></td></tr>
</table>
</form>
<p class="hint">Demo accounts: alice / alice-app-pass, bob / bob-app-pass, carol / carol-app-pass.</p>`);
}

export function messagePage(ctx: PageContext, title: string, message: string): string {
  return layout(ctx, title, `<p>${escapeHtml(message)}</p><p><a href="/">Home</a></p>`);
}
