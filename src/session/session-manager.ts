// Sealed-cookie sessions with an unsealed cache and pushed revocations.
// Warm path (a cookie seen before): one LRU lookup keyed by the seal's MAC (not
// the whole ~500-character cookie), two Map lookups, no crypto, no shared-state
// round trip and no promise. Cold path: iron-session unseal (~0.5 ms) plus one
// revocation look-up in shared state, so an instance that missed a pushed
// revocation (it started later) still refuses the session.
//
// The idle deadline slides from server-side state (the last activity of each
// session id in this process), so a session in use stays alive even when its
// client ignores Set-Cookie; a fresh cookie is sealed at most once per slide
// interval per session, for the other instances and for after a restart.

import { sealData, unsealData } from 'iron-session';
import { LRUCache } from 'lru-cache';
import { RESYNC_MESSAGE, type SharedState } from '../store/shared-state.ts';
import { isValidSessionData, needsTouch, sessionExpiry, type SessionData } from './session-data.ts';
import { serializeCookie } from '../proxy/cookies.ts';

const REVOKE_CHANNEL = 'revocations';

/**
 * iron-session appends `~2` to every seal it makes, outside the seal's MAC, and
 * ignores whatever follows a `~` when unsealing. Accept only the exact form we
 * write, so one session has exactly one cookie value (`…~` or `…~2AAAA` would
 * otherwise be the same session under endless new cache keys).
 */
const SEAL_SUFFIX = '~2';
export function isCanonicalSeal(value: string): boolean {
  return value.endsWith(SEAL_SUFFIX) && value.indexOf('~') === value.length - SEAL_SUFFIX.length;
}

export interface SessionManagerOptions {
  secret: string;
  cookieName: string;
  secure: boolean;
  maxAge: number;            // ms, absolute
  idle: number;              // ms
  shared: SharedState;
  now?: () => number;
  cacheSize?: number;
}

/**
 * The cache key of a canonical seal: its trailing HMAC (43 base64url characters)
 * and the suffix. Hashing these instead of the whole cookie is what makes a warm
 * lookup cheap; a hit still compares the whole cookie, so two cookies sharing a
 * tail never share a session.
 */
const KEY_CHARS = 45;
function cacheKey(cookie: string): string {
  return cookie.length > KEY_CHARS ? cookie.slice(-KEY_CHARS) : cookie;
}

interface Cached { cookie: string; data: SessionData; until: number; activity: Activity }
/** Per session id, in this process: the last activity and when a cookie carrying it was last sealed. */
interface Activity { seen: number; sealedAt: number }

interface Revocation { t: 'sid'; sid: string; until: number }
interface UserRevocation { t: 'user'; user: string; before: number; until: number }

export class SessionManager {
  readonly cookieName: string;
  readonly #o: Required<Omit<SessionManagerOptions, 'cacheSize'>>;
  readonly #cache: LRUCache<string, Cached>;
  readonly #activity: LRUCache<string, Activity>;
  readonly #revokedSids = new Map<string, number>();          // sid -> forget after
  readonly #revokedUsers = new Map<string, number>();         // user -> sessions created before are dead

  constructor(o: SessionManagerOptions) {
    this.#o = { now: Date.now, ...o };
    this.cookieName = o.cookieName;
    this.#cache = new LRUCache({ max: o.cacheSize ?? 50_000 });
    this.#activity = new LRUCache({ max: o.cacheSize ?? 50_000 });
  }

  /** session.max_age (ms): how long a signed-in session can live at most. */
  get maxAge(): number {
    return this.#o.maxAge;
  }

  /** Subscribes to revocations pushed by every instance. Call once at start. */
  async start(): Promise<void> {
    await this.#o.shared.subscribe(REVOKE_CHANNEL, (msg) => this.#applyRevocation(msg));
  }

  #applyRevocation(msg: string): void {
    // Revocations may have been missed: every cached session is checked again (cold path) on its next request.
    if (msg === RESYNC_MESSAGE) { this.#cache.clear(); return; }
    let r: Revocation | UserRevocation;
    try { r = JSON.parse(msg); } catch { return; }
    if (r.t === 'sid' && typeof r.sid === 'string') this.#revokedSids.set(r.sid, r.until);
    if (r.t === 'user' && typeof r.user === 'string') {
      this.#revokedUsers.set(r.user, Math.max(r.before, this.#revokedUsers.get(r.user) ?? 0));
    }
    if (this.#revokedSids.size > 100_000) this.#sweep();
  }

  /**
   * The session-list entries (registry id, creation time) of `user` that are
   * not revoked: the security page lists no session that was signed out, by
   * "sign out everywhere" or an MFA reset included, whichever instance did it.
   * Asks shared state (one look-up per entry and one for the user), like a cold read.
   */
  async notRevoked<T extends { id: string; created_at: number }>(user: string, entries: readonly T[]): Promise<T[]> {
    const [before, ...revoked] = await Promise.all([
      this.#o.shared.get(`rev:user:${user}`),
      ...entries.map((e) => (this.#revokedSids.has(e.id) ? Promise.resolve('1') : this.#o.shared.get(`rev:sid:${e.id}`))),
    ]);
    const cutoff = Math.max(before === null ? 0 : Number(before), this.#revokedUsers.get(user) ?? 0);
    return entries.filter((e, i) => revoked[i] === null && e.created_at > cutoff);
  }

  /** Ends, in this process, every session of `user` created up to `before` (MFA reset seen in the store). */
  revokeUserLocally(user: string, before: number): void {
    this.#revokedUsers.set(user, Math.max(before, this.#revokedUsers.get(user) ?? 0));
  }

  #sweep(): void {
    const now = this.#o.now();
    for (const [sid, until] of this.#revokedSids) if (until < now) this.#revokedSids.delete(sid);
  }

  #locallyRevoked(s: SessionData): boolean {
    if (this.#revokedSids.has(s.sid)) return true;
    if (s.rid !== undefined && this.#revokedSids.has(s.rid)) return true;
    if (s.user !== undefined) {
      const before = this.#revokedUsers.get(s.user);
      if (before !== undefined && s.created <= before) return true;
    }
    return false;
  }

  /**
   * The valid session a cookie carries, or null (absent, tampered, expired,
   * revoked). Throws only when shared state cannot be asked (caller fails closed).
   */
  async read(cookie: string | undefined): Promise<SessionData | null> {
    return this.lookup(cookie);
  }

  /**
   * `read` for the hot path: a cached cookie is answered synchronously (no
   * promise, no microtask); only a cold cookie returns a promise.
   */
  lookup(cookie: string | undefined): SessionData | null | Promise<SessionData | null> {
    if (!cookie) return null;
    const now = this.#o.now();
    const hit = this.#cache.get(cacheKey(cookie));
    if (hit !== undefined && hit.cookie === cookie) {
      if (now > hit.until) { this.#cache.delete(cacheKey(cookie)); return null; }
      return this.#stillGood(hit.data, hit.activity.seen, now) && !this.#locallyRevoked(hit.data) ? hit.data : null;
    }
    if (cookie.length > 4096 || !isCanonicalSeal(cookie)) return null;
    return this.#unseal(cookie, now);
  }

  async #unseal(cookie: string, now: number): Promise<SessionData | null> {
    let data: unknown;
    try {
      data = await unsealData(cookie, { password: this.#o.secret, ttl: Math.ceil(this.#o.maxAge / 1000) + 60 });
    } catch {
      return null;
    }
    if (!isValidSessionData(data)) return null;
    const activity = this.#activityOf(data);
    if (!this.#stillGood(data, activity.seen, now)) return null;
    try {
      if (await this.#remotelyRevoked(data)) return null;
    } catch (err) {
      // Shared state is down: everyone fails closed except the break-glass account, which exists for exactly this.
      if (!data.breakglass) throw err;
    }
    this.#remember(cookie, data);
    return data;
  }

  #remember(cookie: string, data: SessionData): void {
    this.#cache.set(cacheKey(cookie), { cookie, data, until: data.created + this.#o.maxAge, activity: this.#activityOf(data) });
  }

  /** The server-side activity of a session id (created from the cookie's own `seen` when first met). */
  #activityOf(s: SessionData): Activity {
    let a = this.#activity.get(s.sid);
    if (a === undefined) {
      a = { seen: s.seen, sealedAt: s.seen };
      this.#activity.set(s.sid, a);
    } else if (s.seen > a.seen) {
      a.seen = s.seen;
    }
    return a;
  }

  /** Good when inside max_age and, counting the later of the cookie's and this process's last activity, inside idle_timeout. */
  #stillGood(s: SessionData, seen: number, now: number): boolean {
    return sessionExpiry(s, now, this.#o.maxAge, this.#o.idle, Math.max(s.seen, seen)) === 'ok';
  }

  async #remotelyRevoked(s: SessionData): Promise<boolean> {
    const [sid, rid, user] = await Promise.all([
      this.#o.shared.get(`rev:sid:${s.sid}`),
      s.rid === undefined ? Promise.resolve(null) : this.#o.shared.get(`rev:sid:${s.rid}`),
      s.user === undefined ? Promise.resolve(null) : this.#o.shared.get(`rev:user:${s.user}`),
    ]);
    if (sid !== null) { this.#revokedSids.set(s.sid, this.#o.now() + this.#o.maxAge); return true; }
    if (rid !== null) { this.#revokedSids.set(s.rid!, this.#o.now() + this.#o.maxAge); return true; }
    if (user !== null) {
      const before = Number(user);
      this.#revokedUsers.set(s.user!, Math.max(before, this.#revokedUsers.get(s.user!) ?? 0));
      return s.created <= before;
    }
    return false;
  }

  /**
   * A signed-in session sealed before the session registry existed has no
   * registry id: its session id becomes one (revoking it already ends that
   * cookie, rev:sid:<sid>), kept across step-ups like any rid. The cached
   * entry of `cookie` carries it from now on, so this process registers such a
   * session at most once even while its browser still sends the old cookie.
   */
  adoptRegistryId(s: SessionData, cookie: string | undefined): SessionData {
    const adopted = { ...s, rid: s.sid };
    const hit = cookie === undefined ? undefined : this.#cache.get(cacheKey(cookie));
    if (hit !== undefined && hit.cookie === cookie) hit.data = adopted;
    return adopted;
  }

  /** Seals a session and warms the cache so its next request costs no crypto. */
  async seal(s: SessionData): Promise<string> {
    const value = await sealData(s, { password: this.#o.secret, ttl: Math.ceil(this.#o.maxAge / 1000) + 60 });
    // A new iron-session seal format must fail here, loudly, not as "every cookie is anonymous".
    if (!isCanonicalSeal(value)) throw new Error('iron-session produced an unexpected seal format (expected a trailing ~2)');
    this.#remember(value, s);
    return value;
  }

  /**
   * Records activity on a session (its idle deadline slides here, server-side)
   * and, now and then (needsTouch, counted from the later of the cookie's `seen`
   * and the last cookie sealed for this session), seals a fresh cookie for the
   * client to store: a promise of its value, or undefined when none is due. A
   * client that ignores Set-Cookie gets at most one new cookie per interval.
   * `created` is kept, so the absolute max_age still counts from sign-in.
   */
  touch(s: SessionData): Promise<string> | undefined {
    const now = this.#o.now();
    if (this.#o.idle <= 0) return undefined;
    const a = this.#activityOf(s);
    if (now > a.seen) a.seen = now;
    if (!needsTouch(s, now, this.#o.idle, Math.max(s.seen, a.sealedAt))) return undefined;
    const before = a.sealedAt;
    a.sealedAt = now;
    const pending = this.seal({ ...s, seen: now });
    pending.catch(() => { a.sealedAt = before; });
    return pending;
  }

  /** The Set-Cookie for a sealed value; Max-Age ends with the session's absolute lifetime. */
  setCookie(value: string): string {
    const hit = this.#cache.get(cacheKey(value));
    const s = hit?.cookie === value ? hit.data : undefined;
    const left = s ? s.created + this.#o.maxAge - this.#o.now() : this.#o.maxAge;
    return serializeCookie(this.cookieName, value, { secure: this.#o.secure, maxAgeSeconds: Math.max(1, Math.ceil(left / 1000)) });
  }

  clearCookie(): string {
    return serializeCookie(this.cookieName, '', { secure: this.#o.secure, maxAgeSeconds: 0 });
  }

  /** Revokes one session on every instance (logout). */
  async revokeSession(s: SessionData, cookie?: string): Promise<void> {
    if (cookie) this.#cache.delete(cacheKey(cookie));
    await this.#revokeId(s.sid, s.created + this.#o.maxAge);
  }

  /**
   * Revokes, on every instance, the signed-in session a registry id names
   * (SessionData.rid: the security page's "Sign out" on another browser),
   * whatever session id it has rotated to since. `created` bounds how long the
   * revocation must be kept.
   */
  async revokeListed(rid: string, created: number): Promise<void> {
    await this.#revokeId(rid, created + this.#o.maxAge);
  }

  async #revokeId(id: string, until: number): Promise<void> {
    const msg = JSON.stringify({ t: 'sid', sid: id, until } satisfies Revocation);
    // Here at once: this instance must not wait for its own message to come back through pub/sub.
    this.#applyRevocation(msg);
    await this.#o.shared.set(`rev:sid:${id}`, '1', Math.max(1000, until - this.#o.now()));
    await this.#o.shared.publish(REVOKE_CHANNEL, msg);
  }

  /** Revokes every session of a user created up to now (sign out everywhere, MFA reset, disabled user). */
  async revokeUser(user: string): Promise<void> {
    const before = this.#o.now();
    const msg = JSON.stringify({ t: 'user', user, before, until: before + this.#o.maxAge } satisfies UserRevocation);
    this.#applyRevocation(msg);
    await this.#o.shared.set(`rev:user:${user}`, String(before), this.#o.maxAge + 60_000);
    await this.#o.shared.publish(REVOKE_CHANNEL, msg);
  }
}
