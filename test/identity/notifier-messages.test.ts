import t from 'tap';
import { translator } from '../../src/identity/translate.ts';
import {
  breakGlassAlert, enrollmentCompleteMessage, factorAddedMessage, factorRemovedMessage, formatDuration, mfaResetAlert, mfaResetMessage, newCountryMessage, pushNotMeAlert, oneTimeCodeMessage, recoveryCodeUsedMessage,
} from '../../src/identity/messages.ts';

const ctx = { product: 'Example Portal' };

t.test('formatDuration table', async (t) => {
  const table: Array<[number, string]> = [
    [600_000, '10 minutes'], [60_000, '1 minute'], [30_000, '30 seconds'], [1000, '1 second'], [3_600_000, '1 hour'],
    [7_200_000, '2 hours'], [86_400_000, '1 day'], [90_000, '90 seconds'], [90_500, '2 minutes'], [500, '1 second'], [0, '0 seconds'], [5_400_000, '90 minutes'],
  ];
  for (const [ms, want] of table) t.equal(formatDuration(ms), want, String(ms));
});

t.test('one-time code text, as specified', async (t) => {
  const m = oneTimeCodeMessage(ctx, { code: '123456', ttlMs: 600_000, channel: 'email' });
  t.equal(m.text, 'Your Example Portal sign-in code is 123456. It expires in 10 minutes. If you did not try to sign in, tell your administrator.');
  t.equal(m.subject, 'Your Example Portal sign-in code');
  t.equal(m.kind, 'one_time_code');
  t.same(m.data, { channel: 'email', expires_in_seconds: 600 }, 'data carries no code');
  const withHelp = oneTimeCodeMessage({ ...ctx, support: 'it@example.com' }, { code: '1', ttlMs: 60_000, channel: 'email' });
  t.match(withHelp.text, /Contact it@example\.com\.$/);
  const sms = oneTimeCodeMessage({ ...ctx, support: 'it@example.com' }, { code: '12345678', ttlMs: 300_000, channel: 'sms' });
  t.notMatch(sms.text, /\n/);
  t.ok(sms.text.length <= 160, 'fits one SMS');
});

t.test('security notices name the product, say what happened and what to do', async (t) => {
  const cases = [
    [factorAddedMessage(ctx, { label: 'Authenticator app', name: 'Pixel' }), 'factor_added', /added.*Authenticator app "Pixel"/],
    [factorRemovedMessage(ctx, { label: 'Passkey or security key', name: 'YubiKey' }), 'factor_removed', /removed.*"YubiKey"/],
    [recoveryCodeUsedMessage(ctx, { remaining: 4 }), 'recovery_code_used', /4 recovery codes left\./],
    [mfaResetMessage(ctx, { by: 'bob' }), 'mfa_reset', /reset by bob/],
    [enrollmentCompleteMessage(ctx, { label: 'Authenticator app' }), 'enrollment_complete', /now on .* using Authenticator app/],
    [newCountryMessage(ctx, { country: 'US', ip: '203.0.113.5', at: Date.UTC(2026, 11, 7, 3, 4), refused: false }), 'signin_new_country', /from a country you have not signed in from recently: US \(address 203\.0\.113\.5, December 7, 2026 at 3:04 AM UTC\)\.\nYou may be asked for your second factor\./],
    [newCountryMessage(ctx, { country: 'US', ip: '203.0.113.5', at: 0, refused: true }), 'signin_new_country', /The sign-in was refused\./],
  ] as const;
  for (const [m, kind, pattern] of cases) {
    t.equal(m.kind, kind);
    t.match(m.subject, /Example Portal/);
    t.match(m.text, pattern, kind);
    t.match(m.text, /(not you|did not ask)/, `${kind} says what to do`);
  }
  t.match(recoveryCodeUsedMessage(ctx, { remaining: 1 }).text, /1 recovery code left\. Consider creating a new set/);
  t.match(recoveryCodeUsedMessage(ctx, { remaining: 0 }).text, /no recovery codes left/);
  t.match(mfaResetMessage(ctx).text, /by an administrator/);
  // The time in the reader's language and the operator's zone (ui.time_zone), the zone named.
  const fr = newCountryMessage({ ...ctx, tr: translator('fr'), timeZone: 'America/New_York' }, { country: 'US', ip: '203.0.113.5', at: Date.UTC(2026, 11, 7, 3, 4), refused: false });
  t.match(fr.text, /\(adresse 203\.0\.113\.5, 6 décembre 2026 à 22:04 UTC−5\)\./);
});

t.test('every email that prints a time writes it in the reader\'s language and ui.time_zone, the zone named (formatMoment)', async (t) => {
  const at = Date.UTC(2026, 11, 7, 3, 4);
  const de = { ...ctx, tr: translator('de'), timeZone: 'Europe/Berlin' };
  const es = { ...ctx, tr: translator('es'), timeZone: 'America/New_York' };
  const berlin = '7. Dezember 2026 um 04:04 MEZ';
  const newYork = '6 de diciembre de 2026 a las 22:04 GMT-5';

  const push = pushNotMeAlert(de, { user: 'bob', ip: '203.0.113.5', action: 'wiki GET /', at });
  t.match(push.text, `Anmeldung von 203.0.113.5 (wiki GET /), ${berlin}.`);
  t.equal(push.data?.at, '2026-12-07T03:04:00.000Z', 'a webhook still gets the machine time');
  t.match(pushNotMeAlert(es, { user: 'bob', ip: '203.0.113.5', action: 'wiki GET /', at }).text, newYork);

  const bg = breakGlassAlert(de, { user: 'breakglass', ip: '203.0.113.9', at, reason: 'enabled in config' });
  t.equal(bg.kind, 'breakglass_used');
  t.match(bg.text, `hat sich von 203.0.113.9 angemeldet (${berlin}; enabled in config)`);
  t.match(breakGlassAlert(es, { user: 'breakglass', ip: '203.0.113.9', at, reason: 'x' }).text, `(${newYork}; x)`);

  const reset = mfaResetAlert(de, { user: 'alice', by: 'ops', approvedBy: 'carol', at, reason: 'Telefon verloren' });
  t.equal(reset.subject, '[Example Portal] MFA-Zurücksetzung für alice');
  t.match(reset.text, `von ops zurückgesetzt, genehmigt von carol (${berlin}).\nGrund: Telefon verloren\n`);
  t.match(mfaResetAlert(ctx, { user: 'alice', by: 'ops', at }).text, /^The two-step verification of alice was reset by ops \(December 7, 2026 at 3:04 AM UTC\)\.\nAll their factors/);

  for (const m of [push, bg, reset]) t.notMatch(m.text, /2026-12-07T| UTC/, `${m.kind}: no ISO time, no hard-coded zone`);
});
