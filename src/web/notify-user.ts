// Security notices to a user (a factor added, a sign-in from a new country):
// sent in the background through the configured notifier; a failed delivery
// is logged, never fatal.

import type { RequestContext } from './context.ts';
import type { Message, MessageContext } from '../identity/messages.ts';
import type { Translator } from '../identity/translate.ts';
import { messageContext } from './request-language.ts';
import { currentUser } from './current-user.ts';

/** Sends a security notice to the user, in the request's language; a failed delivery is logged, never fatal. */
export function notifyUser(ctx: RequestContext, userId: string, make: (c: MessageContext & { tr: Translator }) => Message, email?: string): void {
  // `email`: a user no session carries yet (an IdP's, whose sign-in was refused) is not in the identity source.
  const to = email || (ctx.session?.user === userId ? currentUser(ctx) : ctx.svc.identity.getUser(userId))?.email;
  if (!to) return;
  const msg = make(messageContext(ctx));
  ctx.svc.notifier.send({ to, ...msg }).catch((err: Error) => {
    ctx.svc.log.warn({ err: err.message, user: userId, kind: msg.kind }, 'notification failed');
  });
}
