import t from 'tap';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { ArrayHistogram } from '../../src/audit/array-histogram.ts';

const BUCKETS = [0.01, 0.1, 1];
const VALUES = [0.005, 0.01, 0.05, 0.1, 0.5, 2, 0];

function both() {
  const a = new Registry();
  const b = new Registry();
  const ours = new ArrayHistogram({ name: 'h_seconds', help: 'h', labelName: 'route', buckets: BUCKETS, registry: a });
  const theirs = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['route'] as const, buckets: BUCKETS, registers: [b] });
  return { a, b, ours, theirs };
}

t.test('the exposition text is what prom-client writes for the same observations', async (t) => {
  const { a, b, ours, theirs } = both();
  const app = ours.series('app');
  ours.series('idle');
  theirs.zero({ route: 'app' });
  theirs.zero({ route: 'idle' });
  for (const v of VALUES) {
    app.observe(v);
    theirs.labels('app').observe(v);
  }
  t.equal(await a.metrics(), await b.metrics());
  t.match(await a.metrics(), /^h_seconds_bucket\{le="0.01",route="app"\} 3$/m, 'a value equal to a bound counts in that bucket (le)');
  t.match(await a.metrics(), /^h_seconds_bucket\{le="\+Inf",route="app"\} 7$/m);
  t.match(await a.metrics(), /^h_seconds_count\{route="idle"\} 0$/m, 'a series shows at zero before any observation');
});

t.test('workers aggregate like prom-client histograms (summed per bucket)', async (t) => {
  const one = both();
  const two = both();
  one.ours.series('app').observe(0.05);
  two.ours.series('app').observe(0.5);
  one.theirs.labels('app').observe(0.05);
  two.theirs.labels('app').observe(0.5);
  const ours = AggregatorRegistry.aggregate([await one.a.getMetricsAsJSON(), await two.a.getMetricsAsJSON()]);
  const theirs = AggregatorRegistry.aggregate([await one.b.getMetricsAsJSON(), await two.b.getMetricsAsJSON()]);
  t.equal(await ours.metrics(), await theirs.metrics());
  t.match(await ours.metrics(), /^h_seconds_bucket\{le="1",route="app"\} 2$/m);
});

t.test('reset zeroes every series', async (t) => {
  const { a, ours } = both();
  ours.series('app').observe(0.05);
  ours.reset();
  t.match(await a.metrics(), /^h_seconds_count\{route="app"\} 0$/m);
});

t.test('its output is plain data: a worker sends it to the primary by structured clone (IPC)', async (t) => {
  const { a, ours } = both();
  ours.series('app').observe(0.05);
  const json = await a.getMetricsAsJSON();
  t.same(structuredClone(json), json);
});
