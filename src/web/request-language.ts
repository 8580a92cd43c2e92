// The language of one request: Accept-Language matched against ui.languages,
// and the words for that request outside a page (JSON answers the page's
// scripts show, the emails a request sends, in the language the page was in,
// with the running config's product name: a reload renames at once).

import type { Language, UiConfig } from '../config/sections/ui.ts';
import type { MessageContext } from '../identity/messages.ts';
import { translator, type Translator } from '../identity/translate.ts';
import type { RequestContext } from './context.ts';

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

export function requestTranslator(ctx: RequestContext): Translator {
  const ui = ctx.snap.config.ui;
  return translator(negotiateLanguage(ctx.req.headers['accept-language'], ui), ui.catalogs);
}

export function messageContext(ctx: RequestContext): MessageContext & { tr: Translator } {
  const { branding } = ctx.snap.config;
  return { product: branding.product_name, support: branding.support_contact, tr: requestTranslator(ctx), timeZone: ctx.snap.config.ui.time_zone };
}
