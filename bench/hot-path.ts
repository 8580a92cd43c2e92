// Micro-benchmarks of the steps an allowed proxied request with a warm session
// takes, each as it was ("before") and as it is ("after"), in one process, so
// the ratio is what a change is kept or dropped on.
// Run: node_modules/.bin/node bench/hot-path.ts [--rounds N]

import { EventEmitter } from 'node:events';
import { parseArgs } from 'node:util';
import { LRUCache } from 'lru-cache';
import { Histogram, Registry } from 'prom-client';
import { SessionManager } from '../src/session/session-manager.ts';
import { signedInSession, type SessionData } from '../src/session/session-data.ts';
import { identityHeaders, makeIdentityHeaders, type IdentityHeaderSource } from '../src/session/subject.ts';
import { AssertionSigner } from '../src/identity/assertion.ts';
import { createSecretBox } from '../src/store/secret-box.ts';
import { createMemorySharedState } from '../src/store/memory-shared-state.ts';
import { buildClientHeaders, buildUpstreamHeaders } from '../src/proxy/upstream-headers.ts';
import { ownedCanonicalMatcher, ownedHeaderMatcher } from '../src/proxy/owned-headers.ts';
import { UPSTREAM_BUCKETS } from '../src/audit/metrics.ts';
import { ArrayHistogram } from '../src/audit/array-histogram.ts';
import type { HeadersConfig } from '../src/config/types.ts';
import { buildHeaders } from '../src/config/sections/headers.ts';
import { Reader } from '../src/config/reader.ts';
import type { SigningKey, Store } from '../src/store/types.ts';
import type { UserRecord } from '../src/identity/types.ts';

interface Pair { name: string; before: () => unknown; after: () => unknown }

/** ns per call of `fn`, the best of `rounds` timed batches (the least disturbed by the shared machine). */
async function nsPerOp(fn: () => unknown, rounds: number): Promise<number> {
  const batch = 20_000;
  let best = Infinity;
  let sink: unknown;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink = fn();
    if (sink instanceof Promise) await sink;
    const ns = Number(process.hrtime.bigint() - t0) / batch;
    if (r > 0 && ns < best) best = ns; // round 0 warms up
  }
  return best;
}

/** A fresh copy of a string per call: a request's cookie is a new string, its hash not yet computed. */
function fresh(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

async function sessionLookup(): Promise<Pair> {
  const m = new SessionManager({ secret: 'bench-session-secret-0123456789-abcdefghij', cookieName: 'gatehouse', secure: false, maxAge: 12 * 3_600_000, idle: 30 * 60_000, shared: createMemorySharedState() });
  const s = signedInSession('alice', ['pwd'], ['totp'], Date.now());
  const cookie = await m.seal({ ...s, profile: { email: 'alice@example.com', groups: ['admins', 'finance', 'staff'], display_name: 'Alice Example' } });
  // Before: an LRU keyed by the whole cookie, behind an async read that is awaited.
  const old = new LRUCache<string, SessionData>({ max: 50_000, ttlAutopurge: false });
  old.set(cookie, s, { ttl: 3_600_000 });
  const oldRead = async (c: string) => old.get(c) ?? null;
  return {
    name: `session lookup (cookie ${cookie.length} chars)`,
    before: () => oldRead(fresh(cookie)).then((x) => x),
    after: () => { const r = m.lookup(fresh(cookie)); return r instanceof Promise ? r.then((x) => x) : r; },
  };
}

/** The default header names and settings (an empty `headers` section). */
const HEADERS: HeadersConfig = buildHeaders(new Reader([]), {});

async function identity(): Promise<Pair> {
  const keys: SigningKey[] = [];
  const store = {
    listSigningKeys: async () => keys.map((k) => ({ ...k })),
    addSigningKey: async (k: SigningKey) => { keys.push(k); },
    retireSigningKey: async () => {},
    deleteSigningKey: async () => {},
    replaceSigningPrivateKey: async () => {},
  } as unknown as Store;
  const signer = new AssertionSigner(store, createSecretBox(['bench-encryption-key-0123456789-abcdefghij']), 'https://gatehouse.example');
  await signer.init();
  const user: UserRecord = { id: 'alice', display_name: 'Alice', email: 'alice@example.com', groups: ['admins', 'finance', 'staff'], password_hash: '', disabled: false };
  const session = signedInSession('alice', ['pwd'], ['totp'], Date.now());
  session.factors.push({ kind: 'totp', amr: 'otp', at: Date.now(), phishing_resistant: false } as SessionData['factors'][number]);
  const src = (): IdentityHeaderSource => ({ identity: { getUser: () => user }, session, headers: HEADERS, signer, now: Date.now() });
  const origin = 'http://127.0.0.1:8081';
  return {
    name: 'identity headers + assertion',
    // Before: built per request (the signer's own cache keyed by a joined string of the claims).
    before: () => makeIdentityHeaders(src(), session, user, origin, true),
    after: () => identityHeaders(src(), origin, true),
  };
}

function upstreamHeaders(): Pair {
  const raw = [
    'Host', 'portal.example.com', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'Accept', 'text/html,application/xhtml+xml',
    'Accept-Language', 'en-GB,en;q=0.9', 'Accept-Encoding', 'gzip, deflate, br', 'Cookie', 'gatehouse=abc; app=1',
    'Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Site', 'same-origin', 'Referer', 'https://portal.example.com/', 'Connection', 'keep-alive',
  ];
  const input = (isOwned: (n: string) => boolean) => ({
    rawHeaders: raw, isOwned, sessionCookieName: 'gatehouse', upstreamHost: '127.0.0.1:8081', preserveHost: false,
    forwardedFor: '10.0.0.1', forwardedProto: 'https', forwardedHost: 'portal.example.com', requestId: 'r1', identity: [],
  });
  const twice = input(ownedHeaderMatcher(HEADERS));
  const once = input(ownedCanonicalMatcher(HEADERS));
  return {
    name: 'upstream headers (10 client headers)',
    before: () => buildUpstreamHeaders(twice),
    after: () => buildUpstreamHeaders(once),
  };
}

function clientHeaders(): Pair {
  // What a keep-alive upstream answers with (the bench upstream, most app servers).
  const headers = { 'content-type': 'text/html; charset=utf-8', 'content-length': '1187', date: 'Mon, 07 Dec 2026 13:00:00 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=60' };
  const input = { headers, upstreamOrigin: 'http://127.0.0.1:8081', publicOrigin: 'https://portal.example.com', sessionCookieName: 'gatehouse' };
  const hop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate']);
  // Before: every Connection value split into a Set (these headers need no other repair).
  const before = () => {
    const out: Record<string, string | string[]> = {};
    let listed: Set<string> | undefined;
    for (const t of String(headers.connection).split(',')) (listed ??= new Set()).add(t.trim().toLowerCase());
    for (const name in headers) {
      const value = headers[name as keyof typeof headers];
      if (hop.has(name) || listed?.has(name)) continue;
      out[name] = value;
    }
    return out;
  };
  return { name: 'answer headers (Connection: keep-alive)', before, after: () => buildClientHeaders(input) };
}

function listeners(): Pair {
  const res = new EventEmitter();
  const onDrain = () => {};
  return {
    name: "per-request 'drain' listener",
    before: () => { res.on('drain', onDrain); res.off('drain', onDrain); },
    after: () => { res.off('drain', onDrain); },
  };
}

function closeListener(): Pair {
  const f = () => {};
  return {
    name: "per-request 'close' listener",
    // A fresh emitter per call, as each request has its own response.
    before: () => { const res = new EventEmitter(); res.once('close', f); res.emit('close'); },
    after: () => { const res = new EventEmitter(); res.on('close', f); res.emit('close'); },
  };
}

function promises(): Pair {
  // The allowed request's tail in gateway.ts: the app-form read (nothing to read) and the proxy step.
  const readAppFormBefore = async (): Promise<void> => {};
  const proxyBefore = async (): Promise<void> => {};
  const readAppFormAfter = (): Promise<void> | undefined => undefined;
  const proxyAfter = (): void | Promise<void> => undefined;
  return {
    name: 'allowed request tail (awaits, promise return)',
    before: async () => { await readAppFormBefore(); return proxyBefore(); },
    after: async () => { const r = readAppFormAfter(); if (r !== undefined) await r; return proxyAfter(); },
  };
}

function histogram(): Pair {
  const h = new Histogram({ name: 'bench_seconds', help: 'bench', labelNames: ['route'] as const, buckets: UPSTREAM_BUCKETS, registers: [new Registry()] });
  const child = h.labels('/');
  const series = new ArrayHistogram({ name: 'bench_array_seconds', help: 'bench', labelName: 'route', buckets: UPSTREAM_BUCKETS, registry: new Registry() }).series('/');
  let v = 0;
  const next = () => { v = (v + 0.0007) % 0.2; return v; };
  return {
    name: 'histogram observe',
    before: () => child.observe(next()),
    after: () => series.observe(next()),
  };
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Math.max(2, Number(values.rounds) || 15);
const pairs = [await sessionLookup(), await identity(), upstreamHeaders(), clientHeaders(), listeners(), closeListener(), promises(), histogram()];
process.stdout.write(`${'step'.padEnd(44)} ${'before ns'.padStart(10)} ${'after ns'.padStart(10)} ${'after/before'.padStart(13)}\n`);
for (const p of pairs) {
  // Interleaved, so drift on the shared machine hits both sides alike.
  let before = Infinity;
  let after = Infinity;
  for (let k = 0; k < 3; k++) {
    before = Math.min(before, await nsPerOp(p.before, rounds));
    after = Math.min(after, await nsPerOp(p.after, rounds));
  }
  process.stdout.write(`${p.name.padEnd(44)} ${before.toFixed(0).padStart(10)} ${after.toFixed(0).padStart(10)} ${(after / before).toFixed(2).padStart(13)}\n`);
}
