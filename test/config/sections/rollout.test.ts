import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'rollout', [
  { name: 'defaults: everyone, no grace', yaml: '', want: { enforce_for: ['everyone'], max_deferrals: 3 } },
  {
    name: 'every key set',
    yaml: 'rollout:\n  enforce_for: [admins, finance]\n  grace_until: 2026-12-31\n  max_deferrals: 0\n',
    want: { enforce_for: ['admins', 'finance'], grace_until: '2026-12-31', max_deferrals: 0 },
  },
  { name: 'a date that does not exist', yaml: 'rollout:\n  grace_until: 2026-02-30\n', issues: { 'rollout.grace_until': [2, /"2026-02-30" is not a valid date/] } },
  { name: 'schema: a date in another format', yaml: 'rollout:\n  grace_until: 31/12/2026\n', issues: { 'rollout.grace_until': [2, /must be a date written YYYY-MM-DD/] } },
  { name: 'schema: negative deferrals', yaml: 'rollout:\n  max_deferrals: -1\n', issues: { 'rollout.max_deferrals': [2, /must be >= 0/] } },
  // verify_email_first (README "Explicit rules bind everyone"): the proof is a mailed code.
  { name: 'verify_email_first with the file notifier (development)', yaml: 'rollout:\n  verify_email_first: true\n', want: { enforce_for: ['everyone'], max_deferrals: 3, verify_email_first: true } },
  {
    name: 'verify_email_first with smtp',
    yaml: 'rollout:\n  verify_email_first: true\nnotifier:\n  kind: smtp\n  url: smtp://mail.example.com:25\n  from: gatehouse@example.com\n',
    want: { enforce_for: ['everyone'], max_deferrals: 3, verify_email_first: true },
  },
  { name: 'verify_email_first false: left out, as by default', yaml: 'rollout:\n  verify_email_first: false\n', want: { enforce_for: ['everyone'], max_deferrals: 3 } },
  {
    name: 'verify_email_first with a webhook notifier: no email to send the code by',
    yaml: 'rollout:\n  verify_email_first: true\nnotifier:\n  kind: webhook\n  url: https://hooks.example.com/sms\n',
    issues: { 'rollout.verify_email_first': [2, /needs a notifier that sends email \(notifier.kind smtp, or file in development\), not webhook/] },
  },
  { name: 'schema: verify_email_first not a boolean', yaml: 'rollout:\n  verify_email_first: yes-please\n', issues: { 'rollout.verify_email_first': [2, /must be/] } },
]);
