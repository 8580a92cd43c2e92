// identity: where users come from (a users file, an OIDC provider, or the
// app's own login form) and the optional break-glass account.

import type { Obj, Reader } from '../reader.ts';
import { bool, choice, nonEmpty, obj, strList, when, type PropertiesOf } from '../schema-kit.ts';
import { checkHttpUrl } from '../value-checks.ts';
import { buildUpstreamForm, upstreamFormSchema, type UpstreamFormIdentityConfig } from './upstream-form.ts';

export const IDENTITY_SOURCES = ['file', 'oidc', 'upstream_form'] as const;

export const identitySchema = obj(
  {
    source: choice(IDENTITY_SOURCES),
    file: obj({ path: nonEmpty } satisfies PropertiesOf<FileIdentityConfig>),
    break_glass: obj(
      { user: nonEmpty, password: nonEmpty, password_file: nonEmpty, groups: strList, enabled: bool } satisfies PropertiesOf<BreakGlassConfig, 'password_file'>,
      ['user'],
    ),
    oidc: obj(
      {
        issuer: nonEmpty,
        client_id: nonEmpty,
        client_secret: nonEmpty,
        client_secret_file: nonEmpty,
        scopes: strList,
        groups_claim: nonEmpty,
        username_claim: nonEmpty,
        trust_idp_mfa: strList,
      } satisfies PropertiesOf<OidcIdentityConfig, 'client_secret_file'>,
      ['issuer', 'client_id'],
    ),
    upstream_form: upstreamFormSchema,
  } satisfies PropertiesOf<IdentityConfig>,
  [],
  { allOf: [when('source', 'oidc', { required: ['oidc'] }), when('source', 'upstream_form', { required: ['upstream_form'] })] },
);

export interface FileIdentityConfig { path: string }
export interface OidcIdentityConfig {
  issuer: string;
  client_id: string;
  client_secret?: string;
  scopes: string[];               // default [openid, profile, email]
  groups_claim: string;           // default groups
  username_claim: string;         // default sub (others warned: users may change them at the IdP)
  trust_idp_mfa: string[];        // amr values counted as a second factor; default []
}
/** An emergency account declared in config (argon2id hash here, not in the users file). */
export interface BreakGlassConfig {
  user: string;
  password: string;               // argon2id PHC string
  groups: string[];
  /** false (default): usable only while the store or shared state is down. true: always (an incident is declared). */
  enabled: boolean;
}
export interface IdentityConfig {
  source: (typeof IDENTITY_SOURCES)[number];
  break_glass?: BreakGlassConfig;
  file?: FileIdentityConfig;
  oidc?: OidcIdentityConfig;
  upstream_form?: UpstreamFormIdentityConfig;
}

export function buildIdentity(r: Reader, s: Obj, warnings: string[]): IdentityConfig {
  const source = r.oneOf(s, 'source', IDENTITY_SOURCES, 'file');
  for (const other of IDENTITY_SOURCES) {
    // A users file may accompany upstream_form: it gives known users their email and groups.
    if (other === 'file' && source === 'upstream_form') continue;
    if (other !== source && s[other] !== undefined) warnings.push(`identity.${other} is ignored because identity.source is ${source}`);
  }
  const out: IdentityConfig = { source };
  if (s.break_glass !== undefined) out.break_glass = buildBreakGlass(r, r.section(s, 'break_glass'));
  if (source === 'file') {
    out.file = buildFile(r, s);
  } else if (source === 'oidc') {
    out.oidc = buildOidc(r, r.section(s, 'oidc'), warnings);
  } else {
    if (s.file !== undefined) out.file = buildFile(r, s);
    out.upstream_form = buildUpstreamForm(r, r.section(s, 'upstream_form'), warnings);
  }
  return out;
}

function buildFile(r: Reader, s: Obj): FileIdentityConfig {
  return { path: r.str(r.section(s, 'file'), 'path') ?? 'config/users.yaml' };
}

function buildBreakGlass(r: Reader, b: Obj): BreakGlassConfig {
  const user = (r.str(b, 'user') ?? '').toLowerCase();
  const password = r.str(b, 'password') ?? '';
  if (!password.startsWith('$argon2')) {
    r.fail(['identity', 'break_glass', 'password'], 'must be an argon2 PHC hash ($argon2id$v=19$...): make one with `gatehouse user passwd` on a scratch file');
  }
  return { user, password, groups: r.list(b, 'groups') ?? [], enabled: r.bool(b, 'enabled', false) };
}

function buildOidc(r: Reader, o: Obj, warnings: string[]): OidcIdentityConfig {
  const at = ['identity', 'oidc'];
  const issuer = r.str(o, 'issuer') ?? '';
  if (issuer) checkHttpUrl(r, issuer, [...at, 'issuer'], { allowPath: true, httpsUnlessLocal: true });
  const client_secret = r.str(o, 'client_secret');
  const oidc = {
    issuer: issuer.replace(/\/+$/, ''),
    client_id: r.str(o, 'client_id') ?? '',
    ...(client_secret !== undefined ? { client_secret } : {}),
    scopes: r.list(o, 'scopes') ?? ['openid', 'profile', 'email'],
    groups_claim: r.str(o, 'groups_claim') ?? 'groups',
    username_claim: usernameClaim(r.str(o, 'username_claim'), warnings),
    trust_idp_mfa: r.list(o, 'trust_idp_mfa') ?? [],
  };
  if (!oidc.scopes.includes('openid')) r.fail([...at, 'scopes'], 'must include openid');
  return oidc;
}

/** identity.oidc.username_claim: sub unless the operator asks for another claim (warned: users may change it). */
function usernameClaim(claim: string | undefined, warnings: string[]): string {
  if (claim === undefined || claim === 'sub') return 'sub';
  warnings.push(
    `identity.oidc.username_claim is ${claim}: users may be able to change ${claim} at the identity provider and so become another ` +
    'gatehouse user (with that user\'s second factors and rules); use it only if your IdP does not let users edit it, or use sub (the default)',
  );
  return claim;
}
