// ui: the languages the pages speak and the time zone they show times in, and
// the operator's extra message catalogs (catalog_dir: one <language>.json each).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isObject, messageOf, type Obj, type Reader } from '../reader.ts';
import { nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';

/** The languages gatehouse ships a message catalog for (src/identity/catalog/). */
export const SHIPPED_LANGUAGES = ['en', 'de', 'fr', 'es'] as const;
/** A language tag: a shipped one, or one with a catalog in ui.catalog_dir. */
export type Language = string;

export interface UiConfig {
  languages: Language[];          // offered, matched against Accept-Language; default [en]
  default_language: Language;     // when nothing in Accept-Language is offered; default the first of languages
  time_zone: string;              // IANA zone for dates and times on pages; default UTC
  catalog_dir?: string;           // extra catalogs, <language>.json (flat key → text); read at load and reload
  /** The catalogs read from catalog_dir, by language (their keys are checked against English where the catalog lives). */
  catalogs?: Readonly<Record<string, Readonly<Record<string, string>>>>; // absent: none
}

export const uiSchema = obj({ languages: strList, default_language: nonEmpty, time_zone: nonEmpty, catalog_dir: nonEmpty } satisfies PropertiesOf<Omit<UiConfig, 'catalogs'>>);

const isShipped = (v: string): boolean => (SHIPPED_LANGUAGES as readonly string[]).includes(v);
/** A language tag as a file name: letters and digits with hyphens (ar, pt-br, sr-latn). */
const TAG = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/;

export function buildUi(r: Reader, u: Obj): UiConfig {
  const catalog_dir = r.str(u, 'catalog_dir');
  const catalogs = catalog_dir === undefined ? {} : readCatalogs(r, catalog_dir);
  const available = [...SHIPPED_LANGUAGES, ...Object.keys(catalogs).filter((l) => !isShipped(l))];
  const languages: Language[] = [];
  (r.list(u, 'languages') ?? ['en']).forEach((lang, i) => {
    const code = lang.toLowerCase();
    if (!available.includes(code)) r.fail(['ui', 'languages', i], `no catalog for ${JSON.stringify(lang)}; available: ${available.join(', ')}${catalog_dir ? '' : ' (add more with ui.catalog_dir)'}`);
    else if (!languages.includes(code)) languages.push(code);
  });
  const given = r.str(u, 'default_language')?.toLowerCase();
  let default_language: Language = languages[0] ?? 'en';
  if (given !== undefined) {
    if (languages.includes(given)) default_language = given;
    else r.fail(['ui', 'default_language'], `must be one of ui.languages (${languages.join(', ')})`);
  }
  const time_zone = r.str(u, 'time_zone') ?? 'UTC';
  if (!validTimeZone(time_zone)) r.fail(['ui', 'time_zone'], `unknown time zone ${JSON.stringify(time_zone)} (an IANA name such as Europe/Berlin)`);
  return { languages: languages.length > 0 ? languages : ['en'], default_language, time_zone, ...(catalog_dir ? { catalog_dir } : {}), catalogs };
}

/** Every <language>.json in `dir`: a flat object of strings. A shipped language's file replaces that catalog. */
function readCatalogs(r: Reader, dir: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    r.fail(['ui', 'catalog_dir'], `cannot read ${dir}: ${messageOf(err)}`);
    return out;
  }
  for (const file of files) {
    const lang = file.slice(0, -'.json'.length).toLowerCase();
    if (!TAG.test(lang)) { r.fail(['ui', 'catalog_dir'], `${file}: the name must be a language tag, like ar.json or pt-br.json`); continue; }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    } catch (err) {
      r.fail(['ui', 'catalog_dir'], `${file}: ${messageOf(err)}`);
      continue;
    }
    const bad = isObject(parsed) ? Object.keys(parsed).filter((k) => typeof parsed[k] !== 'string') : [];
    if (!isObject(parsed) || bad.length > 0) { r.fail(['ui', 'catalog_dir'], `${file}: must be one JSON object of message key → text${bad.length ? ` (not text: ${bad.slice(0, 3).join(', ')})` : ''}`); continue; }
    out[lang] = parsed as Record<string, string>;
  }
  return out;
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
