// The portal's in-memory business state and the pure checks on its form input.
// Tests read the counters to see that an action happened exactly once.

import { randomBytes } from 'node:crypto';

export interface Payment { id: number; amount: string; payee: string; by?: string; at: string }
export interface ApiKey { id: number; name: string; prefix: string; createdBy?: string; createdAt: string }
export interface AppSession { user: string; createdAt: string }

export interface PortalState {
  payments: Payment[];
  apiKeys: ApiKey[];
  /** The app's own sessions (its JSESSIONID cookie), for the upstream_form identity mode. */
  sessions: Map<string, AppSession>;
}

export function newPortalState(): PortalState {
  return {
    payments: [],
    apiKeys: [{ id: 1, name: 'nightly-sync', prefix: 'acme_7f3a', createdBy: 'carol', createdAt: '2019-03-14T09:12:00.000Z' }],
    sessions: new Map(),
  };
}

/** The app's own demo accounts (not gatehouse's): alice/alice-app-pass, bob/bob-app-pass, carol/carol-app-pass. */
export const APP_USERS: ReadonlyMap<string, string> = new Map([
  ['alice', 'alice-app-pass'],
  ['bob', 'bob-app-pass'],
  ['carol', 'carol-app-pass'],
]);

export function checkAppCredentials(username: string, password: string): boolean {
  return APP_USERS.has(username) && APP_USERS.get(username) === password;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function parsePaymentForm(form: URLSearchParams): Parsed<{ amount: string; payee: string }> {
  const amount = (form.get('amount') ?? '').trim();
  const payee = (form.get('payee') ?? '').trim();
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(amount) || Number(amount) <= 0) return { ok: false, error: 'Amount must be a positive number with at most two decimals.' };
  if (payee === '' || payee.length > 100) return { ok: false, error: 'Payee is required (at most 100 characters).' };
  return { ok: true, value: { amount, payee } };
}

export function parseApiKeyForm(form: URLSearchParams): Parsed<{ name: string }> {
  const name = (form.get('name') ?? '').trim();
  if (!/^[A-Za-z0-9 _.-]{1,60}$/.test(name)) return { ok: false, error: 'Key name: 1-60 letters, digits, spaces, dots, dashes or underscores.' };
  return { ok: true, value: { name } };
}

export function newApiKeySecret(): string {
  return `acme_${randomBytes(20).toString('hex')}`;
}

export function newSessionId(): string {
  return randomBytes(18).toString('hex').toUpperCase();
}
