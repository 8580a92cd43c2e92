import type { Catalog } from './en.ts';

export const fr: Catalog = {
  'layout.need_help': 'Besoin d’aide ?',
  'layout.footer_links': 'Liens',
  'layout.protected_by': 'Protégé par la connexion {product}',
  'signed_out.title': 'Déconnecté',
  'signed_out.heading': 'Vous êtes déconnecté',
  'signed_out.body': 'Vous êtes déconnecté de {product} sur ce navigateur.',
  'signed_out.everywhere': 'Vous êtes déconnecté de {product} sur tous vos appareils, et plus aucun navigateur ne peut sauter la deuxième étape.',
  'signed_out.shared_computer': 'Sur un ordinateur partagé ou public, fermez aussi le navigateur.',
  'signed_out.sign_in_again': 'Se reconnecter',
};
