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
};
