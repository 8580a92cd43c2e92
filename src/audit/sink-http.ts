// The HTTP sink: batches of audit records POSTed as JSON lines, in the shape
// the receiver expects. A batch counts as sent only on a 2xx answer (and, for
// Elasticsearch's bulk API, with no item errors); anything else is retried.
//   ndjson  one record per line (Vector, Fluent Bit, Logstash http input)
//   splunk  HTTP Event Collector events, one JSON object per record
//   elastic _bulk body: a create action before each record (with @timestamp)
//   loki    one push request, the records as lines of one stream per instance
import type { AuditHttpSink } from '../config/types.ts';
import type { AuditSink } from './forward.ts';

const TIMEOUT_MS = 15_000;

/** The request body and content type for a batch in `format`. */
export function httpSinkBody(format: AuditHttpSink['format'], lines: readonly string[], fallbackInstance: string): { body: string; type: string } {
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  switch (format) {
    case 'ndjson':
      return { body: lines.map((l) => `${l}\n`).join(''), type: 'application/x-ndjson' };
    case 'splunk':
      return {
        body: records().map((r) => JSON.stringify({
          time: Date.parse(String(r.ts)) / 1000, host: r.instance ?? fallbackInstance, source: 'gatehouse', sourcetype: 'gatehouse:audit', event: r,
        })).join('\n'),
        type: 'application/json',
      };
    case 'elastic':
      return { body: records().map((r) => `{"create":{}}\n${JSON.stringify({ '@timestamp': r.ts, ...r })}\n`).join(''), type: 'application/x-ndjson' };
    case 'loki': {
      const streams = new Map<string, [string, string][]>();
      for (const [i, r] of records().entries()) {
        const inst = String(r.instance ?? fallbackInstance);
        const ns = `${BigInt(Date.parse(String(r.ts))) * 1_000_000n}`;
        streams.set(inst, [...(streams.get(inst) ?? []), [ns, lines[i]]]);
      }
      return {
        body: JSON.stringify({ streams: [...streams].map(([instance, values]) => ({ stream: { job: 'gatehouse-audit', instance }, values })) }),
        type: 'application/json',
      };
    }
  }
}

export function createHttpSink(cfg: AuditHttpSink, fallbackInstance: string): AuditSink {
  return {
    name: 'http',
    async send(lines) {
      const { body, type } = httpSinkBody(cfg.format, lines, fallbackInstance);
      const res = await fetch(cfg.url, {
        method: 'POST', body, headers: { ...cfg.headers, 'content-type': type }, signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP sink ${new URL(cfg.url).host} answered ${res.status}: ${text.slice(0, 200)}`);
      if (cfg.format === 'elastic' && /"errors"\s*:\s*true/.test(text)) throw new Error(`HTTP sink ${new URL(cfg.url).host}: bulk request had item errors`);
    },
    close() { /* fetch keeps no state of ours */ },
  };
}
