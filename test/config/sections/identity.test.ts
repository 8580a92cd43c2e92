import t from 'tap';
import { sectionTable, SECRETS } from './section-table.ts';

const HASH = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo';

sectionTable(t, 'identity', [
  { name: 'default: the users file', yaml: '', want: { source: 'file', file: { path: 'config/users.yaml' } } },
  {
    name: 'oidc: defaults, issuer without trailing slash',
    yaml: 'identity:\n  source: oidc\n  oidc:\n    issuer: https://idp.example.com/realms/acme/\n    client_id: gatehouse\n',
    want: {
      source: 'oidc',
      oidc: { issuer: 'https://idp.example.com/realms/acme', client_id: 'gatehouse', scopes: ['openid', 'profile', 'email'], groups_claim: 'groups', username_claim: 'sub', trust_idp_mfa: [] },
    },
  },
  {
    name: 'oidc: client_secret from the environment, another username claim (warned)',
    yaml: 'identity:\n  source: oidc\n  oidc:\n    issuer: http://localhost:9000\n    client_id: gh\n    client_secret: ${OIDC}\n    username_claim: email\n    trust_idp_mfa: [hwk]\n',
    env: { ...SECRETS, OIDC: 'shh' },
    partial: true,
    want: { oidc: { client_secret: 'shh', username_claim: 'email', trust_idp_mfa: ['hwk'] } },
    warnings: [/username_claim is email: users may be able to change email/],
  },
  {
    name: 'oidc: http issuer off localhost, scopes without openid',
    yaml: 'identity:\n  source: oidc\n  oidc:\n    issuer: http://idp.example.com\n    client_id: gh\n    scopes: [profile]\n',
    issues: {
      'identity.oidc.issuer': [4, /must use https \(http only for localhost\)/],
      'identity.oidc.scopes': [6, /must include openid/],
    },
  },
  {
    name: 'oidc without its section',
    yaml: 'identity:\n  source: oidc\n',
    issues: { 'identity.oidc': [1, /required when source is oidc/] },
  },
  {
    name: 'another source\'s section is ignored, with a warning',
    yaml: 'identity:\n  source: file\n  oidc:\n    issuer: https://idp.example.com\n    client_id: gh\n',
    want: { source: 'file', file: { path: 'config/users.yaml' } },
    warnings: [/identity\.oidc is ignored because identity\.source is file/],
  },
  {
    name: 'break_glass: user lower-cased, defaults',
    yaml: `identity:\n  break_glass:\n    user: Root\n    password: "${HASH}"\n`,
    want: { source: 'file', file: { path: 'config/users.yaml' }, break_glass: { user: 'root', password: HASH, groups: [], enabled: false } },
  },
  {
    name: 'break_glass: a plain password is refused',
    yaml: 'identity:\n  break_glass:\n    user: root\n    password: hunter2\n',
    issues: { 'identity.break_glass.password': [4, /must be an argon2 PHC hash/] },
  },
  {
    name: 'schema: unknown source',
    yaml: 'identity:\n  source: ldap\n',
    issues: { 'identity.source': [2, /must be one of: file, oidc, upstream_form/] },
  },
]);
