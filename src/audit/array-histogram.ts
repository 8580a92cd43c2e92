// A Prometheus histogram counted in plain arrays and folded at scrape.
// prom-client's Histogram checks and hashes the label values on every observe
// (~1 µs, about 2% of an allowed request's CPU); here a series is made once per
// label value and an observation is an index scan and two additions. Its output (get) is the shape prom-client
// gives its own histograms, so the exposition text and the cluster aggregation
// (AggregatorRegistry, cluster/primary.ts) treat it as one of them.
import type { MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

export interface HistogramSeries {
  observe(value: number): void;
}

interface Series { labels: Record<string, string>; counts: Float64Array; sum: number; count: number }

export class ArrayHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #series = new Map<string, Series>();
  readonly name: string;
  readonly help: string;
  readonly labelName: string;
  readonly buckets: readonly number[];

  constructor(o: { name: string; help: string; labelName: string; buckets: readonly number[]; registry: Registry }) {
    this.name = o.name;
    this.help = o.help;
    this.labelName = o.labelName;
    this.buckets = o.buckets;
    const registry = o.registry;
    // The registry takes any metric with this shape (name, help, type, get, reset).
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for one label value, created at zero (it shows from the first scrape). */
  series(value: string): HistogramSeries {
    let s = this.#series.get(value);
    if (s === undefined) {
      s = { labels: { [this.labelName]: value }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.#series.set(value, s);
    }
    const series = s;
    const bounds = this.buckets;
    return {
      observe(v) {
        // A value counts in the first bucket whose upper bound is at least the value (le); larger ones only in +Inf.
        let i = 0;
        while (i < bounds.length && v > bounds[i]) i++;
        series.counts[i] += 1;
        series.sum += v;
        series.count += 1;
      },
    };
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i];
        values.push({ labels: { le: this.buckets[i], ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    // Plain data only: workers send it to the primary over IPC (structured clone), where a function would not pass.
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
