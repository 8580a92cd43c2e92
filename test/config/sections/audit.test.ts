import t from 'tap';
import { sectionTable, SECRETS } from './section-table.ts';

const A = SECRETS.GATEHOUSE_AUDIT_KEY;

sectionTable(t, 'audit', [
  {
    name: 'defaults: a file under data/, group sync, no forwarding',
    yaml: '',
    want: { path: 'data/audit.log', max_bytes: 67_108_864, sync: 'group', key: A, checkpoint: { lines: 1000, every: 300_000, email: false }, forward: { queue_max: 268_435_456, retry_max: 30_000 } },
  },
  {
    name: 'every key set',
    yaml: `audit:
  path: /var/log/gh/audit.log
  max_bytes: 1GiB
  alert_email: sec@acme.test
  sync: always
  key: ${'q'.repeat(32)}
  checkpoint: {lines: 10, every: 1m, webhook: "https://hooks.acme.test/cp", email: true}
  forward:
    queue_max: 1MiB
    retry_max: 5s
    syslog: {address: "logs:6514", tls: true, ca_file: /etc/ca.pem, app_name: gh}
    http: {url: "https://splunk:8088/services/collector", format: splunk, headers: {Authorization: Splunk t}}
`,
    want: {
      path: '/var/log/gh/audit.log', max_bytes: 1_073_741_824, alert_email: 'sec@acme.test', sync: 'always', key: 'q'.repeat(32),
      checkpoint: { lines: 10, every: 60_000, webhook: 'https://hooks.acme.test/cp', email: true },
      forward: {
        queue_max: 1_048_576, retry_max: 5_000,
        syslog: { address: 'logs:6514', tls: true, ca_file: '/etc/ca.pem', app_name: 'gh' },
        http: { url: 'https://splunk:8088/services/collector', format: 'splunk', headers: { Authorization: 'Splunk t' } },
      },
    },
  },
  {
    name: 'forwarding defaults: plain syslog named gatehouse, ndjson over http',
    yaml: 'audit:\n  forward:\n    syslog: {address: "127.0.0.1:514"}\n    http: {url: "http://127.0.0.1:9/ingest"}\n',
    partial: true,
    want: { forward: { syslog: { address: '127.0.0.1:514', tls: false, app_name: 'gatehouse' }, http: { url: 'http://127.0.0.1:9/ingest', format: 'ndjson', headers: {} } } },
  },
  {
    name: 'alert address, checkpoint mail without an address, too frequent, bad webhook',
    yaml: 'audit:\n  alert_email: security\n  checkpoint:\n    email: true\n    every: 500ms\n    webhook: ftp://x\n',
    issues: {
      'audit.alert_email': [2, /must be an email address/],
      'audit.checkpoint.every': [5, /must be at least 1s/],
      'audit.checkpoint.webhook': [6, /must be an http\(s\) URL/],
    },
  },
  {
    name: 'checkpoint mail needs audit.alert_email',
    yaml: 'audit:\n  checkpoint: {email: true}\n',
    issues: { 'audit.checkpoint.email': [2, /needs audit\.alert_email/] },
  },
  {
    name: 'syslog: bad address, ca_file without tls; http: bad header',
    yaml: 'audit:\n  forward:\n    syslog:\n      address: logs\n      ca_file: /etc/ca.pem\n    http:\n      url: http://127.0.0.1:9/\n      headers: {"a b": c}\n',
    issues: {
      'audit.forward.syslog.address': [4, /must be host:port/],
      'audit.forward.syslog.ca_file': [5, /only with tls: true/],
      'audit.forward.http.headers.a b': [8, /is not a valid HTTP header name/],
    },
  },
  { name: 'a short key', yaml: 'audit:\n  key: k\n', issues: { 'audit.key': [2, /must be at least 32 characters \(got 1\)/] } },
  {
    name: 'schema: sync and format values',
    yaml: 'audit:\n  sync: never\n  forward:\n    http: {url: "http://x", format: xml}\n',
    issues: { 'audit.sync': [2, /must be one of: group, always/], 'audit.forward.http.format': [4, /must be one of: ndjson, splunk, elastic, loki/] },
  },
]);
