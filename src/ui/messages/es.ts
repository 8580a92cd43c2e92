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
};
