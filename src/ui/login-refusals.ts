// The sign-in form shown again after a refused attempt, the same for the
// password form and the break-glass account: a wrong password and a lock-out.

import type { RequestContext } from '../web/context.ts';
import { sendPage } from '../web/respond.ts';
import { msg } from '../identity/translate.ts';
import { passkeySignInOffered } from './passkey-signin.ts';

/** The sign-in form again, with the wait a lock-out imposes. */
export function throttledPage(ctx: RequestContext, rd: string, username: string, waitMs: number): void {
  const wait = Math.ceil(waitMs / 1000);
  sendPage(ctx, 429, 'login', { rd, csrf: ctx.session?.csrf, passkey: passkeySignInOffered(ctx), username, wait_seconds: wait }, { 'retry-after': String(wait) });
}

/** The sign-in form again, saying the account is locked until an operator unlocks it (no wait to count down). */
export function lockedPage(ctx: RequestContext, rd: string, username: string): void {
  sendPage(ctx, 403, 'login', { rd, csrf: ctx.session?.csrf, passkey: passkeySignInOffered(ctx), username, error: msg('lockout.account_locked') });
}

/** The sign-in form again after a wrong username or password (the same words whichever was wrong). */
export function refusedPage(ctx: RequestContext, rd: string, username: string): void {
  sendPage(ctx, 401, 'login', { rd, csrf: ctx.session?.csrf, passkey: passkeySignInOffered(ctx), username, error: msg('login.wrong_password') });
}
