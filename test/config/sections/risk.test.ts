import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sectionTable } from './section-table.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-risk-cfg-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const cityDb = file('city.mmdb', 'stand-in: only its existence is checked at load');
const risky = file('risky.txt', '# Tor exits (example)\n203.0.113.0/24\n\n198.51.100.7   # one address\n2001:db8:bad::/48\n');
const badRisky = file('bad-risky.txt', '203.0.113.0/24\n203.0.113.0/33\n');
const places = file('places.txt', '# office ranges\n10.1.0.0/16 48.8566 2.3522 fr\n81.2.69.0/24, 51.5, -0.13\n');
const badPlace = (n: number, line: string): string => file(`bad-places-${n}.txt`, `10.1.0.0/16 48.8 2.3\n${line}\n`);

const DEFAULTS = {
  enabled: true,
  signals: { new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60 },
  rules: [], relax_routine_below: 0, mode: 'enforce', risky_networks: [], remember_networks: 90 * 86_400_000, risky_cidrs: [], places: [],
};

sectionTable(t, 'risk', [
  { name: 'absent: off', yaml: '', want: { ...DEFAULTS, enabled: false } },
  { name: 'present but empty: on with defaults', yaml: 'risk: {}\n', want: DEFAULTS },
  {
    name: 'default weights, an mfa and a deny rule, relaxation',
    yaml: 'risk:\n  signals: { new_device: 20, new_network: 10, new_country: 40, impossible_travel: 80, recent_failures: 30, risky_network: 60 }\n  rules:\n    - { above: 50, require: mfa, max_age: 0 }\n    - { above: 90, require: deny }\n  relax_routine_below: 10\n  mode: enforce\n',
    want: { ...DEFAULTS, rules: [{ above: 50, require: 'mfa', max_age: 0 }, { above: 90, require: 'deny' }], relax_routine_below: 10 },
  },
  {
    name: 'a signal left out keeps its default; report mode; files read',
    yaml: `risk:\n  signals: { new_country: 0 }\n  mode: report\n  geoip_db: ${cityDb}\n  remember_networks: 30d\n  risky_networks: [${risky}]\n  locations: ${places}\n`,
    want: {
      ...DEFAULTS, signals: { ...DEFAULTS.signals, new_country: 0 }, mode: 'report', geoip_db: cityDb, remember_networks: 30 * 86_400_000,
      risky_networks: [risky], risky_cidrs: ['203.0.113.0/24', '198.51.100.7/32', '2001:db8:bad::/48'], locations: places,
      places: [{ cidr: '10.1.0.0/16', lat: 48.8566, lon: 2.3522, country: 'FR' }, { cidr: '81.2.69.0/24', lat: 51.5, lon: -0.13 }],
    },
    partial: true,
  },
  { name: 'schema: unknown signal', yaml: 'risk:\n  signals: { new_planet: 5 }\n', issues: { 'risk.signals.new_planet': [2, /./] } },
  { name: 'schema: negative weight', yaml: 'risk:\n  signals: { new_device: -1 }\n', issues: { 'risk.signals.new_device': [2, /must be >= 0/] } },
  { name: 'schema: rule without a bar', yaml: 'risk:\n  rules:\n    - { require: mfa }\n', issues: { 'risk.rules[0].above': [3, /./] } },
  { name: 'schema: unknown requirement', yaml: 'risk:\n  rules:\n    - { above: 5, require: login }\n', issues: { 'risk.rules[0].require': [3, /must be one of/] } },
  { name: 'max_age on a deny rule', yaml: 'risk:\n  rules:\n    - { above: 5, require: deny, max_age: 5m }\n', issues: { 'risk.rules[0].max_age': [3, /only meaningful with require: mfa/] } },
  { name: 'a policy rule may not take the risk rule id', yaml: 'policy:\n  rules:\n    - { id: risk, match: { path: /x }, require: mfa }\nrisk: {}\n', issues: { 'policy.rules[0].id': [3, /^"risk" is reserved for the decisions of the risk section; choose another id$/] } },
  { name: 'nor with the risk section off: reserved ids are refused whatever is on', yaml: 'policy:\n  rules:\n    - { id: risk, match: { path: /x }, require: mfa }\n', issues: { 'policy.rules[0].id': [3, /^"risk" is reserved for the decisions of the risk section; choose another id$/] } },
  { name: 'a GeoIP database that does not exist', yaml: `risk:\n  geoip_db: ${dir}/none.mmdb\n`, issues: { 'risk.geoip_db': [2, /no file .*none\.mmdb/] } },
  { name: 'schema: bad mode', yaml: 'risk:\n  mode: audit\n', issues: { 'risk.mode': [2, /must be one of/] } },
  { name: 'a risky file that does not exist', yaml: `risk:\n  risky_networks: [${dir}/none.txt]\n`, issues: { 'risk.risky_networks[0]': [2, /cannot read .*none\.txt/] } },
  { name: 'a bad line in a risky file', yaml: `risk:\n  risky_networks: [${badRisky}]\n`, issues: { 'risk.risky_networks[0]': [2, /bad-risky\.txt line 2: "203\.0\.113\.0\/33" must be an IP address or CIDR/] } },
  ...([
    ['10.2.0.0/16 91 2', /bad-places-1\.txt line 2: latitude "91" must be a number from -90 to 90/],
    ['10.2.0.0/16 1 200', /line 2: longitude "200" must be a number from -180 to 180/],
    ['not-an-ip 1 2', /line 2: "not-an-ip" is not an IP address or CIDR/],
    ['10.3.0.0/16 1 2 FRA', /line 2: country "FRA" must be a two-letter ISO 3166 code/],
    ['10.3.0.0/16 1 2 FR extra', /line 2: expected CIDR LAT LON \[COUNTRY\]/],
    ['10.3.0.0/99 1 2', /line 2: "10\.3\.0\.0\/99" must be an IP address or CIDR/],
    ['10.3.0.0/16', /line 2: latitude "" must be a number/],
  ] as const).map(([line, message], i) => ({ name: `a bad locations line: ${line}`, yaml: `risk:\n  locations: ${badPlace(i + 1, line)}\n`, issues: { 'risk.locations': [2, message] as [number, RegExp] } })),
]);
