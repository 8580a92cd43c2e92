import t from 'tap';
import { sectionTable, SECRETS } from './section-table.ts';

const K = SECRETS.GATEHOUSE_ENCRYPTION_KEY;

sectionTable(t, 'factors', [
  {
    name: 'defaults: names from the product name, no SMS',
    yaml: 'branding: {product_name: Acme}\n',
    want: { encryption_key: K, totp: { issuer: 'Acme' }, webauthn: { rp_name: 'Acme' }, email_otp: { ttl: 600_000, length: 6 }, recovery_codes: { count: 10 } },
  },
  {
    name: 'every key set',
    yaml: `factors:
  encryption_key: ${'e'.repeat(40)}
  totp: {issuer: Acme TOTP}
  webauthn: {rp_name: Acme Keys}
  email_otp: {ttl: 5m, length: 8}
  sms_otp: {ttl: 2m, length: 6}
  recovery_codes: {count: 12}
`,
    want: {
      encryption_key: 'e'.repeat(40), totp: { issuer: 'Acme TOTP' }, webauthn: { rp_name: 'Acme Keys' },
      email_otp: { ttl: 300_000, length: 8 }, sms_otp: { ttl: 120_000, length: 6 }, recovery_codes: { count: 12 },
    },
  },
  { name: 'an empty sms_otp section turns SMS on with defaults', yaml: 'factors:\n  sms_otp: {}\n', partial: true, want: { sms_otp: { ttl: 600_000, length: 6 } } },
  { name: 'a short key', yaml: 'factors:\n  encryption_key: abc\n', issues: { 'factors.encryption_key': [2, /must be at least 32 characters \(got 3\)/] } },
  {
    name: 'schema: code length and recovery count limits',
    yaml: 'factors:\n  email_otp: {length: 3}\n  recovery_codes: {count: 101}\n',
    issues: { 'factors.email_otp.length': [2, /must be >= 4/], 'factors.recovery_codes.count': [3, /must be <= 100/] },
  },
  {
    name: 'factors.push: an empty section turns push on with the defaults',
    yaml: 'factors:\n  push: {}\n', partial: true,
    want: { push: { timeout: 60_000, max_pending: 3, backoff: 5_000, suspend_after: 3, suspend_window: 900_000, suspend_for: 900_000 } },
  },
  {
    name: 'factors.push: every key',
    yaml: 'factors:\n  push: {timeout: 30s, max_pending: 2, backoff: 0, suspend_after: 5, suspend_window: 1h, suspend_for: 30m}\n', partial: true,
    want: { push: { timeout: 30_000, max_pending: 2, backoff: 0, suspend_after: 5, suspend_window: 3_600_000, suspend_for: 1_800_000 } },
  },
  {
    name: 'factors.push: limits',
    yaml: 'factors:\n  push:\n    timeout: 20m\n    max_pending: 0\n    suspend_for: 0\n    channel: ntfy\n',
    issues: {
      'factors.push.timeout': [3, /at most 10m/],
      'factors.push.max_pending': [4, /must be >= 1/],
      'factors.push.suspend_for': [5, /longer than 0/],
      'factors.push.channel': [6, /unknown key/],
    },
  },
  {
    name: 'factors.push.web_push: the subject, the browsers\' push services by default',
    yaml: 'factors:\n  push:\n    web_push: {subject: "mailto:ops@example.com"}\n', partial: true,
    want: { push: { timeout: 60_000, max_pending: 3, backoff: 5_000, suspend_after: 3, suspend_window: 900_000, suspend_for: 900_000,
      web_push: { subject: 'mailto:ops@example.com', push_services: ['https://fcm.googleapis.com', 'https://updates.push.services.mozilla.com', 'https://web.push.apple.com', 'https://*.notify.windows.com'] } } },
  },
  {
    name: 'factors.push.web_push: subject required and checked; push services are origins',
    yaml: 'factors:\n  push:\n    web_push:\n      subject: ops@example.com\n      push_services: [https://push.example.com/path, "*.example.com"]\n',
    issues: {
      'factors.push.web_push.subject': [4, /mailto: address or an https: URL/],
      'factors.push.web_push.push_services.0': [5, /must be an origin/],
      'factors.push.web_push.push_services.1': [5, /must be an origin/],
    },
  },
  { name: 'factors.push.web_push: no subject', yaml: 'factors:\n  push:\n    web_push: {}\n', issues: { 'factors.push.web_push.subject': [3, /required|subject/] } },
  { name: 'a bad ttl', yaml: 'factors:\n  email_otp: {ttl: soon}\n', issues: { 'factors.email_otp.ttl': [2, /invalid duration "soon"/] } },
]);
