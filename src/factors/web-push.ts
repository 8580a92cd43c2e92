// The Web Push channel of the push factor (RFC 8030 delivery, RFC 8291
// message encryption, RFC 8292 VAPID), built on the `web-push` library: it
// encrypts the payload and signs the VAPID header; the request goes out
// through undici, with a deadline.
//
// The VAPID key pair is made once and kept in the store, its private half
// sealed with factors.encryption_key like the assertion signing key; every
// instance uses the same one (the first to store it wins). A subscription is
// only accepted on one of factors.push.web_push.push_services, so no user can
// make the gateway post to an address of their choosing, and it is kept
// sealed in the factor record.

import { request } from 'undici';
import { onPushService, type WebPushConfig } from '../config/sections/push.ts';
import type { Store } from '../store/types.ts';
import type { SecretBox } from '../store/secret-box.ts';

const VAPID_KEY = 'vapid';
const SEND_TIMEOUT_MS = 10_000;
const MAX_ENDPOINT_CHARS = 2048;

// Loaded on first use: a gateway without push users starts without the library.
async function webPush(): Promise<typeof import('web-push')> {
  return (await import('web-push')).default;
}

/** The push service says the subscription is no more (404/410, RFC 8030 §7.3): the browser dropped it. */
export class SubscriptionGoneError extends Error {
  constructor(status: number) {
    super(`push service answered ${status}: the subscription is gone`);
    this.name = 'SubscriptionGoneError';
  }
}

export interface Subscription { endpoint: string; keys: { p256dh: string; auth: string } }

/** What the browser's PushSubscription.toJSON() gave, checked; or why it cannot be used. */
export function parseSubscription(raw: unknown, services: readonly string[]): { ok: true; sub: Subscription } | { ok: false; reason: string } {
  let v: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.length > 4096) return { ok: false, reason: 'too long' };
    try { v = JSON.parse(raw); } catch { return { ok: false, reason: 'not JSON' }; }
  }
  const o = v as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | null;
  if (typeof o?.endpoint !== 'string' || o.endpoint.length > MAX_ENDPOINT_CHARS) return { ok: false, reason: 'no endpoint' };
  if (!onPushService(o.endpoint, services)) return { ok: false, reason: 'the endpoint is not on an allowed push service' };
  const p256dh = typeof o.keys?.p256dh === 'string' ? b64url(o.keys.p256dh) : undefined;
  const auth = typeof o.keys?.auth === 'string' ? b64url(o.keys.auth) : undefined;
  // An uncompressed P-256 point (RFC 8291 §3.1) and a 16-byte authentication secret.
  if (!p256dh || p256dh.length !== 65 || p256dh[0] !== 4) return { ok: false, reason: 'bad p256dh key' };
  if (!auth || auth.length !== 16) return { ok: false, reason: 'bad auth secret' };
  return { ok: true, sub: { endpoint: o.endpoint, keys: { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') } } };
}

function b64url(s: string): Buffer | undefined {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(s) ? Buffer.from(s, 'base64url') : undefined;
}

export interface WebPushSender {
  /** The VAPID public key (base64url, uncompressed point): the browser's applicationServerKey. */
  publicKey(): Promise<string>;
  /** The factor data of a checked subscription: the push service's origin (shown) and the sealed subscription. */
  channelData(sub: Subscription): Record<string, unknown>;
  /** Sends `payload` to the subscription sealed in a factor's data; rejects when the push service did not take it. */
  send(data: Record<string, unknown>, payload: object, ttlMs: number): Promise<void>;
}

export function createWebPushSender(opts: { store: Store; box: SecretBox; config: WebPushConfig; now: () => number }): WebPushSender {
  const { store, box, config } = opts;
  let keys: Promise<{ publicKey: string; privateKey: string }> | undefined;

  async function loadKeys(): Promise<{ publicKey: string; privateKey: string }> {
    let rec = await store.getServiceKey(VAPID_KEY);
    if (rec === undefined) {
      const made = (await webPush()).generateVAPIDKeys();
      await store.addServiceKey({ name: VAPID_KEY, sealed_private: box.seal(Buffer.from(made.privateKey, 'base64url')), public: made.publicKey, created_at: opts.now() });
      // Another instance may have stored its pair first: that one is the key.
      rec = await store.getServiceKey(VAPID_KEY);
      if (rec === undefined) throw new Error('the VAPID key was not stored');
    }
    return { publicKey: rec.public, privateKey: box.open(rec.sealed_private).toString('base64url') };
  }
  function vapid(): Promise<{ publicKey: string; privateKey: string }> {
    keys ??= loadKeys().catch((err: unknown) => { keys = undefined; throw err; });
    return keys;
  }

  return {
    async publicKey() {
      return (await vapid()).publicKey;
    },

    channelData(sub) {
      return { channel: 'web_push', service: new URL(sub.endpoint).origin, sealed: box.seal(Buffer.from(JSON.stringify(sub))) };
    },

    async send(data, payload, ttlMs) {
      if (typeof data.sealed !== 'string') throw new Error('no subscription in this channel');
      const parsed = parseSubscription(box.open(data.sealed).toString('utf8'), config.push_services);
      if (!parsed.ok) throw new Error(`subscription refused: ${parsed.reason}`);
      const { publicKey, privateKey } = await vapid();
      const details = (await webPush()).generateRequestDetails(parsed.sub, JSON.stringify(payload), {
        vapidDetails: { subject: config.subject, publicKey, privateKey },
        TTL: Math.max(1, Math.ceil(ttlMs / 1000)),
        urgency: 'high',
        contentEncoding: 'aes128gcm',
      });
      const headers = Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)]));
      const res = await request(details.endpoint, {
        method: 'POST', headers, body: details.body ?? undefined, headersTimeout: SEND_TIMEOUT_MS, bodyTimeout: SEND_TIMEOUT_MS,
      });
      await res.body.dump();
      // 201 Created (RFC 8030 §5); 404/410: the subscription is gone (the browser dropped it).
      if (res.statusCode === 404 || res.statusCode === 410) throw new SubscriptionGoneError(res.statusCode);
      if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`push service answered ${res.statusCode}`);
    },
  };
}
