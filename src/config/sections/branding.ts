// branding: the product name, logo and support contact shown on every page.

import type { Obj, Reader } from '../reader.ts';
import { nonEmpty, obj, type PropertiesOf } from '../schema-kit.ts';

export const brandingSchema = obj({ product_name: nonEmpty, logo_url: nonEmpty, support_contact: nonEmpty } satisfies PropertiesOf<BrandingConfig>);

export interface BrandingConfig {
  product_name: string;           // default "gatehouse"
  logo_url?: string;              // same-origin path or data: URL (no external assets)
  support_contact?: string;       // shown on every page
}

export function buildBranding(r: Reader, b: Obj): BrandingConfig {
  const logo_url = r.str(b, 'logo_url');
  // No external assets (CSP): a same-origin path or an inline image only.
  if (logo_url !== undefined && !(/^\/(?!\/)/.test(logo_url) || logo_url.startsWith('data:image/'))) {
    r.fail(['branding', 'logo_url'], 'must be a same-origin path (/static/logo.svg) or a data:image/ URL; external assets are not allowed');
  }
  const support_contact = r.str(b, 'support_contact');
  return {
    product_name: r.str(b, 'product_name') ?? 'gatehouse',
    ...(logo_url !== undefined ? { logo_url } : {}),
    ...(support_contact !== undefined ? { support_contact } : {}),
  };
}
