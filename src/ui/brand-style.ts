// The operator's colours and extra stylesheet as one CSS file, served at
// /.gatehouse/brand.css after views/static/gatehouse.css. Built from the
// config of the moment (a reload changes it at once) and cached per config.
// A file, not an inline <style>: the page CSP allows same-origin styles only.

import type { BrandColours, BrandingConfig } from '../config/sections/branding.ts';
import { onPrimary } from '../config/sections/branding.ts';
import { etagOf } from './static-assets.ts';

export const BRAND_CSS_PATH = '/.gatehouse/brand.css';

export interface BrandStyle {
  body: Buffer;
  etag: string;
  /** Changes with the content: the ?v= of the layout's link. */
  version: string;
}

const cache = new WeakMap<BrandingConfig, BrandStyle | null>();

/** The brand stylesheet, or undefined when the operator set no colours and no stylesheet. */
export function brandStyle(branding: BrandingConfig): BrandStyle | undefined {
  let style = cache.get(branding);
  if (style === undefined) {
    style = build(branding);
    cache.set(branding, style);
  }
  return style ?? undefined;
}

function build(b: BrandingConfig): BrandStyle | null {
  const parts: string[] = [];
  // `not all and (...)`: light, and also a browser that states no preference.
  if (b.colors) parts.push(`@media not all and (prefers-color-scheme: dark) {\n  :root {\n${declarations(b.colors, 'light')}  }\n}`);
  if (b.dark_colors) parts.push(`@media (prefers-color-scheme: dark) {\n  :root {\n${declarations(b.dark_colors, 'dark')}  }\n}`);
  if (b.stylesheet) parts.push(`/* branding.stylesheet: ${b.stylesheet.path.replaceAll('*/', '* /')} */\n${b.stylesheet.css}`);
  if (parts.length === 0) return null;
  const body = Buffer.from(`/* branding from the gateway config */\n${parts.join('\n\n')}\n`);
  const etag = etagOf(body);
  return { body, etag, version: etag.slice(1, 13) };
}

/** The variables of views/static/gatehouse.css each brand colour stands for; shades are mixed from them. */
function declarations(c: BrandColours, scheme: 'light' | 'dark'): string {
  const d: string[] = [];
  if (c.primary) {
    d.push(`--accent: ${c.primary};`, `--focus: ${c.primary};`, `--accent-hover: color-mix(in srgb, ${c.primary} 85%, #000);`, `--on-accent: ${onPrimary(c.primary)};`);
  }
  if (c.background) {
    // The page around the card: a shade darker in light mode, darker still in dark mode (as gatehouse.css does).
    const page = scheme === 'light' ? 'color-mix(in srgb, var(--surface) 94%, var(--text))' : 'color-mix(in srgb, var(--surface) 70%, #000)';
    d.push(`--surface: ${c.background};`, `--bg: ${page};`,
      '--surface-2: color-mix(in srgb, var(--surface) 97%, var(--text));', '--border: color-mix(in srgb, var(--surface) 80%, var(--text));');
  }
  if (c.text) d.push(`--text: ${c.text};`, '--muted: color-mix(in srgb, var(--text) 80%, var(--surface));');
  return d.map((x) => `    ${x}\n`).join('');
}
