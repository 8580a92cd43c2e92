import t from 'tap';
import { parseByteSize, parseDuration } from '../../src/config/duration.ts';

t.test('parseDuration accepts units and combinations', async (t) => {
  const table: Array<[string | number, number]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1s500ms', 1_500],
    [' 10s ', 10_000],
    ['0', 0],
    [0, 0],
  ];
  for (const [input, ms] of table) t.equal(parseDuration(input), ms, JSON.stringify(input));
});

t.test('parseDuration rejects anything else with a clear message', async (t) => {
  const table: Array<[string | number, RegExp]> = [
    [30, /needs a unit.*30s/],
    ['30', /needs a unit/],
    ['', /empty duration/],
    ['10x', /invalid duration "10x".*units ms, s, m, h, d, w/],
    ['1.5h', /invalid duration/],
    ['-5s', /invalid duration/],
    ['5 s', /invalid duration/],
    ['1h1h', /"h" appears twice/],
    ['h', /invalid duration/],
    ['99999999999999999w', /too large/],
  ];
  for (const [input, message] of table) t.throws(() => parseDuration(input), { message }, JSON.stringify(input));
});

t.test('parseByteSize', async (t) => {
  const ok: Array<[string | number, number]> = [
    [16384, 16384],
    [0, 0],
    ['16384', 16384],
    ['512KiB', 524_288],
    ['1MiB', 1_048_576],
    ['1GiB', 1_073_741_824],
    ['64MiB', 67_108_864],
    ['10MB', 10_000_000],
    ['1kb', 1_000],
    ['1.5KiB', 1_536],
    ['100B', 100],
  ];
  for (const [input, bytes] of ok) t.equal(parseByteSize(input), bytes, JSON.stringify(input));
  for (const bad of ['1 parsec', '', 'MiB', '-1MiB', '0.3B', -1, 1.5]) {
    t.throws(() => parseByteSize(bad), { message: /invalid size/ }, JSON.stringify(bad));
  }
});
