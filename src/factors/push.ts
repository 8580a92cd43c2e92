// Push approval (README "Push approval"): the pending request lives in shared state,
// so the phone may answer on any instance and the sign-in page, on another,
// learns the outcome. The pure rules are in push-core.ts.
//
// Shared-state keys (user ids encoded, so no id forges a neighbour's key):
//   push:req:ID          the request (JSON), kept a while past its deadline so a late poll still reads the outcome
//   push:tok:HASH        approval token (sha256) → request id; single use (taken by the answer)
//   push:slot:USER:I     one of factors.push.max_pending slots, held by a pending request
//   push:sends:USER      pushes sent in suspend_window (the backoff grows with it)
//   push:next:USER       present while the backoff after the last push runs
//   push:fail:USER       refusals (denied, wrong number, timed out) in suspend_window
//   push:suspend:USER    present while push is suspended for the user
//   push:counted:ID      a time-out already counted (counted once, whoever sees it first)

import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { PushConfig } from '../config/sections/push.ts';
import type { FactorRecord, Store } from '../store/types.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { Notifier } from '../identity/notifier.ts';
import { pushApprovalMessage, pushNotificationText, type MessageContext } from '../identity/messages.ts';
import { answerPush, backoffAfter, countsAsRefusal, parsePushRequest, pickNumbers, statusAt, type PushAnswer, type PushContext, type PushRequest, type PushStatus } from './push-core.ts';
import { cleanFactorName, factorKindInfo, verified, type Verified } from './types.ts';
import type { SecretBox } from '../store/secret-box.ts';
import { createWebPushSender, SubscriptionGoneError, type WebPushSender } from './web-push.ts';

/** How long an answered or expired request stays readable for the sign-in page. */
const KEEP_AFTER_MS = 5 * 60_000;

export interface PushOptions {
  shared: SharedState;
  store: Store;
  notifier: Notifier;
  config: PushConfig;
  /** Seals Web Push subscriptions and the VAPID private key. */
  box: SecretBox;
  /** server.public_url: the approval links point there. */
  publicUrl: string;
  product: string;
  support?: string;
  now: () => number;
}

export type PushStart =
  | { ok: true; id: string; number: number; expires: number; failed: string[]; gone: FactorRecord[] }
  | { ok: false; reason: 'undelivered'; failed: string[]; gone: FactorRecord[] }
  | { ok: false; reason: 'suspended' | 'backoff'; retryAfterMs: number; newly?: boolean }
  | { ok: false; reason: 'too_many' | 'no_channel' };

/** A refusal was counted; `suspended` when it was the one that suspended push for the user. */
export interface Refusal { suspended: boolean }

export type PushAnswerResult =
  | { ok: true; req: PushRequest; refusal?: Refusal }
  | { ok: false; status: PushStatus | 'unknown' };

export type PushComplete =
  | { ok: true; req: PushRequest; verified: Verified }
  | { ok: false; reason: PushStatus | 'unknown'; req?: PushRequest; refusal?: Refusal };

export interface PushService {
  readonly config: PushConfig;
  /** Present when factors.push.web_push is configured. */
  readonly webPush?: WebPushSender;
  /** The user's enrolled push channels. */
  channels(user: string): Promise<FactorRecord[]>;
  /** Sends a push to every channel of the user (enroll: to the channel being confirmed only). */
  start(user: { id: string; email?: string }, context: PushContext, enroll?: { channel: Record<string, unknown> }, message?: MessageContext): Promise<PushStart>;
  /** The request as the sign-in page polls it; a time-out seen here is counted. Undefined when unknown or another user's. */
  status(user: string, id: string): Promise<{ status: PushStatus; expires: number; refusal?: Refusal } | undefined>;
  /** The request an approval link names, for the approval page (no state changes). */
  view(token: string): Promise<PushRequest | undefined>;
  /** The phone's answer; the link's token is used up by it. */
  answer(token: string, answer: PushAnswer): Promise<PushAnswerResult>;
  /** The sign-in page takes the outcome (once): approved → a verified check. */
  complete(user: string, id: string): Promise<PushComplete>;
  /** enroll: the confirmed channel becomes a factor of the user. */
  addChannel(user: string, channel: Record<string, unknown>, name?: string): Promise<FactorRecord>;
  /** ms left of a suspension (0: push may be used). */
  suspendedFor(user: string): Promise<number>;
}

const enc = encodeURIComponent;
const reqKey = (id: string) => `push:req:${id}`;
const tokKey = (token: string) => `push:tok:${createHash('sha256').update(token).digest('base64url')}`;
const slotKey = (user: string, i: number) => `push:slot:${enc(user)}:${i}`;
const sendsKey = (user: string) => `push:sends:${enc(user)}`;
const nextKey = (user: string) => `push:next:${enc(user)}`;
const failKey = (user: string) => `push:fail:${enc(user)}`;
const suspendKey = (user: string) => `push:suspend:${enc(user)}`;
const countedKey = (id: string) => `push:counted:${id}`;

/** Pure: what an approval token names: the request, and the factor (channel) it was sent to. */
function tokenTarget(value: string | null): { id?: string; factor?: string } {
  if (value === null) return {};
  const [id, factor] = value.split(':');
  return factor ? { id, factor } : { id };
}

/** Pure: a request id or token as the pages pass it (random base64url), else undefined. */
export function cleanPushId(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(v) ? v : undefined;
}

export function createPushService(opts: PushOptions): PushService {
  const { shared, store, notifier, config, now } = opts;
  const origin = new URL(opts.publicUrl).origin;
  const webPush = config.web_push ? createWebPushSender({ store, box: opts.box, config: config.web_push, now }) : undefined;

  async function read(id: string): Promise<PushRequest | undefined> {
    return parsePushRequest(await shared.get(reqKey(id)));
  }
  async function write(req: PushRequest): Promise<void> {
    await shared.set(reqKey(req.id), JSON.stringify(req), Math.max(1, req.expires - now()) + KEEP_AFTER_MS);
  }
  async function freeSlot(req: PushRequest & { slot?: number }): Promise<void> {
    if (req.slot === undefined) return;
    const key = slotKey(req.user, req.slot);
    if ((await shared.get(key)) === req.id) await shared.delete(key);
  }
  async function countRefusal(user: string): Promise<Refusal> {
    const n = await shared.incr(failKey(user), config.suspend_window);
    if (n < config.suspend_after) return { suspended: false };
    // Suspended once (two refusals at once on two instances make one suspension); the count starts again after it.
    const suspended = await shared.setIfAbsent(suspendKey(user), String(now()), config.suspend_for);
    await shared.delete(failKey(user));
    return { suspended };
  }
  /**
   * A slot whose push is no longer pending is freed; a time-out found here is
   * counted, so pushes left to expire (a bombing browser that never polls)
   * still count toward the suspension.
   */
  async function releaseStale(user: string, i: number): Promise<void> {
    const holder = await shared.get(slotKey(user, i));
    if (holder === null) return;
    const req = await read(holder);
    const status = req === undefined ? undefined : statusAt(req, now());
    if (status === 'pending') return;
    if (req !== undefined && status === 'expired') await countExpiry(req);
    if ((await shared.get(slotKey(user, i))) === holder) await shared.delete(slotKey(user, i));
  }
  /** A time-out is counted once, by whoever notices it first. */
  async function countExpiry(req: PushRequest): Promise<Refusal | undefined> {
    if (!(await shared.setIfAbsent(countedKey(req.id), '1', config.timeout + KEEP_AFTER_MS))) return undefined;
    await freeSlot(req);
    return countRefusal(req.user);
  }
  async function channels(user: string): Promise<FactorRecord[]> {
    return (await store.listFactors(user)).filter((f) => f.kind === 'push');
  }
  async function deliver(to: Record<string, unknown>, user: { id: string; email?: string }, req: PushRequest, url: string, message?: MessageContext): Promise<void> {
    if (to.channel === 'link') {
      const dest = typeof to.destination === 'string' ? to.destination : user.email;
      if (!dest) throw new Error('no address for the approval link');
      // The page's product name and language (a reload renames at once); the start-up ones without a page.
      const msg = pushApprovalMessage(message ?? { product: opts.product, support: opts.support }, {
        url, action: req.context.action, ip: req.context.ip, ttlMs: config.timeout, enroll: req.purpose === 'enroll',
      });
      await notifier.send({ to: dest, ...msg });
      return;
    }
    if (to.channel === 'web_push') {
      if (!webPush) throw new Error('web push is not configured (factors.push.web_push)');
      // The number is never sent: the phone must read it on the sign-in page.
      const text = pushNotificationText(message ?? { product: opts.product, support: opts.support }, { action: req.context.action, ip: req.context.ip, enroll: req.purpose === 'enroll' });
      await webPush.send(to, { ...text, url, tag: pushRef(req.id) }, Math.max(1_000, req.expires - now()));
      return;
    }
    throw new Error(`unknown push channel ${String(to.channel)}`);
  }

  return {
    config,
    ...(webPush ? { webPush } : {}),
    channels,

    async start(user, context, enroll, message) {
      const id = user.id;
      const suspended = await shared.ttl(suspendKey(id));
      if (suspended > 0) return { ok: false, reason: 'suspended', retryAfterMs: suspended };
      const targets: Array<{ data: Record<string, unknown>; factor?: string }> = enroll
        ? [{ data: enroll.channel }]
        : (await channels(id)).map((f) => ({ data: f.data, factor: f.id }));
      if (targets.length === 0) return { ok: false, reason: 'no_channel' };
      const wait = await shared.ttl(nextKey(id));
      if (wait > 0) return { ok: false, reason: 'backoff', retryAfterMs: wait };
      const reqId = randomBytes(18).toString('base64url');
      // Every slot is looked at first, so each push left to expire is counted now.
      for (let i = 0; i < config.max_pending; i++) await releaseStale(id, i);
      let slot = -1;
      for (let i = 0; i < config.max_pending && slot < 0; i++) {
        if (await shared.setIfAbsent(slotKey(id, i), reqId, config.timeout + KEEP_AFTER_MS)) slot = i;
      }
      if (slot < 0) return { ok: false, reason: 'too_many' };
      // Time-outs counted just now may have suspended push.
      const suspendedNow = await shared.ttl(suspendKey(id));
      if (suspendedNow > 0) {
        await shared.delete(slotKey(id, slot));
        return { ok: false, reason: 'suspended', retryAfterMs: suspendedNow, newly: true };
      }
      const n = await shared.incr(sendsKey(id), config.suspend_window);
      const backoff = backoffAfter(n, config.backoff);
      if (backoff > 0) await shared.set(nextKey(id), String(n), backoff);

      const at = now();
      const { number, choices } = pickNumbers(randomInt);
      const req: PushRequest & { slot: number } = {
        id: reqId, user: id, purpose: enroll ? 'enroll' : 'challenge', number, choices, created: at, expires: at + config.timeout,
        status: 'pending', context, slot, ...(enroll ? { channel: enroll.channel } : {}),
      };
      await write(req);
      // A token per channel: the answer says which phone approved (the factor's last use).
      const tokens = targets.map(() => randomBytes(24).toString('base64url'));
      for (const [i, token] of tokens.entries()) await shared.set(tokKey(token), `${reqId}:${targets[i].factor ?? ''}`, config.timeout);
      const sent = await Promise.allSettled(targets.map((to, i) => deliver(to.data, user, req, `${origin}/.gatehouse/push?${new URLSearchParams({ t: tokens[i] })}`, message)));
      const failed = sent.flatMap((s, i) => s.status === 'rejected' ? [`${String(targets[i].data.channel)}: ${(s.reason as Error)?.message ?? s.reason}`] : []);
      // A subscription the push service says is gone never comes back: its channel is removed (the page tells the user).
      const gone: FactorRecord[] = [];
      for (const [i, r] of sent.entries()) {
        const factor = targets[i].factor;
        if (r.status !== 'rejected' || !(r.reason instanceof SubscriptionGoneError) || factor === undefined) continue;
        const rec = await store.getFactor(id, factor);
        if (rec !== undefined && await store.removeFactor(id, factor)) gone.push(rec);
      }
      if (failed.length === sent.length) {
        // Reached no phone: nothing may stay answerable, and the slot is free again.
        for (const token of tokens) await shared.delete(tokKey(token));
        await shared.delete(reqKey(reqId));
        await freeSlot(req);
        return { ok: false, reason: 'undelivered', failed, gone };
      }
      return { ok: true, id: reqId, number, expires: req.expires, failed, gone };
    },

    async status(user, id) {
      const req = await read(id);
      if (req === undefined || req.user !== user) return undefined;
      const status = statusAt(req, now());
      const refusal = status === 'expired' ? await countExpiry(req) : undefined;
      return { status, expires: req.expires, ...(refusal ? { refusal } : {}) };
    },

    async view(token) {
      const { id } = tokenTarget(await shared.get(tokKey(token)));
      const req = id === undefined ? undefined : await read(id);
      return req === undefined ? undefined : { ...req, status: statusAt(req, now()) };
    },

    async answer(token, answer) {
      // The token is taken first: of two answers at once (two taps, two instances), one gets it.
      const { id, factor } = tokenTarget(await shared.take(tokKey(token)));
      const req = id === undefined ? undefined : await read(id);
      if (req === undefined) return { ok: false, status: 'unknown' };
      const r = answerPush(req, answer, now(), factor);
      if (!r.ok) {
        if (r.status === 'expired') await countExpiry(req);
        return { ok: false, status: r.status };
      }
      await write(r.req);
      await freeSlot(req);
      const refusal = countsAsRefusal(r.req.status) ? await countRefusal(req.user) : undefined;
      return { ok: true, req: r.req, ...(refusal ? { refusal } : {}) };
    },

    async complete(user, id) {
      const seen = await read(id);
      if (seen === undefined || seen.user !== user) return { ok: false, reason: 'unknown' };
      const status = statusAt(seen, now());
      if (status === 'pending') return { ok: false, reason: 'pending', req: seen };
      // Taken once: the approval signs in one browser, one time.
      const req = parsePushRequest(await shared.take(reqKey(id)));
      if (req === undefined) return { ok: false, reason: 'unknown' };
      if (status === 'expired') {
        const refusal = await countExpiry(req);
        return { ok: false, reason: 'expired', req, ...(refusal ? { refusal } : {}) };
      }
      if (status !== 'approved') return { ok: false, reason: status, req };
      // An approval clears the count of refusals: the owner has the phone.
      await shared.delete(failKey(user));
      const at = now();
      if (req.answered_via) await store.updateFactor(user, req.answered_via, { last_used_at: at });
      return { ok: true, req, verified: verified('push', at, req.answered_via) };
    },

    async addChannel(user, channel, name) {
      const existing = (await channels(user)).find((f) => f.data.channel === 'link' && channel.channel === 'link' && f.data.destination === channel.destination);
      if (existing !== undefined) return existing;
      const at = now();
      const factor: FactorRecord = {
        id: randomBytes(12).toString('base64url'), user, kind: 'push',
        name: cleanFactorName(name, factorKindInfo('push').label), data: channel, created_at: at, last_used_at: at,
      };
      await store.addFactor(factor);
      return factor;
    },

    async suspendedFor(user) {
      return Math.max(0, await shared.ttl(suspendKey(user)));
    },
  };
}

/** Pure: how logs and the audit name a push (its id is the waiting browser's secret). */
export function pushRef(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 12);
}
