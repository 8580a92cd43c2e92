// Webhook notifier: POSTs each message as JSON, shaped by an operator's
// template, e.g. '{"phone":"{{to}}","message":"{{text}}"}' for an SMS gateway.
// Substituted values are JSON-string-escaped, so a message cannot break out of
// its string; a template that does not yield JSON is refused at start.

import { request } from 'undici';
import { checkMessage, type Notifier, type OutgoingMessage } from './outgoing-message.ts';

const TIMEOUT_MS = 5000;
const PLACEHOLDER = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
const FIELDS = new Set(['to', 'text', 'subject', 'kind']);

/** Pure: the template with each {{field}} replaced by the value's JSON string escape (no quotes added). */
export function renderBodyTemplate(template: string, values: Pick<OutgoingMessage, 'to' | 'text' | 'subject' | 'kind'>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (!FIELDS.has(name)) throw new TypeError(`notifier.body_template has an unknown placeholder {{${name}}} (known: to, text, subject, kind)`);
    return JSON.stringify(String(values[name as keyof typeof values])).slice(1, -1);
  });
}

/** Throws when the template is unusable: unknown placeholders, or not JSON once filled with awkward values. */
export function checkBodyTemplate(template: string): void {
  if (typeof template !== 'string' || template.trim() === '') throw new TypeError('notifier.body_template is required for webhook');
  const sample = '"quoted" \\ back\nslash }} {{to}} \u2028';
  try {
    JSON.parse(renderBodyTemplate(template, { to: sample, text: sample, subject: sample, kind: sample }));
  } catch (err) {
    if (err instanceof SyntaxError) throw new TypeError(`notifier.body_template is not JSON once filled in (put each {{placeholder}} inside a "string"): ${err.message}`);
    throw err;
  }
}

export function createWebhookNotifier(cfg: { url: string; headers: Record<string, string>; body_template: string }): Notifier {
  const url = new URL(cfg.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`notifier.url must be http:// or https://, got ${url.protocol}//`);
  checkBodyTemplate(cfg.body_template);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(cfg.headers ?? {})) headers[name.toLowerCase()] = value;

  return {
    async send(msg) {
      checkMessage(msg);
      const body = renderBodyTemplate(cfg.body_template, msg);
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const answer = await res.body.text();
      if (res.statusCode < 200 || res.statusCode > 299) {
        throw new Error(`notifier webhook answered HTTP ${res.statusCode}${answer ? `: ${answer.slice(0, 200)}` : ''}`);
      }
    },
  };
}
