// ui: the languages the pages speak and the time zone they show times in.

import type { Obj, Reader } from '../reader.ts';
import { nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';

/** The languages gatehouse ships a message catalog for (src/ui/messages/). */
export const SHIPPED_LANGUAGES = ['en', 'de', 'fr', 'es'] as const;
export type Language = (typeof SHIPPED_LANGUAGES)[number];

export interface UiConfig {
  languages: Language[];          // offered, matched against Accept-Language; default [en]
  default_language: Language;     // when nothing in Accept-Language is offered; default the first of languages
  time_zone: string;              // IANA zone for dates and times on pages; default UTC
}

export const uiSchema = obj({ languages: strList, default_language: nonEmpty, time_zone: nonEmpty } satisfies PropertiesOf<UiConfig>);

const isShipped = (v: string): v is Language => (SHIPPED_LANGUAGES as readonly string[]).includes(v);

export function buildUi(r: Reader, u: Obj): UiConfig {
  const languages: Language[] = [];
  (r.list(u, 'languages') ?? ['en']).forEach((lang, i) => {
    const code = lang.toLowerCase();
    if (!isShipped(code)) r.fail(['ui', 'languages', i], `no catalog for ${JSON.stringify(lang)}; shipped: ${SHIPPED_LANGUAGES.join(', ')}`);
    else if (!languages.includes(code)) languages.push(code);
  });
  const given = r.str(u, 'default_language')?.toLowerCase();
  let default_language: Language = languages[0] ?? 'en';
  if (given !== undefined) {
    if (isShipped(given) && languages.includes(given)) default_language = given;
    else r.fail(['ui', 'default_language'], `must be one of ui.languages (${languages.join(', ')})`);
  }
  const time_zone = r.str(u, 'time_zone') ?? 'UTC';
  if (!validTimeZone(time_zone)) r.fail(['ui', 'time_zone'], `unknown time zone ${JSON.stringify(time_zone)} (an IANA name such as Europe/Berlin)`);
  return { languages: languages.length > 0 ? languages : ['en'], default_language, time_zone };
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
