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
  'passkey_signin.button': 'Se connecter avec une clé d’accès',
  'passkey_signin.or': 'ou',
  'passkey_signin.waiting': 'En attente de votre clé d’accès…',
  'passkey_signin.failed': 'Cette clé d’accès n’a pas permis de vous connecter. Réessayez, ou utilisez votre nom d’utilisateur et votre mot de passe.',
  'passkey_signin.cancelled': 'La demande de clé d’accès a été annulée ou a expiré. Réessayez.',
  'passkey_signin.expired': 'La page a expiré. Rechargez-la et réessayez.',
  'passkey_signin.throttled': 'Trop de tentatives. Réessayez dans {seconds} secondes.',
  'passkey_signin.unsupported': 'Ce navigateur ne prend pas en charge les clés d’accès. Connectez-vous avec votre nom d’utilisateur et votre mot de passe.',
  'passkey_signin.noscript': 'Pour vous connecter avec une clé d’accès, activez JavaScript. Vous pouvez toujours vous connecter avec votre nom d’utilisateur et votre mot de passe.',
  'enroll.passkey_signin_hint': 'Enregistrée sur cet appareil ou ce téléphone : la prochaine fois, elle suffit pour vous connecter, sans nom d’utilisateur ni mot de passe.',
};
