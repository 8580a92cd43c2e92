// The audit trail of one hash chain: the log file, its signed checkpoints and
// its forwarding to a SIEM, opened together because the last two follow the
// log's flushes. One process writes a chain (audit-log.ts): the gateway, or,
// with server.workers above 1, the primary (src/cluster/primary.ts), which the
// workers send their records to.

import type { Config } from '../config/types.ts';
import { configuredAuditLog, openAuditLog, type AuditLog } from './audit-log.ts';
import { createCheckpointer, type Checkpoint, type Checkpointer, type CheckpointSigner } from './checkpoint.ts';
import { checkpointPublisher, type CheckpointMail } from './publish-checkpoint.ts';
import { openForwarder } from './open-forwarder.ts';
import type { Forwarder } from './forward.ts';

/** Where the trail reports its own troubles (the process log). */
export interface TrailLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AuditTrail {
  audit: AuditLog;
  /** Starts checkpoints and forwarding once the signer exists; `onCheckpoint` hears each new checkpoint. */
  start(signer: CheckpointSigner, mail: CheckpointMail, onCheckpoint?: (cp: Checkpoint) => void): Checkpointer;
  /** Signs the last head, stops forwarding, closes the file. */
  close(): Promise<void>;
}

export async function openAuditTrail(config: Config, log: TrailLog): Promise<AuditTrail> {
  let checkpoints: Checkpointer | undefined;
  let forwarder: Forwarder | undefined;
  const audit = await openAuditLog({
    ...configuredAuditLog(config),
    onError: (err: Error) => log.error({ err }, 'audit log write failed'),
    onFlushed: (head) => {
      checkpoints?.flushed(head);
      forwarder?.notify();
    },
  });

  function start(signer: CheckpointSigner, mail: CheckpointMail, onCheckpoint?: (cp: Checkpoint) => void): Checkpointer {
    const publish = checkpointPublisher(config.audit.checkpoint, config.audit.alert_email, mail, (err, where) => log.error({ err: err.message }, `${where} failed`));
    checkpoints = createCheckpointer({
      log: audit, signer, instance: config.server.instance_id,
      lines: config.audit.checkpoint.lines, everyMs: config.audit.checkpoint.every,
      publish: (cp) => { publish(cp); onCheckpoint?.(cp); },
      onError: (err) => log.error({ err }, 'audit checkpoint failed'),
    });
    forwarder = openForwarder(config, audit, {
      queueFull(sink, unsentBytes) {
        // Nothing is dropped (the audit files are the queue), but the SIEM is falling behind: say so everywhere.
        log.error({ sink, unsent_bytes: unsentBytes }, 'audit forwarding: the sink is down and its backlog passed audit.forward.queue_max');
        void audit.write({ event: 'audit.forward_queue_full', sink, unsent_bytes: unsentBytes });
        const to = config.audit.alert_email;
        if (to) {
          mail.send({
            to, kind: 'audit_forward_queue_full', subject: `Audit forwarding to ${sink} is failing`,
            text: `The audit sink "${sink}" has not accepted records for a while; ${unsentBytes} bytes wait on disk (nothing is dropped). Check the sink.
`,
          }).catch((err: Error) => log.error({ err: err.message }, 'audit forwarding alert not sent'));
        }
      },
      error: (sink, err) => log.warn({ sink, err: err.message }, 'audit forwarding: send failed; retrying'),
    });
    forwarder?.notify();
    return checkpoints;
  }

  async function close(): Promise<void> {
    checkpoints?.stop();
    await checkpoints?.checkpoint(); // the last head, signed, before the file closes
    await forwarder?.close();
    await audit.close();
  }

  return { audit, start, close };
}
