// The signals of one sign-in from what the store remembers of the user's
// earlier sign-ins and what is known of this one (network, country, place,
// failed attempts). Pure: the edge (session/risk-observer.ts) reads the store
// and the GeoIP database and passes the values; policy/risk.ts scores them.
//
// - new_network: the client's /24 (IPv4) or /48 (IPv6) is not among the
//   networks of the user's sign-ins in the window (risk.remember_networks).
// - new_country: the client's country is known and none of the window's
//   sign-ins was from it.
//   Both need a baseline: a user with no sign-in in the window (the first
//   ever) raises neither; what they would compare against does not exist.
// - impossible_travel: from the place of the previous sign-in to this one
//   faster than 1,000 km/h. Needs coordinates for both (a city database or
//   the operator's locations file); without them the signal is unavailable,
//   not raised. GeoIP places are approximate, so two places less than 300 km
//   apart never count.
// - recent_failures: at least 3 failed first-factor attempts for the account
//   before this sign-in (the throttle's consecutive count, kept 24 h).
// - new_device and risky_network are judged per decision (policy/risk.ts).

import type { RiskSignal } from '../config/sections/risk.ts';

export const TRAVEL_KMH = 1000;
export const MIN_TRAVEL_KM = 300;
export const FAILURES_AT = 3;

/** One remembered sign-in place: the newest sign-in from a network. */
export interface SignInPlace {
  network: string;
  country: string | null;
  lat: number | null;
  lon: number | null;
  /** unix ms of the newest sign-in from this network */
  at: number;
}

/** This sign-in as the edge sees it. */
export interface SignInObservation {
  network: string | null;          // networkOf(ip); null when the address is unknown
  country: string | null;
  lat: number | null;
  lon: number | null;
  at: number;
  /** Failed first-factor attempts of the account before this one. */
  failures: number;
}

export interface Observed {
  signals: RiskSignal[];
  /** Signals that could not be judged for want of data (for the audit line and `explain`). */
  unavailable: RiskSignal[];
  /** The move from the previous sign-in, when both places are known. */
  travel?: { km: number; hours: number; from: string };
}

export function observeSignIn(history: readonly SignInPlace[], o: SignInObservation, since: number): Observed {
  const recent = history.filter((p) => p.at >= since);
  const signals: RiskSignal[] = [];
  const unavailable: RiskSignal[] = [];
  if (o.network === null) unavailable.push('new_network');
  else if (recent.length > 0 && !recent.some((p) => p.network === o.network)) signals.push('new_network');
  const countries = recent.flatMap((p) => (p.country === null ? [] : [p.country]));
  if (o.country === null) unavailable.push('new_country');
  else if (countries.length > 0 && !countries.includes(o.country)) signals.push('new_country');

  const out: Observed = { signals, unavailable };
  const previous = recent.reduce<SignInPlace | undefined>((a, p) => (a === undefined || p.at > a.at ? p : a), undefined);
  if (previous !== undefined) {
    if (previous.lat === null || previous.lon === null || o.lat === null || o.lon === null) unavailable.push('impossible_travel');
    else {
      const km = distanceKm(previous.lat, previous.lon, o.lat, o.lon);
      const hours = Math.max(0, o.at - previous.at) / 3_600_000;
      out.travel = { km: Math.round(km), hours: Math.round(hours * 100) / 100, from: previous.network };
      if (km >= MIN_TRAVEL_KM && (hours === 0 || km / hours > TRAVEL_KMH)) signals.push('impossible_travel');
    }
  }
  if (o.failures >= FAILURES_AT) signals.push('recent_failures');
  return out;
}

/** Great-circle distance (haversine, mean Earth radius 6,371 km). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
