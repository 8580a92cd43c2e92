// Small legacy login apps on real sockets, for identity.source upstream_form
// tests. They read parameters the way real stacks do, which is what makes a
// gateway that parses the form its own way unsafe:
//   php:     $_REQUEST-like: query, then the body over it; a repeated name keeps its LAST value
//   servlet: getParameter: the query first, then the body; a repeated name keeps its FIRST value
// The user table compares usernames ignoring case and accents (like a SQL
// `_ci`/`_ai` collation), and `aliases` lets a form name sign in another user.
//
// Pages (`single` puts them all behind one script, /app.php?action=…, like DokuWiki):
//   GET  /login            the login form (sets an anonymous APPSESS cookie)
//   POST /login            sign-in: 302 to `successTarget` with Set-Cookie SID, and X-App-User; else 200 "Invalid login"
//   GET  /home, /whoami    who the SID cookie belongs to (whoami: <span id="user">name</span>)
//   POST /edit             records an edit (who, body): what the tests check never arrives
//   GET  /logout           ends the app session
// Every request is recorded (method, url, cookie header, body).

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';

export type ParamStyle = 'php' | 'servlet';

export interface FormAppOptions {
  style: ParamStyle;
  /** Users and passwords; usernames match ignoring case and accents. */
  users?: Record<string, string>;
  /** A form username that signs in another user (an app quirk the gateway must catch with whoami / user_header). */
  aliases?: Record<string, string>;
  /** Where a successful sign-in redirects (default /home). */
  successTarget?: string;
  /** All pages behind one script: /app.php?action=login|home|whoami|edit|logout (the action read like any parameter). */
  single?: boolean;
}

export interface RecordedRequest { method: string; url: string; cookie: string | undefined; body: string }

export interface FormApp {
  origin: string;
  port: number;
  requests: RecordedRequest[];
  /** App session id → user. */
  sessions: Map<string, string>;
  edits: { user: string | null; body: string }[];
  close(): Promise<void>;
}

export const FORM_APP_USERS: Record<string, string> = { victim: 'victim-pass', mallory: 'mallory-pass' };

/** Case- and accent-insensitive, like utf8mb4_general_ci. */
export function collate(name: string): string {
  return name.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
}

function pick(style: ParamStyle, query: URLSearchParams, body: URLSearchParams, name: string): string | null {
  const q = query.getAll(name);
  const b = body.getAll(name);
  if (style === 'servlet') return q[0] ?? b[0] ?? null;
  const last = (xs: string[]) => (xs.length > 0 ? xs[xs.length - 1] : null);
  return last(b) ?? last(q);
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export async function startFormApp(opts: FormAppOptions): Promise<FormApp> {
  const users = opts.users ?? FORM_APP_USERS;
  const table = new Map(Object.entries(users).map(([u, p]) => [collate(u), { user: u, password: p }]));
  const sessions = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  const edits: FormApp['edits'] = [];
  const base = opts.single ? '/app.php' : '';

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const url = new URL(req.url ?? '/', 'http://app');
      requests.push({ method: req.method ?? '', url: req.url ?? '', cookie: req.headers.cookie, body });
      const query = url.searchParams;
      const form = new URLSearchParams(req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? body : '');
      const page = opts.single
        ? url.pathname === '/app.php' ? `/${pick(opts.style, query, form, 'action') ?? 'home'}` : url.pathname
        : url.pathname;
      const sid = cookieValue(req.headers.cookie, 'SID');
      const who = sid !== undefined ? sessions.get(sid) ?? null : null;
      const html = (status: number, text: string, headers: Record<string, string | string[]> = {}) => {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
        res.end(`<!doctype html><title>form app</title><body>${text}</body>`);
      };

      if (page === '/login' && req.method === 'GET') {
        return html(200, `<form method="post" action="${base || '/login'}"><input name="username"><input name="password" type="password">${opts.single ? '<input type="hidden" name="action" value="login">' : ''}</form>`,
          { 'set-cookie': `APPSESS=${randomBytes(8).toString('hex')}; Path=/; HttpOnly` });
      }
      if (page === '/login' && req.method === 'POST') {
        const typed = pick(opts.style, query, form, 'username') ?? '';
        const password = pick(opts.style, query, form, 'password') ?? '';
        const entry = table.get(collate(opts.aliases?.[typed] ?? typed));
        if (!entry || entry.password !== password) return html(200, 'Invalid login');
        const id = randomBytes(12).toString('hex');
        sessions.set(id, entry.user);
        res.writeHead(302, { location: opts.successTarget ?? `${base}${opts.single ? '?action=home' : '/home'}`, 'set-cookie': `SID=${id}; Path=/; HttpOnly`, 'x-app-user': entry.user });
        return res.end();
      }
      if (page === '/whoami') return html(200, who ? `<span id="user">${who}</span>` : 'nobody');
      if (page === '/home') return html(200, who ? `Hello ${who}` : 'Hello guest');
      if (page === '/edit' && req.method === 'POST') {
        edits.push({ user: who, body });
        return html(200, 'saved');
      }
      if (page === '/logout') {
        if (sid !== undefined) sessions.delete(sid);
        res.writeHead(302, { location: base || '/login', 'set-cookie': 'SID=; Path=/; Max-Age=0' });
        return res.end();
      }
      html(404, 'not found');
    })().catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`, port, requests, sessions, edits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
