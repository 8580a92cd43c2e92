// branding: the operator's product name, logo, colours, extra stylesheet,
// support contact and footer links, shown on every page.

import { readFileSync } from 'node:fs';
import type { Obj, Reader } from '../reader.ts';
import { isObject, messageOf } from '../reader.ts';
import { nonEmpty, obj, type PropertiesOf, type Schema } from '../schema-kit.ts';
import { contrastRatio, parseHexColour } from '../contrast.ts';

export interface BrandColours {
  primary?: string;               // links, primary buttons, focus ring (#rgb or #rrggbb)
  background?: string;            // the card the page's content sits on
  text?: string;                  // body text
}

export interface FooterLink {
  text: string;
  url: string;                    // https://…, http://…, mailto:… or a same-origin /path
}

export interface BrandingConfig {
  product_name: string;           // default "gatehouse"
  logo_url?: string;              // same-origin path or data: URL (no external assets)
  support_contact?: string;       // shown on every page
  colors?: BrandColours;          // the light scheme
  dark_colors?: BrandColours;     // the dark scheme (prefers-color-scheme: dark); default gatehouse's dark palette
  /** An extra CSS file, read at load and on every reload, served after the built-in stylesheet. */
  stylesheet?: { path: string; css: string };
  footer_links?: FooterLink[];
}

const colour: Schema = { type: 'string', pattern: '^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$', errorHint: 'must be a colour written #rgb or #rrggbb' };
const colours = obj({ primary: colour, background: colour, text: colour } satisfies PropertiesOf<BrandColours>);

export const brandingSchema = obj({
  product_name: nonEmpty, logo_url: nonEmpty, support_contact: nonEmpty,
  colors: colours, dark_colors: colours, stylesheet: nonEmpty,
  footer_links: { type: 'array', items: obj({ text: nonEmpty, url: nonEmpty } satisfies PropertiesOf<FooterLink>, ['text', 'url']) },
} satisfies PropertiesOf<BrandingConfig>);

/** gatehouse's own palette (views/static/gatehouse.css), the other side of a pair the operator sets only half of. */
export const DEFAULT_COLOURS = {
  light: { primary: '#2b59c3', background: '#ffffff', text: '#1c2230' },
  dark: { primary: '#8fb0ff', background: '#1a1e26', text: '#e7eaf0' },
} as const;

// WCAG 2.x level AA for body text and link text (1.4.3).
const AA_TEXT = 4.5;

export function buildBranding(r: Reader, b: Obj, warnings: string[] = []): BrandingConfig {
  const logo_url = r.str(b, 'logo_url');
  // No external assets (CSP): a same-origin path or an inline image only.
  if (logo_url !== undefined && !(/^\/(?!\/)/.test(logo_url) || logo_url.startsWith('data:image/'))) {
    r.fail(['branding', 'logo_url'], 'must be a same-origin path (/static/logo.svg) or a data:image/ URL; external assets are not allowed');
  }
  const support_contact = r.str(b, 'support_contact');
  const colors = readColours(r, b, 'colors');
  const dark_colors = readColours(r, b, 'dark_colors');
  const stylesheet = readStylesheet(r, r.str(b, 'stylesheet'));
  const footer_links = readFooterLinks(r, b);
  if (colors) contrastWarnings('colors', colors, DEFAULT_COLOURS.light, warnings);
  if (dark_colors) contrastWarnings('dark_colors', dark_colors, DEFAULT_COLOURS.dark, warnings);
  return {
    product_name: r.str(b, 'product_name') ?? 'gatehouse',
    ...(logo_url !== undefined ? { logo_url } : {}),
    ...(support_contact !== undefined ? { support_contact } : {}),
    ...(colors ? { colors } : {}),
    ...(dark_colors ? { dark_colors } : {}),
    ...(stylesheet ? { stylesheet } : {}),
    ...(footer_links.length > 0 ? { footer_links } : {}),
  };
}

function readColours(r: Reader, b: Obj, key: 'colors' | 'dark_colors'): BrandColours | undefined {
  if (!isObject(b[key])) return undefined;
  const c = r.section(b, key);
  const out: BrandColours = {};
  for (const name of ['primary', 'background', 'text'] as const) {
    const v = r.str(c, name);
    if (v !== undefined && parseHexColour(v)) out[name] = v.toLowerCase();
  }
  return out;
}

function readStylesheet(r: Reader, path: string | undefined): BrandingConfig['stylesheet'] {
  if (path === undefined) return undefined;
  try {
    const css = readFileSync(path, 'utf8');
    // The page CSP allows only same-origin styles; a closing tag could only matter if the CSS were inlined, and it never is.
    return { path, css };
  } catch (err) {
    r.fail(['branding', 'stylesheet'], `cannot read ${path}: ${messageOf(err)}`);
    return undefined;
  }
}

function readFooterLinks(r: Reader, b: Obj): FooterLink[] {
  const out: FooterLink[] = [];
  r.items(b, 'footer_links').forEach((item, i) => {
    if (!isObject(item) || typeof item.text !== 'string' || typeof item.url !== 'string') return; // the schema names it
    const ok = /^\/(?!\/)/.test(item.url) || /^mailto:[^\s]+$/i.test(item.url) || (/^https?:\/\/\S+$/i.test(item.url) && URL.canParse(item.url));
    if (!ok) r.fail(['branding', 'footer_links', i, 'url'], 'must be an https:// or http:// URL, a mailto: address or a same-origin /path');
    else out.push({ text: item.text, url: item.url });
  });
  return out;
}

/**
 * Below WCAG AA the pages are still served (brand colours are cosmetic; a
 * reload must not be refused over them), but `gatehouse check` and the
 * gateway's log say which pair is too faint.
 */
function contrastWarnings(key: string, set: BrandColours, defaults: Required<BrandColours>, warnings: string[]): void {
  const c = { ...defaults, ...set };
  // The button label needs no check: black or white on any colour reaches at least 4.58:1 (onPrimary).
  const pairs: Array<[string, string, string, number]> = [
    ['text', c.text, c.background, contrastRatio(c.text, c.background)],
    ['primary (links)', c.primary, c.background, contrastRatio(c.primary, c.background)],
  ];
  for (const [what, fg, bg, ratio] of pairs) {
    if (ratio < AA_TEXT) {
      warnings.push(`branding.${key}: ${what} ${fg} on ${bg} has contrast ${ratio.toFixed(2)}:1, below WCAG AA (${AA_TEXT}:1); some users cannot read it`);
    }
  }
}

/** The label colour on a primary button: black or white, whichever reads better. */
export function onPrimary(primary: string): string {
  return contrastRatio(primary, '#ffffff') >= contrastRatio(primary, '#000000') ? '#ffffff' : '#000000';
}
