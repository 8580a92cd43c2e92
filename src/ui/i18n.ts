// The language of a page: Accept-Language matched against ui.languages, the
// text direction of that language, and dates in the user's locale and the
// operator's time zone. The words themselves are in the message catalogs
// (src/identity/catalog/, and the operator's ui.catalog_dir).

import type { Language, UiConfig } from '../config/sections/ui.ts';

export { SHIPPED_CATALOGS as CATALOGS, translator } from '../identity/translate.ts';

// Scripts written right to left (the primary language subtag).
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'sd', 'ug', 'dv', 'ckb', 'syr']);

/** The first offered language in the header's order of preference (q), else the default. */
export function negotiateLanguage(header: string | undefined, ui: Pick<UiConfig, 'languages' | 'default_language'>): Language {
  const wanted = (header ?? '').split(',').map((part, i) => {
    const [tag, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
  }).filter((w) => w.tag !== '' && w.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  for (const w of wanted) {
    // An exact offer (pt-br) first, then the primary language (de-AT → de).
    const hit = ui.languages.find((l) => l === w.tag) ?? ui.languages.find((l) => l === w.tag.split('-')[0]);
    if (hit) return hit;
  }
  return ui.default_language;
}

export function textDirection(lang: string): 'ltr' | 'rtl' {
  return RTL.has(lang.toLowerCase().split('-')[0]) ? 'rtl' : 'ltr';
}

/** A date and time in the user's language and the operator's time zone (ui.time_zone). */
export function dateFormatter(lang: Language, timeZone: string): (when: number | string) => string {
  const format = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone });
  return (when) => format.format(new Date(when));
}

/** A list in the user's language: "A, B or C" (disjunction), "A, B and C" (conjunction). */
export function listFormatter(lang: Language): (items: string[], type: 'conjunction' | 'disjunction') => string {
  return (items, type) => new Intl.ListFormat(lang, { style: 'long', type }).format(items);
}
