// Renders the pages end users see: eta templates in views/, each wrapped in
// views/layout.eta. Every template is compiled once at start; rendering never
// touches the disk. Auto-escaping is on: data is text, never markup.

import { Eta } from 'eta';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createStaticAssets, defaultStaticSources } from './static-assets.ts';
import type { Renderer } from '../web/context.ts';
import type { BrandingConfig } from '../config/sections/branding.ts';
import { BRAND_CSS_PATH, brandStyle } from './brand-style.ts';
import type { UiConfig } from '../config/sections/ui.ts';
import { dateFormatter, dayFormatter, listFormatter, negotiateLanguage, textDirection, translator } from './i18n.ts';

export type { Renderer };

export type Branding = BrandingConfig;

export interface RendererOptions {
  /** Appended as ?v= to static URLs; pass StaticAssets.version so it matches what is served. */
  assetVersion?: string;
  /** ui.languages, default_language and time_zone (a function: the running config's). Default English, UTC. */
  ui?: UiConfig | (() => UiConfig);
}

const ENGLISH_ONLY: UiConfig = { languages: ['en'], default_language: 'en', time_zone: 'UTC', catalogs: {} };

/** The words static scripts show (views/static/*.js read them from <body data-messages>). */
const SCRIPT_WORDS = ['show', 'hide', 'password_noun', 'webauthn_waiting', 'webauthn_cancelled', 'webauthn_registered', 'webauthn_unsupported_here', 'webauthn_unsupported', 'webauthn_unexpected', 'webauthn_failed'] as const;

export interface SupportLink {
  text: string;
  href?: string;
}

const LAYOUT = 'layout';
const BASE = 'http://gatehouse.invalid';

/**
 * `value` if it is a same-origin relative path after WHATWG URL parsing, else
 * `fallback`. Used for every href built from data (return targets, links).
 */
export function localPath(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || !value.startsWith('/')) return fallback;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== BASE) return fallback;
  return url.pathname + url.search + url.hash;
}

/** How the footer shows the support contact: an email becomes mailto:, an http(s) URL a link, anything else text. */
export function supportLink(contact: string | undefined): SupportLink | undefined {
  const text = contact?.trim();
  if (!text) return undefined;
  if (/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(text)) return { text, href: `mailto:${text}` };
  if (/^https?:\/\/\S+$/i.test(text)) {
    try {
      return { text, href: new URL(text).href };
    } catch {
      return { text };
    }
  }
  return { text };
}

/** Throws unless branding can be shown under the page CSP (img-src 'self' data:). */
export function checkBranding(branding: Branding): Readonly<Branding> {
  if (typeof branding?.product_name !== 'string' || branding.product_name.trim() === '') {
    throw new Error('branding.product_name must be a non-empty string');
  }
  const logo = branding.logo_url;
  if (logo !== undefined) {
    const local = typeof logo === 'string' && localPath(logo, '') !== '';
    const dataImage = typeof logo === 'string' && /^data:image\/(png|gif|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$/.test(logo);
    if (!local && !dataImage) {
      throw new Error('branding.logo_url must be a same-origin path (/...) or a base64 data:image URL: pages allow no external images');
    }
  }
  if (branding.support_contact !== undefined && typeof branding.support_contact !== 'string') {
    throw new Error('branding.support_contact must be a string');
  }
  return Object.freeze({ ...branding });
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.eta'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function defaultAssetVersion(viewsDir: string): string {
  try {
    return createStaticAssets(defaultStaticSources(viewsDir)).version;
  } catch {
    return '0';
  }
}

// A POST form without a CSRF token would be refused by the server anyway;
// refuse to render it so the mistake shows in tests, not in production.
const POST_FORM = /<form\b[^>]*\bmethod="post"/i;

/** What the layout shows of one branding: checked once per config (a reload brings a new object). */
interface PreparedBrand {
  brand: Readonly<Branding>;
  support: SupportLink | undefined;
  brandCss: string | undefined;
  footerLinks: SupportLink[];
}

function prepareBrand(branding: Branding): PreparedBrand {
  const brand = checkBranding(branding);
  const style = brandStyle(brand);
  return {
    brand,
    support: supportLink(brand.support_contact),
    brandCss: style ? `${BRAND_CSS_PATH}?v=${style.version}` : undefined,
    footerLinks: (brand.footer_links ?? []).map((l) => ({ text: l.text, href: l.url.startsWith('/') ? localPath(l.url) : l.url })),
  };
}

/**
 * `branding` is a value, or a function giving the current one: the gateway
 * passes the running config's, so a reload shows the new brand on the next page.
 */
export function createRenderer(viewsDir: string, branding: Branding | (() => Branding), options: RendererOptions = {}): Renderer {
  const root = path.resolve(viewsDir);
  const currentBranding = typeof branding === 'function' ? branding : () => branding;
  const prepared = new WeakMap<Branding, PreparedBrand>();
  const brandOf = (b: Branding): PreparedBrand => {
    let p = prepared.get(b);
    if (!p) prepared.set(b, (p = prepareBrand(b)));
    return p;
  };
  brandOf(currentBranding()); // a bad branding fails at start, not on the first page
  const uiOption = options.ui ?? ENGLISH_ONLY;
  const currentUi = typeof uiOption === 'function' ? uiOption : () => uiOption;
  const assetVersion = options.assetVersion ?? defaultAssetVersion(root);

  const eta = new Eta({ views: root, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });
  const pages: string[] = [];
  for (const file of templateFiles(root)) {
    // Keyed by absolute path, the key eta's own resolver produces for render() and include().
    eta.templatesSync.define(file, eta.compile(readFileSync(file, 'utf8'), { filepath: file }));
    const relative = path.relative(root, file);
    const name = relative.slice(0, -'.eta'.length);
    if (!relative.includes(path.sep) && name !== LAYOUT) pages.push(name);
  }
  if (!pages.length) throw new Error(`no page templates in ${root}`);
  if (!eta.templatesSync.get(path.join(root, `${LAYOUT}.eta`))) throw new Error(`missing ${LAYOUT}.eta in ${root}`);
  // Everything is compiled; a template that names a file not loaded above fails instead of reading disk.
  eta.readFile = (file: string): string => {
    throw new Error(`template ${file} was not present at start`);
  };
  const known = new Set(pages);

  return {
    pages: Object.freeze([...pages].sort()),
    page(name: string, data: Record<string, unknown>): string {
      if (!known.has(name)) throw new Error(`unknown page ${JSON.stringify(name)} (known: ${[...known].sort().join(', ')})`);
      const { brand, support, brandCss, footerLinks } = brandOf(currentBranding());
      const ui = currentUi();
      const lang = negotiateLanguage(typeof data.accept_language === 'string' ? data.accept_language : undefined, ui);
      const tr = translator(lang, ui.catalogs);
      const html = eta.render(name, {
        ...data,
        // Set last so data can never replace them.
        branding: brand,
        support,
        brand_css: brandCss,
        footer_links: footerLinks,
        lang,
        dir: textDirection(lang),
        t: tr.t,
        tn: tr.tn,
        // A string as it is, a catalog message { key, params } in this language, or a list of them joined.
        say: (m: unknown): string => (Array.isArray(m) ? m.map((x) => tr.say(x)).join(' ') : tr.say(m as Parameters<typeof tr.say>[0])),
        // A message split at one {slot}, for markup around a parameter: [before, after].
        around: (key: string, slot: string, params: Record<string, string | number> = {}) => {
          const [before, after = ''] = tr.t(key, { ...params, [slot]: '\u0000' }).split('\u0000');
          return [before, after];
        },
        list: listFormatter(lang),
        script_words: JSON.stringify(Object.fromEntries(SCRIPT_WORDS.map((w) => [w, tr.t(`js.${w}`)]))),
        format_date: dateFormatter(lang, ui.time_zone),
        format_day: dayFormatter(lang),
        asset_version: assetVersion,
        local: localPath,
      });
      const csrf = data.csrf;
      if (POST_FORM.test(html) && (typeof csrf !== 'string' || csrf === '')) {
        throw new Error(`page ${JSON.stringify(name)} has a POST form but no csrf token in its data`);
      }
      return html;
    },
  };
}
