import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'notifier', [
  { name: 'default: a file under data/', yaml: '', want: { kind: 'file', path: 'data/outbox.log' } },
  { name: 'file with a path', yaml: 'notifier: {kind: file, path: /var/log/gh-outbox}\n', want: { kind: 'file', path: '/var/log/gh-outbox' } },
  { name: 'smtp', yaml: 'notifier: {kind: smtp, url: "smtps://mail:465", from: "gh@acme.test"}\n', want: { kind: 'smtp', url: 'smtps://mail:465', from: 'gh@acme.test' } },
  {
    name: 'webhook with headers and a template',
    yaml: 'notifier:\n  kind: webhook\n  url: https://hooks.acme.test/sms?k=1\n  headers: {Authorization: Bearer x}\n  body_template: \'{"to":"{{to}}"}\'\n',
    want: { kind: 'webhook', url: 'https://hooks.acme.test/sms?k=1', headers: { Authorization: 'Bearer x' }, body_template: '{"to":"{{to}}"}' },
  },
  { name: 'webhook defaults: no headers, the default body', yaml: 'notifier: {kind: webhook, url: "http://127.0.0.1:9/x"}\n', want: { kind: 'webhook', url: 'http://127.0.0.1:9/x', headers: {}, body_template: '' } },
  {
    name: 'smtp: another scheme, a sender without @',
    yaml: 'notifier:\n  kind: smtp\n  url: http://mail\n  from: gatehouse\n',
    issues: { 'notifier.url': [3, /must be a smtp:\/\/ or smtps:\/\/ URL/], 'notifier.from': [4, /must be an email address/] },
  },
  {
    name: 'webhook: not http, a bad header name',
    yaml: 'notifier:\n  kind: webhook\n  url: ftp://hooks\n  headers: {"Bad Name": x}\n',
    issues: { 'notifier.url': [3, /must be an http\(s\) URL/], 'notifier.headers.Bad Name': [4, /is not a valid HTTP header name/] },
  },
  {
    name: 'schema: keys of another kind',
    yaml: 'notifier:\n  kind: file\n  from: a@b\n',
    issues: { 'notifier.from': [3, /only allowed when kind is smtp/] },
  },
  { name: 'schema: smtp needs from', yaml: 'notifier:\n  kind: smtp\n  url: smtp://mail\n', issues: { 'notifier.from': [1, /required when kind is smtp/] } },
]);
