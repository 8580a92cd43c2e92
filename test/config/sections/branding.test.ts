import t from 'tap';
import { sectionTable } from './section-table.ts';
import { contrastRatio } from '../../../src/config/contrast.ts';
import { onPrimary } from '../../../src/config/sections/branding.ts';

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

sectionTable(t, 'branding', [
  {
    name: 'colours, footer links and a stylesheet',
    yaml: 'branding:\n  colors: { primary: "#0B5D1E", background: "#FFFFFF", text: "#111" }\n  dark_colors: { primary: "#7fd49a" }\n  stylesheet: test/fixtures/config/brand-extra.css\n  footer_links:\n    - { text: Privacy, url: "https://acme.test/privacy" }\n    - { text: Help, url: /help }\n    - { text: Mail us, url: "mailto:it@acme.test" }\n',
    want: {
      product_name: 'gatehouse',
      colors: { primary: '#0b5d1e', background: '#ffffff', text: '#111' },
      dark_colors: { primary: '#7fd49a' },
      stylesheet: { path: 'test/fixtures/config/brand-extra.css', css: '.brand__name { letter-spacing: 0.02em; }\n' },
      footer_links: [{ text: 'Privacy', url: 'https://acme.test/privacy' }, { text: 'Help', url: '/help' }, { text: 'Mail us', url: 'mailto:it@acme.test' }],
    },
  },
  {
    name: 'low contrast is a warning, not an error: text and links are each checked',
    yaml: 'branding:\n  colors: { primary: "#9ab0e0", background: "#ffffff", text: "#999999" }\n',
    want: { product_name: 'gatehouse', colors: { primary: '#9ab0e0', background: '#ffffff', text: '#999999' } },
    warnings: [
      /^branding\.colors: text #999999 on #ffffff has contrast 2\.85:1, below WCAG AA \(4\.5:1\)/,
      /^branding\.colors: primary \(links\) #9ab0e0 on #ffffff has contrast 2\.\d\d:1, below WCAG AA/,
    ],
  },
  {
    name: 'a dark scheme is checked against the dark palette',
    yaml: 'branding:\n  dark_colors: { text: "#3a3f4a" }\n',
    want: { product_name: 'gatehouse', dark_colors: { text: '#3a3f4a' } },
    warnings: [/^branding\.dark_colors: text #3a3f4a on #1a1e26 has contrast 1\.\d\d:1, below WCAG AA/],
  },
  { name: 'a colour name is refused', yaml: 'branding:\n  colors: { primary: green }\n', issues: { 'branding.colors.primary': [2, /must be a colour written #rgb or #rrggbb/] } },
  { name: 'a javascript: footer link is refused', yaml: 'branding:\n  footer_links: [{ text: x, url: "javascript:alert(1)" }]\n', issues: { 'branding.footer_links[0].url': [2, /https:\/\/ or http:\/\/ URL, a mailto: address or a same-origin \/path/] } },
  { name: 'a missing stylesheet is an error', yaml: 'branding:\n  stylesheet: /nonexistent/brand.css\n', issues: { 'branding.stylesheet': [2, /cannot read \/nonexistent\/brand\.css/] } },
]);

t.test('contrastRatio: the WCAG formula', async (t) => {
  t.equal(contrastRatio('#000000', '#ffffff'), 21);
  t.equal(contrastRatio('#fff', '#fff'), 1);
  t.equal(contrastRatio('#777777', '#ffffff').toFixed(2), '4.48', 'the classic just-below-AA grey');
  t.equal(contrastRatio('#767676', '#ffffff').toFixed(2), '4.54', 'the classic just-AA grey');
  t.equal(onPrimary('#2b59c3'), '#ffffff');
  t.equal(onPrimary('#ffd400'), '#000000');
  // Why the button label needs no check: the better of black and white always reaches AA.
  let worst = 21;
  for (let v = 0; v < 256; v += 5) for (const hex of [`#${v.toString(16).padStart(2, '0').repeat(3)}`, `#${v.toString(16).padStart(2, '0')}8040`]) worst = Math.min(worst, contrastRatio(hex, onPrimary(hex)));
  t.ok(worst >= 4.5, `black or white on any colour: at least ${worst.toFixed(2)}:1`);
});
