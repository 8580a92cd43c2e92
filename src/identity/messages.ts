// Plain-text messages the gateway sends to users: sign-in codes and
// security notices. Pure functions: same input, same message. Every security
// notice says what happened and what to do if it was not the user.

export interface Message {
  subject: string;
  text: string;
  /** Stable name of the template (webhook routing, logs, tests). */
  kind: string;
  /** Facts a webhook receiver may want; never secrets. */
  data?: Record<string, unknown>;
}

export interface MessageContext {
  product: string;            // branding.product_name
  support?: string;           // branding.support_contact
}

/** Pure: 600000 → '10 minutes', 30000 → '30 seconds', 3600000 → '1 hour'. */
export function formatDuration(ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return plural(ms / size, name);
  }
  for (const [size, name] of units) {
    if (ms >= size) return plural(Math.round(ms / size), name);
  }
  return plural(Math.max(0, Math.ceil(ms / 1000)), 'second');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function withSupport(ctx: MessageContext, lines: string[]): string {
  const out = [...lines];
  if (ctx.support) out.push('', `Need help? Contact ${ctx.support}.`);
  return out.join('\n');
}

// Users cannot change a password through the gateway (a users file, an IdP, the
// app's own form): the advice is what every user can do.
const NOT_YOU = 'If this was not you, contact your administrator now: someone may know your password.';

export function oneTimeCodeMessage(ctx: MessageContext, p: { code: string; ttlMs: number; channel: 'email' | 'sms' }): Message {
  const text = `Your ${ctx.product} sign-in code is ${p.code}. It expires in ${formatDuration(p.ttlMs)}. If you did not try to sign in, tell your administrator.`;
  return {
    subject: `Your ${ctx.product} sign-in code`,
    // A text message stays one short line; email gets the support contact.
    text: p.channel === 'sms' ? text : withSupport(ctx, [text]),
    kind: 'one_time_code',
    data: { channel: p.channel, expires_in_seconds: Math.round(p.ttlMs / 1000) },
  };
}

export function factorAddedMessage(ctx: MessageContext, p: { label: string; name: string }): Message {
  return {
    subject: `A sign-in method was added to your ${ctx.product} account`,
    text: withSupport(ctx, [`A new sign-in method was added to your ${ctx.product} account: ${p.label} "${p.name}".`, '', NOT_YOU]),
    kind: 'factor_added',
    data: { label: p.label, name: p.name },
  };
}

export function factorRemovedMessage(ctx: MessageContext, p: { label: string; name: string }): Message {
  return {
    subject: `A sign-in method was removed from your ${ctx.product} account`,
    text: withSupport(ctx, [`A sign-in method was removed from your ${ctx.product} account: ${p.label} "${p.name}".`, '', NOT_YOU]),
    kind: 'factor_removed',
    data: { label: p.label, name: p.name },
  };
}

export function recoveryCodeUsedMessage(ctx: MessageContext, p: { remaining: number }): Message {
  const left = p.remaining === 0
    ? 'You have no recovery codes left: create new ones on your account page now.'
    : `You have ${plural(p.remaining, 'recovery code')} left.${p.remaining <= 3 ? ' Consider creating a new set on your account page.' : ''}`;
  return {
    subject: `A recovery code was used for your ${ctx.product} account`,
    text: withSupport(ctx, [`A recovery code was just used to sign in to your ${ctx.product} account.`, left, '', NOT_YOU]),
    kind: 'recovery_code_used',
    data: { remaining: p.remaining },
  };
}

export function mfaResetMessage(ctx: MessageContext, p: { by?: string } = {}): Message {
  const who = p.by ? ` by ${p.by}` : ' by an administrator';
  return {
    subject: `Your ${ctx.product} two-step verification was reset`,
    text: withSupport(ctx, [
      `Your ${ctx.product} two-step verification was reset${who}. All your sign-in methods and recovery codes were removed, and you were signed out everywhere.`,
      'You will be asked to set up a sign-in method the next time you sign in.',
      '',
      'If you did not ask for this, contact your administrator now.',
    ]),
    kind: 'mfa_reset',
    data: p.by ? { by: p.by } : {},
  };
}

export function enrollmentCompleteMessage(ctx: MessageContext, p: { label: string }): Message {
  return {
    subject: `Two-step verification is on for your ${ctx.product} account`,
    text: withSupport(ctx, [
      `Two-step verification is now on for your ${ctx.product} account, using ${p.label}.`,
      'Keep your recovery codes somewhere safe: they let you in if you lose your device.',
      '',
      NOT_YOU,
    ]),
    kind: 'enrollment_complete',
    data: { label: p.label },
  };
}

/**
 * The approval link of a push sent through the notifier. It never carries the
 * number the sign-in page shows: the person at the phone must read it there.
 */
export function pushApprovalMessage(ctx: MessageContext, p: { url: string; action: string; ip: string; ttlMs: number; enroll: boolean }): Message {
  const what = p.enroll ? `confirm this phone for ${ctx.product} sign-in approvals` : `approve a sign-in to ${ctx.product} (${p.action}, from ${p.ip})`;
  return {
    subject: p.enroll ? `Confirm sign-in approvals for ${ctx.product}` : `Approve your ${ctx.product} sign-in?`,
    text: withSupport(ctx, [
      `Open this link to ${what}:`,
      p.url,
      '',
      `Then tap the number shown on the sign-in page. The link works once, for ${formatDuration(p.ttlMs)}.`,
      'If you did not try to sign in, open the link and choose "I didn’t try to sign in".',
    ]),
    kind: 'push_approval',
    data: { url: p.url, expires_in_seconds: Math.round(p.ttlMs / 1000), enroll: p.enroll },
  };
}

/** To the operator's alert address: a user said a push was not theirs. */
export function pushNotMeAlert(ctx: MessageContext, p: { user: string; ip: string; action: string; at: string }): Message {
  return {
    subject: `${ctx.product}: ${p.user} reported a sign-in attempt that was not theirs`,
    text: [
      `${p.user} answered a push approval request with "I didn’t try to sign in".`,
      `Sign-in from ${p.ip} (${p.action}) at ${p.at}.`,
      'The password of this account may be known to someone else. The request was refused.',
    ].join('\n'),
    kind: 'push_not_me',
    data: { user: p.user, ip: p.ip, action: p.action, at: p.at },
  };
}

/** A sign-in from a country none of the user's recent sign-ins was from (risk signal new_country). */
export function newCountryMessage(ctx: MessageContext, p: { country: string; ip: string; at: number; refused: boolean }): Message {
  const when = new Date(p.at).toISOString().replace('T', ' ').slice(0, 16);
  return {
    subject: `New sign-in to ${ctx.product} from ${p.country}`,
    text: withSupport(ctx, [
      `Your ${ctx.product} password was used to sign in from a country you have not signed in from recently: ${p.country} (address ${p.ip}, ${when} UTC).`,
      p.refused ? 'The sign-in was refused.' : 'You may be asked for your second factor.',
      '',
      p.refused ? NOT_YOU : `If this was you, there is nothing to do. ${NOT_YOU}`,
    ]),
    kind: 'signin_new_country',
    data: { country: p.country, ip: p.ip, refused: p.refused },
  };
}
