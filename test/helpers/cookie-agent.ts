// A browser-like HTTP agent without a browser: one cookie jar for the host
// `localhost` (cookies ignore ports, as browsers do, so a gateway and an IdP on
// two loopback ports share it), redirects followed by hand so every hop can
// be checked. Navigation headers make the gateway answer as to a browser.

import { request } from 'undici';

export interface Hop { status: number; url: string; location?: string; body: string; headers: Record<string, string | string[] | undefined> }

export class CookieAgent {
  readonly jar = new Map<string, string>();

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  #store(setCookie: string | string[] | undefined): void {
    for (const sc of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** One request, no redirect following. */
  async send(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Hop> {
    const headers: Record<string, string> = { accept: 'text/html', 'sec-fetch-mode': 'navigate', ...(init.headers ?? {}) };
    if (this.jar.size) headers.cookie = this.cookieHeader();
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin ??= new URL(url).origin;
    }
    const r = await request(url, { method: (init.method ?? (init.form ? 'POST' : 'GET')) as 'GET', headers, body });
    this.#store(r.headers['set-cookie']);
    const text = await r.body.text();
    const location = typeof r.headers.location === 'string' ? new URL(r.headers.location, url).href : undefined;
    return { status: r.statusCode, url, location, body: text, headers: r.headers };
  }

  /**
   * GET (or the given request) and follow redirects; returns every hop, the
   * last one being the final answer, or the redirect whose target `until`
   * matched (not followed).
   */
  async go(url: string, init: { method?: string; form?: Record<string, string>; until?: (url: URL) => boolean } = {}, maxHops = 15): Promise<Hop[]> {
    const hops: Hop[] = [await this.send(url, init)];
    while (hops.length < maxHops) {
      const last = hops[hops.length - 1];
      if (last.status < 300 || last.status >= 400 || !last.location) return hops;
      if (init.until?.(new URL(last.location))) return hops;
      hops.push(await this.send(last.location));
    }
    throw new Error(`too many redirects from ${url}: ${hops.map((h) => h.url).join(' → ')}`);
  }
}
