// The language of a page: Accept-Language matched against ui.languages, the
// message catalogs (src/ui/messages/), and dates in the user's locale and the
// operator's time zone. Pages are moved into the catalogs one at a time:
// TRANSLATED_PAGES lists those whose every string comes from it; any other
// page is shown in English whole, never half translated.

import type { Language, UiConfig } from '../config/sections/ui.ts';
import { de } from './messages/de.ts';
import { en, type Catalog, type MessageKey } from './messages/en.ts';
import { es } from './messages/es.ts';
import { fr } from './messages/fr.ts';

export const CATALOGS: Readonly<Record<Language, Catalog>> = { en, de, fr, es };

/** Pages (views/<name>.eta) whose every string, and the layout's, comes from the catalogs. */
export const TRANSLATED_PAGES: ReadonlySet<string> = new Set(['signed-out', 'push-approve']);

// Scripts written right to left (the primary language subtag).
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'sd', 'ug', 'dv']);

/** The first offered language in the header's order of preference (q), else the default. */
export function negotiateLanguage(header: string | undefined, ui: Pick<UiConfig, 'languages' | 'default_language'>): Language {
  const wanted = (header ?? '').split(',').map((part, i) => {
    const [tag, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { lang: tag.trim().toLowerCase().split('-')[0], q: q === undefined ? 1 : Number(q), i };
  }).filter((w) => w.lang !== '' && w.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  for (const w of wanted) {
    const hit = ui.languages.find((l) => l === w.lang);
    if (hit) return hit;
  }
  return ui.default_language;
}

export function textDirection(lang: string): 'ltr' | 'rtl' {
  return RTL.has(lang.toLowerCase().split('-')[0]) ? 'rtl' : 'ltr';
}

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

/** `t(key, {product})` in one language; an unknown key throws (the catalog test keeps them complete). */
export function translator(lang: Language): Translate {
  const catalog = CATALOGS[lang];
  return (key, params = {}) => {
    const text = catalog[key];
    if (text === undefined) throw new Error(`message ${JSON.stringify(key)} is missing from the ${lang} catalog`);
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  };
}

/** A date and time in the user's language and the operator's time zone (ui.time_zone). */
export function dateFormatter(lang: Language, timeZone: string): (ms: number) => string {
  const format = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone });
  return (ms) => format.format(ms);
}
