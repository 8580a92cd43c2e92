// A second writer (the CLI's `mfa reset` beside a running gateway) appends to
// the same audit file: the gateway continues the chain after it, re-linking
// what it had queued, so `audit verify` still passes.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditLog } from '../../src/audit/audit-log.ts';
import { CHAIN_ORIGIN, splitLines, verifyLines } from '../../src/audit/chain.ts';

t.test('the chain survives an append by another process', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'gh-audit-')), 'audit.log');
  const gateway = await openAuditLog({ path, maxBytes: 1 << 20, flushIntervalMs: 10_000 });
  gateway.write({ event: 'signin.success', user: 'alice' });
  await gateway.flush();
  gateway.write({ event: 'signin.success', user: 'bob' });           // queued, formatted on the old head
  const cli = await openAuditLog({ path, maxBytes: 1 << 20 });
  cli.write({ event: 'mfa.reset', user: 'carol', by: 'ops', approved_by: 'alice' });
  await cli.close();
  gateway.write({ event: 'signout', user: 'alice' });
  await gateway.close();
  const { lines, tail } = splitLines(readFileSync(path, 'latin1'));
  t.equal(tail, '');
  t.same(lines.map((l) => JSON.parse(l).event), ['signin.success', 'mfa.reset', 'signin.success', 'signout']);
  const r = verifyLines(lines, CHAIN_ORIGIN);
  t.ok(r.ok, `chain verifies: ${JSON.stringify(r)}`);
});
