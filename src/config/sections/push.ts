// factors.push: approval of a sign-in on the user's phone with number matching
// (README "Push approval"). Absent: no push factor is offered. The limits bound push
// bombing: pending pushes per user, a growing wait between pushes, and a
// suspension after repeated denials, wrong numbers and time-outs.

import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { duration, int, nonEmpty, obj, strList, type PropertiesOf } from '../schema-kit.ts';

export const pushSchema = obj({
  timeout: duration,
  max_pending: int(1, 10),
  backoff: duration,
  suspend_after: int(1, 100),
  suspend_window: duration,
  suspend_for: duration,
  web_push: obj({ subject: nonEmpty, push_services: strList } satisfies PropertiesOf<WebPushConfig>, ['subject']),
} satisfies PropertiesOf<PushConfig>);

/**
 * The push services of the browsers (RFC 8030): a subscription's endpoint must
 * be on one of them, so a user cannot make the gateway post to any address.
 * `*.` matches any subdomain.
 */
export const DEFAULT_PUSH_SERVICES = [
  'https://fcm.googleapis.com',                  // Chrome, Edge on Android, Samsung Internet
  'https://updates.push.services.mozilla.com',  // Firefox
  'https://web.push.apple.com',                 // Safari (iOS 16.4+ home-screen apps, macOS)
  'https://*.notify.windows.com',               // Edge on Windows
] as const;

export interface WebPushConfig {
  subject: string;           // VAPID contact (RFC 8292): mailto: or https: URL
  push_services: string[];   // origins subscription endpoints may be on (default DEFAULT_PUSH_SERVICES)
}

export interface PushConfig {
  timeout: Millis;           // how long a push can be answered (default 60s)
  max_pending: number;       // unanswered pushes a user may have at once (default 3)
  backoff: Millis;           // wait after a push before the next; doubles with each push in suspend_window (default 5s)
  suspend_after: number;     // denials, wrong numbers and time-outs within suspend_window that suspend push (default 3)
  suspend_window: Millis;    // default 15m
  suspend_for: Millis;       // how long push stays suspended for that user; other methods stay (default 15m)
  /** Absent: approval links through the notifier only. */
  web_push?: WebPushConfig;
}

export function buildPush(r: Reader, p: Obj, at: string[]): PushConfig {
  const cfg: PushConfig = {
    timeout: r.duration(p, 'timeout', at, '60s'),
    max_pending: r.int(p, 'max_pending', 3),
    backoff: r.duration(p, 'backoff', at, '5s'),
    suspend_after: r.int(p, 'suspend_after', 3),
    suspend_window: r.duration(p, 'suspend_window', at, '15m'),
    suspend_for: r.duration(p, 'suspend_for', at, '15m'),
  };
  if (p.web_push !== undefined) {
    const w = r.section(p, 'web_push');
    const subject = r.str(w, 'subject') ?? '';
    // Absent: the schema says it is required.
    if (subject !== '' && !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/.test(subject)) r.fail([...at, 'web_push', 'subject'], 'must be a mailto: address or an https: URL (RFC 8292: how push services reach the operator)');
    const services = (r.list(w, 'push_services') ?? [...DEFAULT_PUSH_SERVICES]).map((o, i) => pushServiceOrigin(r, o, [...at, 'web_push', 'push_services', String(i)]));
    cfg.web_push = { subject, push_services: services };
  }
  for (const key of ['timeout', 'suspend_window', 'suspend_for'] as const) {
    if (p[key] !== undefined && cfg[key] <= 0) r.fail([...at, key], 'must be longer than 0');
  }
  if (cfg.timeout > 10 * 60_000) r.fail([...at, 'timeout'], 'must be at most 10m (a push is answered at once or not at all)');
  return cfg;
}

/** An origin, with `*.` allowed at the start of the host. */
function pushServiceOrigin(r: Reader, value: string, at: string[]): string {
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$/i.exec(value);
  if (!m) r.fail(at, `"${value}" must be an origin like https://fcm.googleapis.com (a leading *. in the host matches subdomains)`);
  return value.toLowerCase();
}

/** Pure: whether a subscription endpoint is on one of the allowed push services. */
export function onPushService(endpoint: string, services: readonly string[]): boolean {
  let url: URL;
  try { url = new URL(endpoint); } catch { return false; }
  if (url.username || url.password) return false;
  return services.some((s) => {
    const m = /^(https?:)\/\/(\*\.)?(.+)$/.exec(s);
    if (!m || m[1] !== url.protocol) return false;
    const [host, port = ''] = m[3].startsWith('[') ? [m[3].slice(0, m[3].indexOf(']') + 1), m[3].slice(m[3].indexOf(']') + 2)] : m[3].split(':');
    if (port !== url.port) return false;
    return m[2] ? url.hostname.endsWith(`.${host}`) : url.hostname === host;
  });
}
