// What a worker uses in place of the services its primary owns: the shared
// state and the audit log, each a thin client over the IPC link. Calls are the
// rare operations (a code checked, a stash kept, a revocation, an audit
// record); the warm path of an allowed request makes none.

import type { AuditLog } from '../audit/audit-log.ts';
import type { ChainHead } from '../audit/chain.ts';
import { deliver, type SharedState } from '../store/shared-state.ts';
import { SHARED_METHODS, type SharedMethod } from './messages.ts';
import type { PrimaryLink } from './primary-link.ts';

/** The primary's in-memory shared state. Published messages come back to every worker, this one included. */
export function primarySharedState(link: PrimaryLink): SharedState {
  const subscribers = new Map<string, Set<(message: string) => void>>();
  link.on('published', ({ channel, message }) => {
    for (const handler of subscribers.get(channel) ?? []) deliver(handler, channel, message);
  });
  const call = (method: SharedMethod) => (...args: unknown[]) => link.call({ op: 'shared', method, args });
  const methods = Object.fromEntries(SHARED_METHODS.map((m) => [m, call(m)])) as unknown as Pick<SharedState, SharedMethod>;
  return {
    ...methods,
    async subscribe(channel, onMessage) {
      let handlers = subscribers.get(channel);
      if (handlers === undefined) {
        subscribers.set(channel, (handlers = new Set()));
        await link.call({ op: 'subscribe', channel });
      }
      handlers.add(onMessage);
    },
    async close() {
      subscribers.clear(); // the state itself is the primary's
    },
  };
}

/** A promise whose rejection is handled already (AuditLog.write's contract; awaiting it still sees the rejection). */
function settled(p: Promise<void>): Promise<void> {
  p.catch(() => undefined);
  return p;
}

/** The primary's audit chain: `write` resolves once the primary has the record on disk. */
export function primaryAuditLog(link: PrimaryLink): AuditLog {
  let head: ChainHead = { hash: '', seq: 0 };
  const written = (value: unknown) => { head = value as ChainHead; };
  return {
    write: (event) => settled(link.call({ op: 'audit', event }).then(written)),
    flush: () => settled(link.call({ op: 'audit.flush' }).then(written)),
    async close() { /* the primary closes the chain */ },
    get head() { return head; },
    get durableHead() { return head; },
  };
}
