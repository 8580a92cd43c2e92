// Where a new checkpoint goes besides the operator endpoint: a webhook (POST of
// the checkpoint JSON) and/or the alert mailbox through the notifier. A copy
// off the gateway's disk is the point: whoever can cut the log's tail cannot
// reach it. A failed send is reported; the next checkpoint is sent anyway.
import type { AuditCheckpointConfig } from '../config/types.ts';
import type { Checkpoint } from './checkpoint.ts';

export interface CheckpointMail {
  send(msg: { to: string; subject: string; text: string; kind: string; data?: Record<string, unknown> }): Promise<void>;
}

export function checkpointPublisher(
  cfg: AuditCheckpointConfig,
  alertEmail: string | undefined,
  mail: CheckpointMail,
  onError: (err: Error, where: string) => void,
): (cp: Checkpoint) => void {
  return (cp) => {
    if (cfg.webhook !== undefined) {
      const url = cfg.webhook;
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cp), signal: AbortSignal.timeout(10_000) })
        .then(async (res) => {
          await res.body?.cancel();
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
        })
        .catch((err: Error) => onError(err, 'checkpoint webhook'));
    }
    if (cfg.email && alertEmail !== undefined) {
      mail.send({
        to: alertEmail,
        subject: `Audit checkpoint: ${cp.instance} seq ${cp.seq}`,
        text: `Keep this message: it lets "gatehouse audit verify --checkpoint FILE" prove that no audit records up to seq ${cp.seq} were cut off.\n\n${JSON.stringify(cp)}\n`,
        kind: 'audit_checkpoint',
        data: { ...cp },
      }).catch((err: Error) => onError(err, 'checkpoint email'));
    }
  };
}
