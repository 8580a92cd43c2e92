// The loaded, validated configuration. It mirrors the YAML keys (snake_case) so
// an operator's file and the code read alike; every default is filled in and
// every duration is a number of milliseconds.
//
// Each section's shape is written once, as a type in its file under
// sections/, beside its schema (the file as written) and its builder (defaults
// and checks). The schema's keys are checked against the type by the compiler
// (`satisfies PropertiesOf<...>`, schema-kit.ts), and the allowed values of
// every choice are one `as const` list that gives the schema's `enum`, the
// type and `Reader.oneOf`. This file gathers the section types.

import type { AuditConfig } from './sections/audit.ts';
import type { BrandingConfig } from './sections/branding.ts';
import type { FactorsConfig } from './sections/factors.ts';
import type { HeadersConfig } from './sections/headers.ts';
import type { IdentityConfig } from './sections/identity.ts';
import type { NotifierConfig } from './sections/notifier.ts';
import type { PolicyConfig } from './sections/policy.ts';
import type { RiskConfig } from './sections/risk.ts';
import type { RolloutConfig } from './sections/rollout.ts';
import type { RouteConfig } from './sections/routes.ts';
import type { ServerConfig } from './sections/server.ts';
import type { SessionConfig } from './sections/session.ts';
import type { SharedStateConfig } from './sections/shared-state.ts';
import type { StoreConfig } from './sections/store.ts';
import type { UiConfig } from './sections/ui.ts';

export type { Millis } from './duration.ts';
export type { AuditCheckpointConfig, AuditConfig, AuditForwardConfig, AuditHttpSink, AuditSyslogSink } from './sections/audit.ts';
export type { BrandingConfig } from './sections/branding.ts';
export type { FactorsConfig, OtpConfig } from './sections/factors.ts';
export type { HeaderNames, HeadersConfig } from './sections/headers.ts';
export type { BreakGlassConfig, FileIdentityConfig, IdentityConfig, OidcIdentityConfig } from './sections/identity.ts';
export type { NotifierConfig } from './sections/notifier.ts';
export type { FactorKind, PolicyConfig, PolicyException, Requirement, RuleConfig, RuleMatch } from './sections/policy.ts';
export type { RiskConfig, RiskPlace, RiskRuleConfig, RiskSignal } from './sections/risk.ts';
export type { RolloutConfig } from './sections/rollout.ts';
export type { RouteConfig } from './sections/routes.ts';
export type { LogLevel, ServerConfig } from './sections/server.ts';
export type { SessionConfig } from './sections/session.ts';
export type { SharedStateConfig } from './sections/shared-state.ts';
export type { StoreConfig } from './sections/store.ts';
export type { Language, UiConfig } from './sections/ui.ts';
export type { FormRequestMatch, UpstreamFormIdentityConfig } from './sections/upstream-form.ts';

export interface Config {
  server: ServerConfig;
  branding: BrandingConfig;
  ui: UiConfig;
  routes: RouteConfig[];
  identity: IdentityConfig;
  session: SessionConfig;
  factors: FactorsConfig;
  policy: PolicyConfig;
  rollout: RolloutConfig;
  store: StoreConfig;
  shared_state: SharedStateConfig;
  notifier: NotifierConfig;
  audit: AuditConfig;
  headers: HeadersConfig;
  risk: RiskConfig;
  /** Absolute path of the file this was loaded from (relative paths inside resolve against the process cwd). */
  source_path: string;
  /** Warnings found while loading (e.g. dev secret generated, expired exceptions). */
  warnings: string[];
}
