import type { Catalog } from './en.ts';

export const de: Catalog = {
  'layout.need_help': 'Brauchen Sie Hilfe?',
  'layout.footer_links': 'Links',
  'layout.protected_by': 'Geschützt durch die Anmeldung von {product}',
  'signed_out.title': 'Abgemeldet',
  'signed_out.heading': 'Sie haben sich abgemeldet',
  'signed_out.body': 'Sie sind in diesem Browser von {product} abgemeldet.',
  'signed_out.everywhere': 'Sie sind auf allen Geräten von {product} abgemeldet, und kein Browser darf den zweiten Schritt mehr überspringen.',
  'signed_out.shared_computer': 'Schließen Sie an einem gemeinsam genutzten oder öffentlichen Computer auch den Browser.',
  'signed_out.sign_in_again': 'Erneut anmelden',
  'passkey_signin.button': 'Mit einem Passkey anmelden',
  'passkey_signin.or': 'oder',
  'passkey_signin.waiting': 'Warten auf Ihren Passkey …',
  'passkey_signin.failed': 'Mit diesem Passkey war keine Anmeldung möglich. Versuchen Sie es erneut oder melden Sie sich mit Benutzername und Passwort an.',
  'passkey_signin.cancelled': 'Die Passkey-Anfrage wurde abgebrochen oder ist abgelaufen. Versuchen Sie es erneut.',
  'passkey_signin.expired': 'Die Seite ist abgelaufen. Laden Sie sie neu und versuchen Sie es erneut.',
  'passkey_signin.throttled': 'Zu viele Versuche. Versuchen Sie es in {seconds} Sekunden erneut.',
  'passkey_signin.unsupported': 'Dieser Browser kann keine Passkeys verwenden. Melden Sie sich mit Benutzername und Passwort an.',
  'passkey_signin.noscript': 'Für die Anmeldung mit einem Passkey schalten Sie JavaScript ein. Mit Benutzername und Passwort können Sie sich weiterhin anmelden.',
  'enroll.passkey_signin_hint': 'Wird auf diesem Gerät oder Telefon gespeichert, sodass Sie sich beim nächsten Mal allein damit anmelden können: ohne Benutzername und Passwort.',
};
