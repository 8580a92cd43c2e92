import t from 'tap';
import { CHAIN_ORIGIN, ChainVerifier, ZERO_HASH, claimedStart, formatLine, parseRecord, splitLines, verifyLines } from '../../src/audit/chain.ts';

const TS = '2026-11-22T15:30:00.000Z';

/** n records u1..un of a fresh chain. */
function chain(n: number): string[] {
  const lines: string[] = [];
  let prev = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const { line, hash } = formatLine(prev, seq, TS, { event: 'signin.success', user: `u${seq}`, ip: '10.0.0.1' });
    lines.push(line);
    prev = hash;
  }
  return lines;
}

t.test('line format: fixed field order, sealed, linked', async (t) => {
  const a = formatLine(ZERO_HASH, 1, TS, { event: 'factor.enrolled', user: 'alice', factor: 'totp' });
  t.match(a.line, /^\{"seq":1,"ts":"2026-11-22T15:30:00.000Z","prev":"0{64}","event":"factor.enrolled","user":"alice","factor":"totp","hash":"[0-9a-f]{64}"\}$/);
  t.equal(JSON.parse(a.line).hash, a.hash, 'the hash field is the hash the next record links to');
  const b = formatLine(a.hash, 2, TS, { event: 'signout', user: 'alice' });
  t.equal(JSON.parse(b.line).prev, a.hash);
  t.same(formatLine(ZERO_HASH, 1, TS, { event: 'factor.enrolled', user: 'alice', factor: 'totp' }), a, 'deterministic');
  t.notOk(a.line.includes('\n'));
});

t.test('non-ASCII values are escaped, so a line is printable ASCII and round-trips', async (t) => {
  const { line } = formatLine(ZERO_HASH, 1, TS, { event: 'signin.failure', user: 'Zoë 😀\u2028', reason: 'x\ny\u007f' });
  t.match(line, /^[\x20-\x7e]+$/);
  const parsed = parseRecord(line);
  t.ok(parsed.ok);
  if (parsed.ok) t.equal(parsed.record.fields.user, 'Zoë 😀\u2028');
  t.equal(verifyLines([line], CHAIN_ORIGIN).ok, true);
});

t.test('formatLine refuses bad input', async (t) => {
  t.throws(() => formatLine(ZERO_HASH, 1, TS, { event: 'x', seq: 5 } as { event: string }), /reserved/);
  t.throws(() => formatLine(ZERO_HASH, 1, TS, { event: 'x', hash: 'h' } as { event: string }), /reserved/);
  t.throws(() => formatLine('abc', 1, TS, { event: 'x' }), /prev hash/);
  t.throws(() => formatLine(ZERO_HASH, 0, TS, { event: 'x' }), /seq/);
  t.throws(() => formatLine(ZERO_HASH, 1, TS, { event: '' }), /event name/);
});

t.test('a chain of 10,000 records verifies', async (t) => {
  const lines = chain(10_000);
  const r = verifyLines(lines, CHAIN_ORIGIN);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.count, 10_000);
  t.equal(r.last.seq, 10_000);
  t.equal(r.last.hash, JSON.parse(lines[9_999]).hash);
  t.same(r.warnings, []);
  // Continuing from a head composes: the second half verifies from the first half's head.
  const first = verifyLines(lines.slice(0, 4_000), CHAIN_ORIGIN);
  t.ok(first.ok);
  if (first.ok) t.same(verifyLines(lines.slice(4_000), first.last), { ok: true, count: 6_000, last: r.last, warnings: [] });
});

t.test('single-line tampering is found on the right line', async (t) => {
  const N = 10;
  const positions = { first: 1, middle: 5, last: N };
  const forged = (lines: string[], k: number) =>
    // A record with a valid seal, the right seq and the right prev: only the next line can tell.
    formatLine(k === 1 ? ZERO_HASH : JSON.parse(lines[k - 2]).hash, k, TS, { event: 'signin.success', user: 'mallory' }).line;
  const cases: { name: string; tamper: (lines: string[], k: number) => string[]; at: (k: number) => number; reason: RegExp; skipLast?: boolean }[] = [
    { name: 'edit a value', tamper: (l, k) => l.map((x, i) => (i === k - 1 ? x.replace(`"u${k}"`, '"mallory"') : x)), at: (k) => k, reason: /content does not match its hash/ },
    { name: 'edit the hash too', tamper: (l, k) => l.map((x, i) => (i === k - 1 ? x.replace(/"hash":"[0-9a-f]/, '"hash":"f') : x)), at: (k) => k, reason: /content does not match its hash|hash is not/ },
    { name: 'break the JSON', tamper: (l, k) => l.map((x, i) => (i === k - 1 ? x.slice(0, -1) : x)), at: (k) => k, reason: /bad JSON/ },
    { name: 'add a raw byte', tamper: (l, k) => l.map((x, i) => (i === k - 1 ? x.replace('u', '\u00fc') : x)), at: (k) => k, reason: /bad bytes/ },
    { name: 'delete', tamper: (l, k) => l.filter((_, i) => i !== k - 1), at: (k) => k, reason: /seq \d+ where \d+ was expected \(a record is missing/, skipLast: true },
    { name: 'insert a copy of another line', tamper: (l, k) => [...l.slice(0, k - 1), l[(k + 3) % N], ...l.slice(k - 1)], at: (k) => k, reason: /seq \d+ where \d+ was expected/ },
    { name: 'insert a blank line', tamper: (l, k) => [...l.slice(0, k - 1), '', ...l.slice(k - 1)], at: (k) => k, reason: /bad JSON: empty line/ },
    { name: 'insert a forged record', tamper: (l, k) => [...l.slice(0, k - 1), forged(l, k), ...l.slice(k - 1)], at: (k) => k + 1, reason: /repeated or out of order/, skipLast: true },
    { name: 'swap with the next line', tamper: (l, k) => { const c = [...l]; const j = k === N ? k - 2 : k - 1; [c[j], c[j + 1]] = [c[j + 1], c[j]]; return c; }, at: (k) => (k === N ? k - 1 : k), reason: /seq \d+ where \d+ was expected/ },
  ];
  for (const c of cases) {
    for (const [where, k] of Object.entries(positions)) {
      if (c.skipLast && k === N) continue;
      const r = verifyLines(c.tamper(chain(N), k), CHAIN_ORIGIN);
      t.match(r, { ok: false, line: c.at(k), reason: c.reason }, `${c.name}, ${where} line`);
    }
  }
  // Swapping the first two lines: line 1 has seq 2.
  t.match(verifyLines([chain(3)[1], chain(3)[0], chain(3)[2]], CHAIN_ORIGIN), { ok: false, line: 1 });
});

t.test('cutting whole lines off the end is invisible to the chain alone', async (t) => {
  // Documented limit: only a head recorded elsewhere (verify --anchor) catches it.
  const lines = chain(10);
  const r = verifyLines(lines.slice(0, 9), CHAIN_ORIGIN);
  t.match(r, { ok: true, count: 9 });
  if (r.ok) t.not(r.last.hash, JSON.parse(lines[9]).hash, 'but the head moved, which an anchor shows');
});

t.test('a truncated tail is a warning, not tampering', async (t) => {
  const lines = chain(5);
  const text = lines.join('\n') + '\n' + lines[0].slice(0, 40);
  const { lines: complete, tail } = splitLines(text);
  t.equal(complete.length, 5);
  const r = verifyLines(complete, CHAIN_ORIGIN, tail);
  t.match(r, { ok: true, count: 5 });
  if (r.ok) {
    t.equal(r.warnings.length, 1);
    t.match(r.warnings[0], /^line 6: truncated tail \(40 bytes/);
  }
  t.same(splitLines(lines.join('\n') + '\n').tail, '', 'a clean end has no tail');
  // A full record without its newline is still a tail (the writer cuts it).
  t.match(verifyLines(lines.slice(0, 4), CHAIN_ORIGIN, lines[4]), { ok: true, count: 4 });
});

t.test('the first record of a chain must start at the origin', async (t) => {
  const lines = chain(3);
  t.match(verifyLines(lines.slice(1), CHAIN_ORIGIN), { ok: false, line: 1, reason: /seq 2 where 1 was expected/ });
  t.match(claimedStart(lines[0]), { ok: true, start: CHAIN_ORIGIN });
  t.match(claimedStart(lines[1]), { ok: false, reason: /neither starts a chain nor names its predecessor/ });
  const rotated = formatLine(JSON.parse(lines[2]).hash, 4, TS, { event: 'audit.rotated', file_prev: 'audit.log.20261122T153000Z' });
  t.same(claimedStart(rotated.line), { ok: true, start: { hash: JSON.parse(lines[2]).hash, seq: 3 }, filePrev: 'audit.log.20261122T153000Z' });
  t.match(claimedStart('nope'), { ok: false, reason: /bad JSON/ });
});

t.test('the streaming verifier stops at the first break', async (t) => {
  const lines = chain(4);
  const v = new ChainVerifier(CHAIN_ORIGIN);
  t.equal(v.push(lines[0]), undefined);
  t.match(v.push(lines[2]), { line: 2 });
  t.match(v.push(lines[1]), { line: 2 }, 'stays broken');
  t.match(v.end(), { ok: false, line: 2 });
});
