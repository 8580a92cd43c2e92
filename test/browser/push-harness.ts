// What the push browser tests share: the approval links the gateway sent
// through its file notifier, enrolling the push factor (the confirmation link
// opened on a "phone", a second browser context), and answering a push there.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { newPage } from '../helpers/browser.ts';
import type { GatewayFixture } from '../helpers/gateway.ts';
import { signIn } from './harness.ts';

export interface OutboxLine { ts: string; to: string; subject: string; text: string; kind: string }

export function outbox(dir: string): OutboxLine[] {
  try {
    return readFileSync(join(dir, 'outbox.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutboxLine);
  } catch {
    return [];
  }
}

/** The approval link of the newest push_approval message to `to`. */
export function lastApprovalLink(dir: string, to: string): string {
  const msg = outbox(dir).filter((m) => m.kind === 'push_approval' && m.to === to).at(-1);
  const url = msg && /(https?:\/\/\S+\/\.gatehouse\/push\?t=[\w-]+)/.exec(msg.text)?.[1];
  if (!url) throw new Error(`no approval link for ${to} in the outbox`);
  return url;
}

/** The number the waiting page shows. */
export async function shownNumber(page: Page): Promise<number> {
  return Number((await page.locator('[data-push-number]').textContent())?.trim());
}

/** The three numbers the approval page offers. */
export async function offeredNumbers(phone: Page): Promise<number[]> {
  return (await phone.locator('.push-choice').allTextContents()).map((s) => Number(s.trim()));
}

/** Opens the approval link on the phone and taps `answer` (a number, 'Deny' or 'I didn’t try to sign in'). */
export async function answerOnPhone(phone: Page, link: string, answer: number | 'Deny' | 'I didn’t try to sign in'): Promise<string> {
  await phone.goto(link);
  await Promise.all([phone.waitForNavigation(), phone.getByRole('button', { name: String(answer), exact: true }).click()]);
  return (await phone.locator('[data-push-outcome]').getAttribute('data-push-outcome')) ?? '';
}

/**
 * First sign-in of `user` (rollout: everyone): enroll push through the
 * confirmation link, tapped on a phone, then past the recovery codes. Leaves
 * `page` on the return target.
 */
export async function enrollPush(browser: Browser, f: GatewayFixture, page: Page, user: string, password: string, rd = '/reports'): Promise<void> {
  await signIn(page, f.url, user, password, rd);
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /Approve on your phone/ }).click()]);
  await page.waitForLoadState('load');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send a confirmation link' }).click()]);
  const number = await shownNumber(page);
  const phone = await newPage(browser, { phone: true });
  const outcome = await answerOnPhone(phone, lastApprovalLink(f.dir, `${user}@example.com`), number);
  if (outcome !== 'approved') throw new Error(`enrollment push: ${outcome}`);
  await phone.context().close();
  // The waiting page learns the answer by itself (push-wait.js) and goes on to the recovery codes.
  await page.waitForURL(/step=recovery/);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /I’ve saved my codes/ }).click()]);
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
}
