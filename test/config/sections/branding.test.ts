import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'branding', [
  { name: 'default product name only', yaml: '', want: { product_name: 'gatehouse' } },
  {
    name: 'every key set',
    yaml: 'branding:\n  product_name: Acme Portal\n  logo_url: /static/logo.svg\n  support_contact: it@acme.test\n',
    want: { product_name: 'Acme Portal', logo_url: '/static/logo.svg', support_contact: 'it@acme.test' },
  },
  { name: 'an inline image is a logo', yaml: 'branding:\n  logo_url: "data:image/png;base64,AAAA"\n', want: { product_name: 'gatehouse', logo_url: 'data:image/png;base64,AAAA' } },
  { name: 'an external logo is refused', yaml: 'branding:\n  logo_url: https://cdn.example.com/logo.svg\n', issues: { 'branding.logo_url': [2, /external assets are not allowed/] } },
  { name: 'a protocol-relative logo is external too', yaml: 'branding:\n  logo_url: //cdn.example.com/logo.svg\n', issues: { 'branding.logo_url': [2, /same-origin path/] } },
  { name: 'an empty product name', yaml: 'branding:\n  product_name: ""\n', issues: { 'branding.product_name': [2, /must not be empty/] } },
]);
