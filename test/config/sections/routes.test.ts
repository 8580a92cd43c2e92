import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'routes', [
  { name: 'no routes by default', yaml: '', want: [] },
  {
    name: 'defaults of one route; host lower-cased',
    yaml: 'routes:\n  - host: Legacy.Acme.Test\n    path: /crm\n    upstream: http://10.1.2.3:8080/crm\n',
    want: [{
      host: 'legacy.acme.test', path: '/crm', upstream: 'http://10.1.2.3:8080/crm', websocket: false, timeout: 30_000,
      case_insensitive: false, path_params: 'reject', preserve_host: false, method_override: 'evaluate', params_style: 'plain', strip_headers: [], strip_prefix: false, rewrite_location: [], assertion: true,
    }],
  },
  {
    name: 'every key set',
    yaml: 'routes:\n  - path: /\n    upstream: https://app.internal\n    websocket: true\n    timeout: 2m\n    case_insensitive: true\n    path_params: allow\n    preserve_host: true\n    method_override: reject\n    params_style: php\n    strip_headers: [X-DokuWiki-Do]\n    assertion: false\n',
    want: [{
      path: '/', upstream: 'https://app.internal', websocket: true, timeout: 120_000,
      case_insensitive: true, path_params: 'allow', preserve_host: true, method_override: 'reject', params_style: 'php', strip_headers: ['X-DokuWiki-Do'], strip_prefix: false, rewrite_location: [], assertion: false,
    }],
  },
  {
    name: 'strip_prefix and rewrite_location (origins normalized)',
    yaml: 'routes:\n  - path: /wiki\n    upstream: http://127.0.0.1:8081\n    strip_prefix: true\n    rewrite_location: [http://127.0.0.1, "HTTP://Intranet-Host:8080/"]\n',
    partial: true,
    want: [{ path: '/wiki', strip_prefix: true, rewrite_location: ['http://127.0.0.1', 'http://intranet-host:8080'] }],
  },
  {
    name: 'strip_prefix on /, rewrite_location with a path',
    yaml: 'routes:\n  - path: /\n    upstream: http://127.0.0.1:8081\n    strip_prefix: true\n    rewrite_location: [http://a.test/x]\n',
    issues: { 'routes[0].strip_prefix': [4, /needs a path prefix/], 'routes[0].rewrite_location[0]': [5, /must not have a path/] },
  },
  {
    name: 'assertion follows headers.jwt unless the route says',
    yaml: 'headers:\n  jwt: false\nroutes:\n  - path: /a\n    upstream: http://127.0.0.1:1\n  - path: /b\n    upstream: http://127.0.0.1:2\n    assertion: true\n',
    partial: true,
    want: [{ path: '/a', assertion: false }, { path: '/b', assertion: true }],
  },
  {
    name: 'assertion must be a boolean',
    yaml: 'routes:\n  - path: /a\n    upstream: http://127.0.0.1:1\n    assertion: sometimes\n',
    issues: { 'routes[0].assertion': [4, /true or false/] },
  },
  {
    name: 'the same host and path twice',
    yaml: 'routes:\n  - path: /a\n    upstream: http://127.0.0.1:1\n  - path: /a\n    upstream: http://127.0.0.1:2\n',
    issues: { 'routes[1].path': [4, /routes\[0\] already has this path/] },
  },
  {
    name: 'the same path on two hosts is fine',
    yaml: 'routes:\n  - {host: a.test, path: /, upstream: "http://127.0.0.1:1"}\n  - {host: b.test, path: /, upstream: "http://127.0.0.1:2"}\n',
    partial: true,
    want: [{ host: 'a.test' }, { host: 'b.test' }],
  },
  {
    name: 'path without /, upstream not http, credentials, wildcard host',
    yaml: `routes:
  - path: crm
    upstream: ftp://10.1.2.3
  - path: /b
    upstream: http://user:pw@10.1.2.3
    host: "*.acme.test"
`,
    issues: {
      'routes[0].path': [2, /must start with \//],
      'routes[0].upstream': [3, /must be an http\(s\) URL/],
      'routes[1].upstream': [5, /must not contain credentials/],
      'routes[1].host': [6, /must be a host name without port or wildcard/],
    },
  },
  {
    name: 'schema: required keys and enums',
    yaml: 'routes:\n  - host: a.test\n    path_params: maybe\n',
    issues: {
      'routes[0].path': [2, /is required/],
      'routes[0].upstream': [2, /is required/],
      'routes[0].path_params': [3, /must be one of: reject, allow/],
    },
  },
]);
