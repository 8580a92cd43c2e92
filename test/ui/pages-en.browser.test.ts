// Every page in English, desktop and phone, light and dark: checks, axe-core,
// screenshots (test/ui/page-matrix.ts). One file per language so tap runs them side by side.

import t from 'tap';
import { launchBrowser, requireChromium } from '../helpers/browser.ts';
import { CASES, lookAtEveryPage, startServer } from './page-matrix.ts';

// Some 150 screenshots with axe runs on a shared 2-core machine.
t.setTimeout(600_000);

if (requireChromium(t)) {
  const { server, origin } = await startServer();
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  t.test('every page in English, desktop and phone, light and dark: checks, axe, screenshots', (t) => lookAtEveryPage(t, browser, origin, CASES, ['en']));
}
