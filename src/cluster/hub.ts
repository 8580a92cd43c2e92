// The primary's answers to its workers' calls: the in-memory shared state
// (each call runs whole in the primary's one thread, so a code is taken once
// and an attempt counted once across every worker), the audit chain (one
// writer; the answer goes back once the record is on disk), and the metrics
// of every worker together.

import type { AuditLog } from '../audit/audit-log.ts';
import type { SharedState } from '../store/shared-state.ts';
import { SHARED_METHODS, type Call, type ToWorker } from './messages.ts';

export interface HubOptions {
  /** The memory shared state; absent when the workers use Redis themselves. */
  shared?: SharedState;
  audit: AuditLog;
  metricsText(): Promise<string>;
  /** Sends a push to every worker. */
  broadcast(message: ToWorker): void;
}

export function createHub(o: HubOptions): { answer(call: Call): Promise<unknown> } {
  const subscribed = new Set<string>();
  const allowed = new Set<string>(SHARED_METHODS);

  function sharedState(): SharedState {
    if (!o.shared) throw new Error('shared state is not held by the primary (shared_state.kind is not memory)');
    return o.shared;
  }

  async function answer(call: Call): Promise<unknown> {
    switch (call.op) {
      case 'shared': {
        if (!allowed.has(call.method) || !Array.isArray(call.args)) throw new Error(`unknown shared-state call: ${String(call.method)}`);
        const method = sharedState()[call.method] as (...args: unknown[]) => Promise<unknown>;
        return method.apply(o.shared, call.args);
      }
      case 'subscribe': {
        if (!subscribed.has(call.channel)) {
          subscribed.add(call.channel);
          const channel = call.channel;
          await sharedState().subscribe(channel, (message) => o.broadcast({ gh: 'published', channel, message }));
        }
        return undefined;
      }
      case 'audit':
        await o.audit.write(call.event);
        return o.audit.durableHead;
      case 'audit.flush':
        await o.audit.flush();
        return o.audit.durableHead;
      case 'metrics':
        return o.metricsText();
      default:
        throw new Error(`unknown call: ${(call as { op?: unknown }).op}`);
    }
  }

  return { answer };
}
