// English: the reference catalog. Every other language has exactly these keys
// (test/ui/i18n.test.ts). {name} is a parameter, filled in and escaped by the template.

export const en = {
  'layout.need_help': 'Need help?',
  'layout.footer_links': 'Links',
  'layout.protected_by': 'Protected by {product} sign-in',
  'signed_out.title': 'Signed out',
  'signed_out.heading': "You've signed out",
  'signed_out.body': "You're signed out of {product} on this browser.",
  'signed_out.everywhere': "You're signed out of {product} on every device, and no browser is trusted to skip the second step any more.",
  'signed_out.shared_computer': 'On a shared or public computer, close the browser too.',
  'signed_out.sign_in_again': 'Sign in again',
} as const;

export type MessageKey = keyof typeof en;
export type Catalog = Record<MessageKey, string>;
