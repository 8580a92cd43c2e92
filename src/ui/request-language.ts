// The words for one request outside a page: JSON answers the page's scripts
// show, and the emails a request sends (in the language the page was in, with
// the running config's product name: a reload renames at once).

import type { RequestContext } from '../web/context.ts';
import type { MessageContext } from '../identity/messages.ts';
import { translator, type Translator } from '../identity/translate.ts';
import { negotiateLanguage } from './i18n.ts';

export function requestTranslator(ctx: RequestContext): Translator {
  const ui = ctx.snap.config.ui;
  return translator(negotiateLanguage(ctx.req.headers['accept-language'], ui), ui.catalogs);
}

export function messageContext(ctx: RequestContext): MessageContext {
  const { branding } = ctx.snap.config;
  return { product: branding.product_name, support: branding.support_contact, tr: requestTranslator(ctx) };
}
