import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'server', [
  {
    name: 'every key set: durations, sizes and CIDRs normalized',
    yaml: `server:
  listen: "[::1]:9443"
  public_url: https://portal.example.com/
  trusted_proxies: [10.0.0.0/8, 192.168.1.10, "::1"]
  header_timeout: 5s
  body_timeout: 1m
  keep_alive_timeout: 2s
  max_header_bytes: 32KiB
  max_header_count: 50
  max_body_bytes: 10MB
  shutdown_timeout: 90s
  metrics_allow: [10.9.0.0/16]
  admin_listen: 127.0.0.1:9090
  log_level: debug
  instance_id: gw-eu-1
  workers: 4
`,
    want: {
      listen: '[::1]:9443', public_url: 'https://portal.example.com', trusted_proxies: ['10.0.0.0/8', '192.168.1.10/32', '::1/128'],
      metrics_allow: ['10.9.0.0/16'], header_timeout: 5_000, body_timeout: 60_000, keep_alive_timeout: 2_000, max_header_bytes: 32_768,
      max_header_count: 50, max_body_bytes: 10_000_000, shutdown_timeout: 90_000, admin_listen: '127.0.0.1:9090', log_level: 'debug',
      instance_id: 'gw-eu-1', workers: 4,
    },
  },
  {
    name: 'defaults: loopback listener, metrics readable from loopback only',
    yaml: 'server: {}\n',
    partial: true,
    want: { listen: '127.0.0.1:8080', public_url: 'http://localhost:8080', trusted_proxies: [], metrics_allow: ['127.0.0.0/8', '::1/128'], log_level: 'info', max_body_bytes: 1_073_741_824, workers: 1 },
  },
  {
    name: 'workers: auto (one per core, counted at start)',
    yaml: 'server:\n  workers: auto\n',
    partial: true,
    want: { workers: 'auto' },
  },
  {
    name: 'workers above 1 with an in-memory SQLite store (one database per worker)',
    yaml: 'server:\n  workers: 2\nstore:\n  kind: sqlite\n  path: ":memory:"\n',
    issues: { 'store.path': [5, /one database per process: with server\.workers above 1/] },
  },
  {
    name: 'workers: zero',
    yaml: 'server:\n  workers: 0\n',
    issues: { 'server.workers': [2, /whole number from 1 to 64, or auto/] },
  },
  {
    name: 'workers: a word other than auto',
    yaml: 'server:\n  workers: all\n',
    issues: { 'server.workers': [2, /whole number from 1 to 64, or auto/] },
  },
  {
    name: 'workers: more than 64',
    yaml: 'server:\n  workers: 65\n',
    issues: { 'server.workers': [2, /whole number from 1 to 64, or auto/] },
  },
  {
    name: 'workers: not a number or a word',
    yaml: 'server:\n  workers: [2]\n',
    issues: { 'server.workers': [2, /whole number or a string/] },
  },
  {
    name: 'metrics_listen (the old name) is read as admin_listen, with a warning',
    yaml: 'server:\n  metrics_listen: 127.0.0.1:9090\n',
    partial: true,
    want: { admin_listen: '127.0.0.1:9090' },
    warnings: [/metrics_listen is now called server\.admin_listen/],
  },
  {
    name: 'metrics_listen beside admin_listen is ignored, with a warning',
    yaml: 'server:\n  admin_listen: 127.0.0.1:9091\n  metrics_listen: 127.0.0.1:9090\n',
    partial: true,
    want: { admin_listen: '127.0.0.1:9091' },
    warnings: [/metrics_listen is ignored because server\.admin_listen is set/],
  },
  {
    name: 'bad listen addresses, origin with a path, bad CIDRs, bad duration',
    yaml: `server:
  listen: localhost
  admin_listen: "1.2.3.4:99999"
  public_url: https://portal.example.com/app
  trusted_proxies: [10.0.0.0/33]
  metrics_allow: [nonsense]
  header_timeout: 30
`,
    issues: {
      'server.listen': [2, /"localhost" must be host:port/],
      'server.admin_listen': [3, /must be host:port/],
      'server.public_url': [4, /must be an origin only/],
      'server.trusted_proxies[0]': [5, /must be an IP address or CIDR/],
      'server.metrics_allow[0]': [6, /must be an IP address or CIDR/],
      'server.header_timeout': [7, /"30" needs a unit: write e.g. 30s, 30ms or 30m/],
    },
  },
  {
    name: 'public_url: not a URL, another scheme, credentials',
    yaml: 'server:\n  public_url: ftp://example.com\n',
    issues: { 'server.public_url': [2, /must use http or https/] },
  },
  {
    name: 'schema: unknown key with a suggestion, enum, pattern, minimum',
    yaml: 'server:\n  listn: 127.0.0.1:80\n  log_level: loud\n  instance_id: "-x"\n  max_header_count: 0\n',
    issues: {
      'server.listn': [2, /unknown key \(did you mean "listen"\?\)/],
      'server.log_level': [3, /must be one of: trace, debug, info, warn, error, fatal, silent/],
      'server.instance_id': [4, /must be 1-64 letters, digits, dots, dashes or underscores/],
      'server.max_header_count': [5, /must be >= 1/],
    },
  },
]);
