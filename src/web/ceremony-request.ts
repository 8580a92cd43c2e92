// The request side of the WebAuthn JSON endpoints (ui/webauthn-endpoints.ts and
// the passkey sign-in, ui/passkey-signin.ts): POST, a session, CSRF in a header.

import type { RequestContext } from './context.ts';
import { readJson, BodyError } from './form-body.ts';
import { sendJson } from './respond.ts';
import { csrfOk } from './page-session.ts';
import { requestTranslator } from './request-language.ts';

export interface CeremonyBody { query?: unknown; kind?: unknown; name?: unknown; remember?: unknown; response?: unknown; rd?: unknown }

/**
 * The JSON body of a ceremony request after the checks every one needs (POST,
 * a session, CSRF in a header); undefined when the answer has been sent.
 * `signedIn: false` for the passkey sign-in, whose session is the anonymous
 * one of the sign-in page.
 */
export async function readCeremony(ctx: RequestContext, signedIn = true): Promise<CeremonyBody | undefined> {
  if (ctx.req.method !== 'POST') { sendJson(ctx, 405, { ok: false, error: requestTranslator(ctx).t('webauthn.bad_request') }); return; }
  if (signedIn ? !ctx.session?.user : !ctx.session) { sendJson(ctx, 401, { ok: false, code: 'expired', error: requestTranslator(ctx).t('webauthn.session_ended') }); return; }
  let body: unknown;
  try { body = await readJson(ctx.req); } catch (err) {
    sendJson(ctx, err instanceof BodyError ? err.status : 400, { ok: false, error: requestTranslator(ctx).t('webauthn.bad_request') });
    return;
  }
  const token = ctx.req.headers['x-csrf-token'];
  if (!csrfOk(ctx, typeof token === 'string' ? token : undefined)) { sendJson(ctx, 403, { ok: false, code: 'expired', error: requestTranslator(ctx).t('webauthn.page_expired') }); return; }
  if (!body || typeof body !== 'object') { sendJson(ctx, 400, { ok: false, error: requestTranslator(ctx).t('webauthn.bad_request') }); return; }
  return body as CeremonyBody;
}
