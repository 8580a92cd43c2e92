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
  'passkey_signin.button': 'Sign in with a passkey',
  'passkey_signin.or': 'or',
  'passkey_signin.waiting': 'Waiting for your passkey…',
  'passkey_signin.failed': 'That passkey could not sign you in. Try again, or use your username and password.',
  'passkey_signin.cancelled': 'The passkey request was cancelled or timed out. Try again.',
  'passkey_signin.expired': 'The page expired. Reload it and try again.',
  'passkey_signin.throttled': 'Too many attempts. Try again in {seconds} seconds.',
  'passkey_signin.unsupported': 'This browser cannot use passkeys. Sign in with your username and password.',
  'passkey_signin.noscript': 'To sign in with a passkey, turn on JavaScript. You can still sign in with your username and password.',
  'enroll.passkey_signin_hint': 'Saved on this device or phone, so next time you can sign in with it alone: no username or password.',
  'sessions.heading': 'Where you’re signed in',
  'sessions.this_browser': 'This browser',
  'sessions.meta': 'Network {network} · signed in {created} · last seen {seen}',
  'sessions.meta_current': 'Network {network} · signed in {created} · active now',
  'sessions.sign_out': 'Sign out',
  'sessions.sign_out_label': 'Sign out {label} on network {network}',
  'sessions.no_others': 'You’re not signed in on any other browser.',
  'sessions.signed_out': 'That browser was signed out. It has to sign in again to get back in.',
  'sessions.everywhere_button': 'Sign out everywhere',
  'sessions.everywhere_hint': 'Ends every session on every device, including this one, and forgets trusted browsers.',
  'signed_out.everywhere_counts': 'Sessions ended: {sessions}. Trusted browsers forgotten: {devices}.',
} as const;

export type MessageKey = keyof typeof en;
export type Catalog = Record<MessageKey, string>;
