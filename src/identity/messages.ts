// Plain-text messages the gateway sends to users: sign-in codes and
// security notices. Pure functions: same input, same message. Every security
// notice says what happened and what to do if it was not the user. The words
// come from the message catalog (identity/catalog/), in the reader's language.

import { translator, type Translator } from './translate.ts';

export interface Message {
  subject: string;
  text: string;
  /** Stable name of the template (webhook routing, logs, tests). */
  kind: string;
  /** Facts a webhook receiver may want; never secrets. */
  data?: Record<string, unknown>;
}

export interface MessageContext {
  product: string;            // branding.product_name (the running config's: a reload renames at once)
  support?: string;           // branding.support_contact
  /** The reader's language (the request's, else ui.default_language); default English. */
  tr?: Translator;
  /** The zone times are written in (ui.time_zone, an IANA name); default UTC. */
  timeZone?: string;
}

const ENGLISH = translator('en');
const tr = (ctx: MessageContext): Translator => ctx.tr ?? ENGLISH;

const UNITS: Array<[number, 'day' | 'hour' | 'minute' | 'second']> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];

/** Pure: 600000 → '10 minutes', 30000 → '30 seconds', 3600000 → '1 hour' (in `lang`, by Intl). */
export function formatDuration(ms: number, lang = 'en'): string {
  const say = (n: number, unit: string) => new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: 'long' }).format(n);
  for (const [size, name] of UNITS) {
    if (ms >= size && ms % size === 0) return say(ms / size, name);
  }
  for (const [size, name] of UNITS) {
    if (ms >= size) return say(Math.round(ms / size), name);
  }
  return say(Math.max(0, Math.ceil(ms / 1000)), 'second');
}

/** Pure: a moment as `lang` writes a date and time, with the zone named: 'December 7, 2026 at 6:19 AM UTC', '7. Dezember 2026 um 07:19 MEZ'. */
export function formatMoment(at: number, lang: string, timeZone = 'UTC'): string {
  return new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short' }).format(at);
}

function withSupport(ctx: MessageContext, lines: string[]): string {
  const out = [...lines];
  if (ctx.support) out.push('', tr(ctx).t('email.need_help', { support: ctx.support }));
  return out.join('\n');
}

// Users cannot change a password through the gateway (a users file, an IdP, the
// app's own form): the advice (email.not_you) is what every user can do.

export function oneTimeCodeMessage(ctx: MessageContext, p: { code: string; ttlMs: number; channel: 'email' | 'sms' }): Message {
  const { t, lang } = tr(ctx);
  const text = t('email.code.text', { product: ctx.product, code: p.code, duration: formatDuration(p.ttlMs, lang) });
  return {
    subject: t('email.code.subject', { product: ctx.product }),
    // A text message stays one short line; email gets the support contact.
    text: p.channel === 'sms' ? text : withSupport(ctx, [text]),
    kind: 'one_time_code',
    data: { channel: p.channel, expires_in_seconds: Math.round(p.ttlMs / 1000) },
  };
}

export function factorAddedMessage(ctx: MessageContext, p: { label: string; name: string }): Message {
  return factorChangeMessage(ctx, 'factor_added', p);
}

export function factorRemovedMessage(ctx: MessageContext, p: { label: string; name: string }): Message {
  return factorChangeMessage(ctx, 'factor_removed', p);
}

function factorChangeMessage(ctx: MessageContext, kind: 'factor_added' | 'factor_removed', p: { label: string; name: string }): Message {
  const { t } = tr(ctx);
  return {
    subject: t(`email.${kind}.subject`, { product: ctx.product }),
    text: withSupport(ctx, [t(`email.${kind}.text`, { product: ctx.product, label: p.label, name: p.name }), '', t('email.not_you')]),
    kind,
    data: { label: p.label, name: p.name },
  };
}

export function recoveryCodeUsedMessage(ctx: MessageContext, p: { remaining: number }): Message {
  const { t, tn } = tr(ctx);
  const left = p.remaining === 0
    ? t('email.recovery_used.none')
    : tn('email.recovery_used.left', p.remaining) + (p.remaining <= 3 ? ` ${t('email.recovery_used.few')}` : '');
  return {
    subject: t('email.recovery_used.subject', { product: ctx.product }),
    text: withSupport(ctx, [t('email.recovery_used.text', { product: ctx.product }), left, '', t('email.not_you')]),
    kind: 'recovery_code_used',
    data: { remaining: p.remaining },
  };
}

export function mfaResetMessage(ctx: MessageContext, p: { by?: string } = {}): Message {
  const { t } = tr(ctx);
  return {
    subject: t('email.mfa_reset.subject', { product: ctx.product }),
    text: withSupport(ctx, [
      p.by ? t('email.mfa_reset.text_by', { product: ctx.product, by: p.by }) : t('email.mfa_reset.text_admin', { product: ctx.product }),
      t('email.mfa_reset.next'),
      '',
      t('email.mfa_reset.not_you'),
    ]),
    kind: 'mfa_reset',
    data: p.by ? { by: p.by } : {},
  };
}

export function enrollmentCompleteMessage(ctx: MessageContext, p: { label: string }): Message {
  const { t } = tr(ctx);
  return {
    subject: t('email.enrolled.subject', { product: ctx.product }),
    text: withSupport(ctx, [
      t('email.enrolled.text', { product: ctx.product, label: p.label }),
      t('email.enrolled.keep_codes'),
      '',
      t('email.not_you'),
    ]),
    kind: 'enrollment_complete',
    data: { label: p.label },
  };
}

export function recoveryRegeneratedMessage(ctx: MessageContext): Message {
  const { t } = tr(ctx);
  return {
    subject: t('email.regenerated.subject', { product: ctx.product }),
    text: withSupport(ctx, [t('email.regenerated.text', { product: ctx.product }), '', t('email.not_you')]),
    kind: 'recovery_regenerated',
  };
}

/**
 * The approval link of a push sent through the notifier. It never carries the
 * number the sign-in page shows: the person at the phone must read it there.
 */
export function pushApprovalMessage(ctx: MessageContext, p: { url: string; action: string; ip: string; ttlMs: number; enroll: boolean }): Message {
  const { t, lang } = tr(ctx);
  const what = p.enroll ? t('email.push.what_enroll', { product: ctx.product }) : t('email.push.what_signin', { product: ctx.product, action: p.action, ip: p.ip });
  return {
    subject: t(p.enroll ? 'email.push.subject_enroll' : 'email.push.subject', { product: ctx.product }),
    text: withSupport(ctx, [
      t('email.push.open', { what }),
      p.url,
      '',
      t('email.push.then', { duration: formatDuration(p.ttlMs, lang) }),
      t('email.push.not_you'),
    ]),
    kind: 'push_approval',
    data: { url: p.url, expires_in_seconds: Math.round(p.ttlMs / 1000), enroll: p.enroll },
  };
}

/** The Web Push notification of a push: what is approved, never the number (the phone must read it on the sign-in page). */
export function pushNotificationText(ctx: MessageContext, p: { action: string; ip: string; enroll: boolean }): { title: string; body: string } {
  const { t } = tr(ctx);
  return p.enroll
    ? { title: t('email.push.notify_title_enroll', { product: ctx.product }), body: t('email.push.notify_body_enroll') }
    : { title: t('email.push.notify_title', { product: ctx.product }), body: t('email.push.notify_body', { action: p.action, ip: p.ip }) };
}

/** To the operator's alert address: a user said a push was not theirs. */
export function pushNotMeAlert(ctx: MessageContext, p: { user: string; ip: string; action: string; at: number }): Message {
  const { t, lang } = tr(ctx);
  const at = formatMoment(p.at, lang, ctx.timeZone);
  return {
    subject: t('email.push_not_me.subject', { product: ctx.product, user: p.user }),
    text: [
      t('email.push_not_me.text', { user: p.user }),
      t('email.push_not_me.where', { ip: p.ip, action: p.action, at }),
      t('email.push_not_me.advice'),
    ].join('\n'),
    kind: 'push_not_me',
    // Receivers of webhooks parse the time: ISO, not the reader's words.
    data: { user: p.user, ip: p.ip, action: p.action, at: new Date(p.at).toISOString() },
  };
}

/** To the operator's alert address: the break-glass account signed in, second factors bypassed. */
export function breakGlassAlert(ctx: MessageContext, p: { user: string; ip: string; at: number; reason: string }): Message {
  const { t, lang } = tr(ctx);
  return {
    subject: t('email.break_glass.subject', { product: ctx.product }),
    text: t('email.break_glass.text', { user: p.user, ip: p.ip, time: formatMoment(p.at, lang, ctx.timeZone), reason: p.reason }),
    kind: 'breakglass_used',
    data: { user: p.user, ip: p.ip, reason: p.reason },
  };
}

/** To the operator's alert address: an operator reset a user's two-step verification (`gatehouse mfa reset`). */
export function mfaResetAlert(ctx: MessageContext, p: { user: string; by: string; approvedBy?: string; at: number; reason?: string }): Message {
  const { t, lang } = tr(ctx);
  const time = formatMoment(p.at, lang, ctx.timeZone);
  const what = p.approvedBy
    ? t('email.mfa_reset_alert.text_approved', { user: p.user, by: p.by, approver: p.approvedBy, time })
    : t('email.mfa_reset_alert.text', { user: p.user, by: p.by, time });
  return {
    subject: t('email.mfa_reset_alert.subject', { product: ctx.product, user: p.user }),
    text: [what, ...(p.reason ? [t('email.mfa_reset_alert.reason', { reason: p.reason })] : []), t('email.mfa_reset_alert.removed')].join('\n'),
    kind: 'mfa_reset_alert',
    data: { user: p.user, by: p.by, ...(p.approvedBy ? { approved_by: p.approvedBy } : {}) },
  };
}

/** A sign-in from a country none of the user's recent sign-ins was from (risk signal new_country). */
export function newCountryMessage(ctx: MessageContext, p: { country: string; ip: string; at: number; refused: boolean }): Message {
  const { t, lang } = tr(ctx);
  const when = formatMoment(p.at, lang, ctx.timeZone);
  return {
    subject: t('email.new_country.subject', { product: ctx.product, country: p.country }),
    text: withSupport(ctx, [
      t('email.new_country.text', { product: ctx.product, country: p.country, ip: p.ip, when }),
      t(p.refused ? 'email.new_country.refused' : 'email.new_country.may_ask'),
      '',
      p.refused ? t('email.not_you') : `${t('email.new_country.if_you')} ${t('email.not_you')}`,
    ]),
    kind: 'signin_new_country',
    data: { country: p.country, ip: p.ip, refused: p.refused },
  };
}
