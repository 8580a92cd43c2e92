import type { Catalog } from './en.ts';

export const es: Catalog = {
  'layout.need_help': '¿Necesita ayuda?',
  'layout.footer_links': 'Enlaces',
  'layout.protected_by': 'Protegido por el inicio de sesión de {product}',
  'signed_out.title': 'Sesión cerrada',
  'signed_out.heading': 'Ha cerrado la sesión',
  'signed_out.body': 'Ha cerrado la sesión de {product} en este navegador.',
  'signed_out.everywhere': 'Ha cerrado la sesión de {product} en todos sus dispositivos y ningún navegador puede ya omitir el segundo paso.',
  'signed_out.shared_computer': 'En un ordenador compartido o público, cierre también el navegador.',
  'signed_out.sign_in_again': 'Iniciar sesión de nuevo',
  'passkey_signin.button': 'Iniciar sesión con una llave de acceso',
  'passkey_signin.or': 'o',
  'passkey_signin.waiting': 'Esperando a tu llave de acceso…',
  'passkey_signin.failed': 'No se pudo iniciar sesión con esa llave de acceso. Inténtalo de nuevo o usa tu nombre de usuario y contraseña.',
  'passkey_signin.cancelled': 'La solicitud de la llave de acceso se canceló o caducó. Inténtalo de nuevo.',
  'passkey_signin.expired': 'La página caducó. Vuelve a cargarla e inténtalo de nuevo.',
  'passkey_signin.throttled': 'Demasiados intentos. Inténtalo de nuevo en {seconds} segundos.',
  'passkey_signin.unsupported': 'Este navegador no puede usar llaves de acceso. Inicia sesión con tu nombre de usuario y contraseña.',
  'passkey_signin.noscript': 'Para iniciar sesión con una llave de acceso, activa JavaScript. Puedes seguir iniciando sesión con tu nombre de usuario y contraseña.',
  'enroll.passkey_signin_hint': 'Se guarda en este dispositivo o teléfono, así que la próxima vez podrás iniciar sesión solo con ella: sin nombre de usuario ni contraseña.',
};
