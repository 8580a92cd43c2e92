// axe-core on a page under test: evaluated over CDP, so the page's CSP stays on.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type axe from 'axe-core';
import type { Page } from 'playwright-core';

// The minified build of the same axe-core: the same rules in half the script,
// which is sent and compiled again after every navigation.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The rules of WCAG 2.0/2.1 A and AA, and axe's best practices. */
export const WCAG_RULES: axe.RunOptions['runOnly'] = { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] };

/** What axe-core finds on the page as it is, one line per rule: its id and the elements that break it. */
export async function axeViolations(page: Page, runOnly: axe.RunOptions['runOnly'] = WCAG_RULES): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  // Only violations are asked for and sent back: axe then skips the detail of every passing node.
  return page.evaluate(async (only) => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document, { runOnly: only, resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }, runOnly);
}
