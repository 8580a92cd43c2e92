// The edge of adaptive MFA: what a sign-in's risk signals are made of (the
// store's remembered places, GeoIP, the failure count, the browser's
// remembered device), gathered here and handed to the pure functions of
// policy/risk-signals.ts and policy/risk.ts. Nothing decides here: the
// session keeps the facts and policy/decide.ts judges every request by them.
//
// A place is remembered (a network becomes known) only once the sign-in from
// it is vouched for: at once when the risk rules asked for nothing (or in
// report mode), after a passed second factor when they asked for one
// (session.risk.place, recorded by `rememberPlace`), never when they denied.
// So a stolen password from a new network does not make that network known.
// A sign-in the rules deny (enforce mode) is refused: no session starts.

import type { RiskAudit } from '../audit/events.ts';
import type { RiskConfig } from '../config/types.ts';
import { observeSignIn, type Observed } from '../policy/risk-signals.ts';
import { networkOf } from '../policy/address-prefix.ts';
import { decisionSignals, LIVE_SIGNALS, riskOutcome, scoreSignals, type CompiledRisk } from '../policy/risk.ts';
import type { SignInPlace, Store } from '../store/types.ts';
import type { GeoLocator, Located } from './geo-locator.ts';
import type { SessionRisk } from './session-data.ts';

export interface RiskSources {
  store: Pick<Store, 'listSignInPlaces'>;
  geo: GeoLocator;
  compiled: CompiledRisk;
  config: Pick<RiskConfig, 'remember_networks' | 'mode'>;
}


export interface SignInRisk {
  session: SessionRisk;
  audit: RiskAudit;
  /** The place to remember at once (null: after a passed factor, or never). */
  recordNow: SignInPlace | null;
  /** The sign-in's country when no remembered sign-in was from it (the user is told). */
  newCountry: string | null;
  /** The risk rules deny this sign-in (enforce mode): it is refused, no session starts (session/sign-in.ts). */
  refused: boolean;
}

export interface SignInWho {
  user: string;
  ip: string;
  /** Failed first-factor attempts of the account just before this sign-in. */
  failures: number;
  /** The browser carries a remembered device of this user. */
  deviceKnown: boolean;
  now: number;
}

/** The signals of a sign-in from `who.ip` now, without judging them. */
export async function observe(src: Pick<RiskSources, 'store' | 'geo' | 'config'>, who: Omit<SignInWho, 'deviceKnown'>): Promise<{ observed: Observed; located: Located; network: string | null }> {
  const history = await src.store.listSignInPlaces(who.user);
  const located = src.geo.locate(who.ip);
  const network = networkOf(who.ip);
  const observed = observeSignIn(history, { network, ...located, at: who.now, failures: who.failures }, who.now - src.config.remember_networks);
  return { observed, located, network };
}

export async function assessSignIn(src: RiskSources, who: SignInWho): Promise<SignInRisk> {
  const { observed, located, network } = await observe(src, who);
  const kept = observed.signals.filter((s) => !LIVE_SIGNALS.includes(s));
  const all = decisionSignals(src.compiled, { remembered_device: who.deviceKnown, risk: { at: who.now, signals: kept } }, who.ip);
  const { score, signals } = scoreSignals(src.compiled.weights, all);
  const outcome = riskOutcome(src.compiled, score);
  const place: SignInPlace | null = network === null ? null : { network, country: located.country, lat: located.lat, lon: located.lon, at: who.now };
  const enforced = src.config.mode === 'enforce';
  const session: SessionRisk = { at: who.now, signals: kept };
  if (place !== null && enforced && outcome === 'mfa') session.place = place;
  const audit: RiskAudit = { score, signals, outcome, mode: src.config.mode };
  if (observed.unavailable.length > 0) audit.unavailable = observed.unavailable;
  if (located.country !== null) audit.country = located.country;
  if (network !== null) audit.network = network;
  if (observed.travel) audit.travel = observed.travel;
  return {
    session,
    audit,
    recordNow: place !== null && (!enforced || outcome === 'none' || outcome === 'relax') ? place : null,
    newCountry: signals.includes('new_country') ? located.country : null,
    refused: enforced && outcome === 'deny',
  };
}

/** Remembers a vouched-for sign-in place, forgetting the user's places older than the window. */
export async function rememberPlace(store: Pick<Store, 'recordSignInPlace'>, config: Pick<RiskConfig, 'remember_networks'>, user: string, place: SignInPlace, now: number): Promise<void> {
  await store.recordSignInPlace(user, place, now - config.remember_networks);
}
