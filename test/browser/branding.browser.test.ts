// The operator's brand in Debian's Chromium, light and dark: the colours
// reach the sign-in button, the text and the card; the extra stylesheet
// applies; the logo and footer links show; nothing breaks the page CSP.
// Screenshots: test/artifacts/branding-login-{light,dark}.png.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPage, requireChromium, screenshot } from '../helpers/browser.ts';
import { startBrowserGateway, watchConsole } from './harness.ts';

const LOGO = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5d1e"/><path d="M8 17l5 5 11-12" stroke="#fff" stroke-width="4" fill="none"/></svg>').toString('base64')}`;

/** rgb(r, g, b) as Chromium reports a computed colour. */
function rgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

if (requireChromium(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'gh-brand-css-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const extra = join(dir, 'brand.css');
  writeFileSync(extra, '.brand__name { letter-spacing: 0.05em; text-transform: uppercase; }\n');
  const colors = { primary: '#0b5d1e', background: '#fbfaf5', text: '#14213d' };
  const dark = { primary: '#7fd49a', background: '#101a14', text: '#e8efe9' };
  const { f, browser } = await startBrowserGateway(t, {
    config: {
      branding: {
        product_name: 'Greenfield Sign-in', logo_url: LOGO, support_contact: 'helpdesk@greenfield.test',
        colors, dark_colors: dark, stylesheet: extra,
        footer_links: [{ text: 'Privacy', url: 'https://greenfield.test/privacy' }, { text: 'Status', url: '/status' }],
      },
    },
  });

  for (const [scheme, c] of [['light', colors], ['dark', dark]] as const) {
    t.test(`the branded sign-in page, ${scheme}`, async (t) => {
      const page = await newPage(browser, { colorScheme: scheme });
      const problems = watchConsole(page);
      await page.goto(`${f.url}/.gatehouse/login`);
      await page.waitForLoadState('load');
      const look = await page.evaluate(() => {
        const css = (sel: string) => getComputedStyle(document.querySelector(sel)!);
        return {
          button: css('.button--primary').backgroundColor,
          label: css('.button--primary').color,
          text: css('body').color,
          card: css('main.card').backgroundColor,
          name: document.querySelector('.brand__name')!.textContent,
          nameSpacing: css('.brand__name').textTransform,
          logo: (document.querySelector('.brand__logo') as HTMLImageElement | null)?.naturalWidth ?? 0,
          footer: [...document.querySelectorAll('.site-footer__links a')].map((a) => a.textContent),
        };
      });
      t.equal(look.button, rgb(c.primary), 'the primary button has the brand colour');
      t.equal(look.label, scheme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(0, 0, 0)', 'its label is the readable one of white and black');
      t.equal(look.text, rgb(c.text), 'body text colour');
      t.equal(look.card, rgb(c.background), 'the card background');
      t.equal(look.name, 'Greenfield Sign-in');
      t.equal(look.nameSpacing, 'uppercase', 'the extra stylesheet applies');
      t.ok(look.logo > 0, 'the inline logo loads under the CSP');
      t.same(look.footer, ['Privacy', 'Status']);
      t.same(problems, [], 'no CSP violation or script error');
      const file = await screenshot(page, `branding-login-${scheme}`);
      t.comment(`screenshot: ${file}`);
      await page.context().close();
    });
  }
}
