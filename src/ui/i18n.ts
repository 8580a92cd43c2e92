// The language of a page: Accept-Language matched against ui.languages, the
// text direction of that language, and dates in the user's locale and the
// operator's time zone. The words themselves are in the message catalogs
// (src/identity/catalog/, and the operator's ui.catalog_dir).

import type { Language } from '../config/sections/ui.ts';

export { SHIPPED_CATALOGS as CATALOGS, translator } from '../identity/translate.ts';
export { negotiateLanguage } from '../web/request-language.ts';

// Scripts written right to left (the primary language subtag).
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'sd', 'ug', 'dv', 'ckb', 'syr']);

export function textDirection(lang: string): 'ltr' | 'rtl' {
  return RTL.has(lang.toLowerCase().split('-')[0]) ? 'rtl' : 'ltr';
}

/** A date and time in the user's language and the operator's time zone (ui.time_zone). */
export function dateFormatter(lang: Language, timeZone: string): (when: number | string) => string {
  const format = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone });
  return (when) => format.format(new Date(when));
}

/** A calendar date (2026-12-31, as config gives it) in the user's language: a day has no time zone. */
export function dayFormatter(lang: Language): (day: string) => string {
  const format = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone: 'UTC' });
  return (day) => format.format(new Date(`${day.slice(0, 10)}T00:00:00Z`));
}

/** A list in the user's language: "A, B or C" (disjunction), "A, B and C" (conjunction). */
export function listFormatter(lang: Language): (items: string[], type: 'conjunction' | 'disjunction') => string {
  return (items, type) => new Intl.ListFormat(lang, { style: 'long', type }).format(items);
}
