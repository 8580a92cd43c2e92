// The message catalogs (src/identity/catalog/) as functions: a string in one
// language with its {parameters} filled in, plural forms chosen by the
// language's rules (Intl.PluralRules), and the checks an operator's extra
// catalog (ui.catalog_dir) must pass. Pages and emails both read them, which
// is why they live below the pages: identity/messages.ts builds the emails.

import { de } from './catalog/de.ts';
import { en, type Catalog, type MessageKey } from './catalog/en.ts';
import { es } from './catalog/es.ts';
import { fr } from './catalog/fr.ts';

export type { Catalog, MessageKey };

/** The catalogs gatehouse ships: complete, checked by test/ui/i18n.test.ts. */
export const SHIPPED_CATALOGS: Readonly<Record<string, Catalog>> = { en, de, fr, es };

/** A message to show later, in the reader's language: what page modules hand the templates. */
export interface Msg { key: MessageKey; params?: Record<string, string | number>; count?: number }

export function msg(key: MessageKey, params?: Record<string, string | number>): Msg {
  return params ? { key, params } : { key };
}

/** A message with plural forms (`<key>.one`, `<key>.other`, ...): `{n}` is the count. */
export function plural(key: string, count: number, params?: Record<string, string | number>): Msg {
  return { key: key as MessageKey, count, ...(params ? { params } : {}) };
}

export interface Translator {
  readonly lang: string;
  t(key: string, params?: Record<string, string | number>): string;
  /** The plural form of `key` for `count` ({n} is the count). */
  tn(key: string, count: number, params?: Record<string, string | number>): string;
  /** A Msg, or a string as it is. */
  say(m: Msg | string): string;
}

/** `{name}` parameters of a message, sorted. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

function fill(text: string, params: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/**
 * The translator for `lang`: the operator's catalog (`extra`, ui.catalog_dir, already
 * checked), else the shipped one, else English. A key a catalog lacks reads in
 * English (the tests keep shipped catalogs complete; extra ones are checked at load).
 */
export function translator(lang: string, extra: Readonly<Record<string, Readonly<Record<string, string>>>> = {}): Translator {
  const catalog: Readonly<Record<string, string>> = extra[lang] ?? SHIPPED_CATALOGS[lang] ?? en;
  const english: Readonly<Record<string, string>> = en;
  const rules = new Intl.PluralRules(lang);
  const t = (key: string, params: Record<string, string | number> = {}): string => {
    const text = catalog[key] ?? english[key];
    if (text === undefined) throw new Error(`message ${JSON.stringify(key)} is not in the catalog`);
    return fill(text, params);
  };
  const tn = (key: string, count: number, params: Record<string, string | number> = {}): string => {
    const form = `${key}.${rules.select(count)}`;
    const text = catalog[form] ?? catalog[`${key}.other`] ?? english[`${key}.${new Intl.PluralRules('en').select(count)}`];
    if (text === undefined) throw new Error(`message ${JSON.stringify(key)} has no plural forms in the catalog`);
    return fill(text, { ...params, n: count });
  };
  return {
    lang,
    t,
    tn,
    say: (m) => (typeof m === 'string' ? m : m.count !== undefined ? tn(m.key, m.count, m.params) : t(m.key, m.params)),
  };
}

/**
 * What is wrong with an extra catalog, one line each (empty: it can be used):
 * every English key present and not empty, no unknown key, the same parameters.
 * Plural forms: `.one`/`.other` as in English; other forms of the language
 * (`.zero`, `.two`, `.few`, `.many`) may be added.
 */
export function catalogProblems(entries: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const english: Readonly<Record<string, string>> = en;
  const missing = Object.keys(en).filter((k) => typeof entries[k] !== 'string' || (entries[k] as string).trim() === '');
  if (missing.length > 0) problems.push(`${missing.length} message(s) missing or empty: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  for (const [key, value] of Object.entries(entries)) {
    const base = key.replace(/\.(zero|two|few|many)$/, '.other');
    const reference = english[key] ?? english[base];
    if (reference === undefined) problems.push(`unknown message ${JSON.stringify(key)}`);
    else if (typeof value !== 'string') problems.push(`${key}: not a string`);
    else if (!sameParameters(placeholders(value), placeholders(reference), key !== base || key.endsWith('.one'))) {
      problems.push(`${key}: parameters ${JSON.stringify(placeholders(value))}, English has ${JSON.stringify(placeholders(reference))}`);
    }
  }
  return problems;
}

/** The same parameters; a plural form other than "other" may leave out {n} ("eine Sekunde"). */
/** Every problem of the operator's catalogs (ui.catalogs), each prefixed with the file it is in. */
export function extraCatalogProblems(catalogs: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): string[] {
  return Object.entries(catalogs).flatMap(([lang, entries]) => catalogProblems(entries).map((p) => `ui.catalog_dir ${lang}.json: ${p}`));
}

export function sameParameters(got: string[], want: string[], pluralForm: boolean): boolean {
  const w = pluralForm ? want.filter((p) => p !== 'n') : want;
  const g = pluralForm ? got.filter((p) => p !== 'n') : got;
  return JSON.stringify([...new Set(g)]) === JSON.stringify([...new Set(w)]);
}
