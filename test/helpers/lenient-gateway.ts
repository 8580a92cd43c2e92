// A test gateway in front of one lenient upstream (lenient-upstream.ts), the
// shape most proxy tests share: every route forwards to that upstream, which
// answers `seen METHOD TARGET`; both are closed when the test ends.

import type { Test } from 'tap';
import { startTestGateway, type GatewayFixture, type TestUser } from './gateway.ts';
import { plainAnswer, startLenientUpstream, type LenientRequest, type LenientAnswer, type LenientUpstream } from './lenient-upstream.ts';

export interface LenientGatewayOptions {
  /** Routes without `upstream` (it is the lenient one); default one route at `/`. */
  routes?: Record<string, unknown>[];
  /** The rest of the config (merged over the test gateway's defaults). */
  config?: Record<string, unknown>;
  users?: Record<string, TestUser>;
  answer?: (r: LenientRequest) => LenientAnswer;
}

export async function startLenientGateway(t: Test, o: LenientGatewayOptions = {}): Promise<{ f: GatewayFixture; up: LenientUpstream }> {
  const up = await startLenientUpstream(o.answer ?? ((q) => plainAnswer(200, 'OK', `seen ${q.method} ${q.target}`)));
  t.teardown(() => up.close());
  const routes = (o.routes ?? [{ path: '/' }]).map((r) => ({ ...r, upstream: up.origin }));
  const f = await startTestGateway({ upstream: false, users: o.users, config: { ...o.config, routes } });
  t.teardown(() => f.close());
  return { f, up };
}
