import t from 'tap';
import { sectionTable } from './section-table.ts';

// NOW is 2026-11-15.
sectionTable(t, 'policy', [
  {
    name: 'defaults: mfa everywhere',
    yaml: '',
    want: { default: 'mfa', rules: [], stash_max_body: 1_048_576, stash_total_max: 67_108_864, inspect_body_max: 1_048_576, privileged_groups: ['admins'], exceptions: [] },
  },
  {
    name: 'a rule: one path becomes a list, methods upper-cased once, networks as CIDRs, phishing_resistant is webauthn',
    yaml: `policy:
  default: login
  stash_max_body: 2MiB
  stash_total_max: 128MiB
  privileged_groups: [root]
  rules:
    - id: billing
      match:
        host: Portal.Example.com
        path: /billing/**
        methods: [post, POST, put]
        groups: [staff]
        not_groups: [contractors]
        networks: [10.0.0.0/8, 192.168.1.10]
      require: mfa
      max_age: 5m
      factors: [phishing_resistant, totp, webauthn]
      mode: report
      rollout: follow
`,
    want: {
      default: 'login',
      rules: [{
        id: 'billing',
        match: { host: 'portal.example.com', path: ['/billing/**'], methods: ['POST', 'PUT'], groups: ['staff'], not_groups: ['contractors'], networks: ['10.0.0.0/8', '192.168.1.10/32'] },
        require: 'mfa', max_age: 300_000, factors: ['webauthn', 'totp'], mode: 'report', rollout: 'follow',
      }],
      stash_max_body: 2_097_152, stash_total_max: 134_217_728, inspect_body_max: 1_048_576, privileged_groups: ['root'], exceptions: [],
    },
  },
  {
    name: 'a rule with defaults; max_age on require: none is warned',
    yaml: 'policy:\n  rules:\n    - {id: static, match: {path: [/static/**, /favicon.ico]}, require: none, max_age: 1m}\n',
    partial: true,
    want: { rules: [{ id: 'static', match: { path: ['/static/**', '/favicon.ico'] }, require: 'none', mode: 'enforce' }] },
    warnings: [/policy\.rules\[0\] \(static\): max_age and factors only apply to require: mfa; ignored for require: none/],
  },
  {
    name: 'rule ids: bad characters, reserved, duplicate; bad pattern, method, network, host',
    yaml: `policy:
  rules:
    - id: "bad id"
      require: mfa
    - id: default
      require: mfa
    - id: a
      require: mfa
    - id: a
      require: login
      match:
        path: /a/**/b
        methods: ["GE T"]
        networks: [300.0.0.1]
        host: "a:80"
`,
    issues: {
      'policy.rules[0].id': [3, /must be letters, digits/],
      'policy.rules[1].id': [5, /^"default" is reserved for policy\.default; choose another id$/],
      'policy.rules[3].id': [9, /duplicate rule id "a" \(also policy\.rules\[2\]\)/],
      'policy.rules[3].match.path': [12, /"\/a\/\*\*\/b": /],
      'policy.rules[3].match.methods[0]': [13, /"GE T" is not an HTTP method/],
      'policy.rules[3].match.networks[0]': [14, /must be an IP address or CIDR/],
      'policy.rules[3].match.host': [15, /must be a host name without port or wildcard/],
    },
  },
  {
    name: 'parameter rules: query and params (a pattern or a list), ignore_case, inspect_body_max',
    yaml: `policy:
  inspect_body_max: 64KiB
  rules:
    - id: wiki-admin
      match: { path: /doku.php, query: { do: [admin, "export_*"], rev: present }, ignore_case: true }
      require: mfa
    - id: db-export
      match: { path: /index.php, params: { route: /export } }
      require: mfa
`,
    partial: true,
    want: {
      inspect_body_max: 65_536,
      rules: [
        { id: 'wiki-admin', match: { path: ['/doku.php'], query: { do: ['admin', 'export_*'], rev: 'present' }, ignore_case: true } },
        { id: 'db-export', match: { path: ['/index.php'], params: { route: '/export' } } },
      ],
    },
  },
  {
    name: 'parameter rules: present / absent alone, values strings, a name takes something',
    yaml: `policy:
  rules:
    - id: a
      require: mfa
      match: { query: { do: [present, admin] } }
    - id: b
      require: mfa
      match: { params: { do: { x: 1 } } }
    - id: c
      require: mfa
      match: { query: { do: [] } }
`,
    issues: {
      'policy.rules[0].match.query.do': [5, /present \/ absent stand alone/],
      'policy.rules[1].match.params.do': [8, /must be a string or a list/],
      'policy.rules[2].match.query.do': [11, /./],
    },
  },
  {
    name: 'exceptions: kept, near expiry warned, expired dropped (warned)',
    yaml: `policy:
  rules: [{id: billing, require: mfa}]
  exceptions:
    - {user: alice, rule: billing, reason: travel, owner: it, expires: 2027-01-31}
    - {group: ops, rule: billing, reason: migration, owner: it, expires: 2026-11-20}
    - {user: bob, rule: billing, reason: old, owner: it, expires: 2026-11-14}
`,
    partial: true,
    want: {
      exceptions: [
        { user: 'alice', rule: 'billing', reason: 'travel', owner: 'it', expires: '2027-01-31' },
        { group: 'ops', rule: 'billing', reason: 'migration', owner: 'it', expires: '2026-11-20' },
      ],
    },
    warnings: [/exceptions\[1\] \(group ops, rule billing\) expires on 2026-11-20, within 14 days/, /exceptions\[2\] \(user bob, rule billing\) expired on 2026-11-14: ignored/],
  },
  {
    name: 'an exception lasts through its date',
    yaml: 'policy:\n  rules: [{id: r, require: mfa}]\n  exceptions: [{user: a, rule: r, reason: x, owner: y, expires: 2026-11-15}]\n',
    partial: true,
    want: { exceptions: [{ user: 'a', expires: '2026-11-15' }] },
    warnings: [/within 14 days/],
  },
  {
    name: 'exceptions: both user and group, an unknown rule, a date that does not exist',
    yaml: `policy:
  rules: [{id: billing, require: mfa}]
  exceptions:
    - user: alice
      group: ops
      rule: billing
      reason: x
      owner: y
      expires: 2027-01-01
    - {user: bob, rule: nope, reason: x, owner: y, expires: 2027-02-30}
`,
    issues: {
      'policy.exceptions[0]': [4, /give exactly one of user or group/],
      'policy.exceptions[1].rule': [10, /no rule with id "nope" in policy\.rules/],
      'policy.exceptions[1].expires': [10, /"2027-02-30" is not a valid date/],
    },
  },
  {
    name: 'schema: deny is no default; unknown factor; empty method list; required keys',
    yaml: 'policy:\n  default: deny\n  rules:\n    - id: x\n      require: mfa\n      factors: [fingerprint]\n      match: {methods: []}\n    - {id: y}\n',
    issues: {
      'policy.default': [2, /must be one of: none, login, mfa$/],
      'policy.rules[0].factors[0]': [6, /must be one of: totp, webauthn, push, email, sms, recovery, phishing_resistant/],
      'policy.rules[0].match.methods': [7, /must list at least 1/],
      'policy.rules[1].require': [8, /is required/],
    },
  },
]);
