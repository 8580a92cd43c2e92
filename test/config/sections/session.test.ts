import t from 'tap';
import { sectionTable, SECRETS } from './section-table.ts';

const S = SECRETS.GATEHOUSE_SESSION_SECRET;

sectionTable(t, 'session', [
  {
    name: 'defaults on http: a plain cookie name, the secret from the environment',
    yaml: '',
    want: { secret: S, cookie_name: 'gatehouse', max_age: 43_200_000, idle_timeout: 1_800_000, remember_device: 2_592_000_000 },
  },
  {
    name: 'on https the default cookie is __Host-',
    yaml: 'server: {public_url: "https://portal.example.com"}\n',
    partial: true,
    want: { cookie_name: '__Host-gatehouse' },
  },
  {
    name: 'every key set; the file\'s secret wins over the environment',
    yaml: `session:\n  secret: ${'x'.repeat(32)}\n  cookie_name: gh_sid\n  max_age: 8h\n  idle_timeout: 15m\n  remember_device: 0\n`,
    want: { secret: 'x'.repeat(32), cookie_name: 'gh_sid', max_age: 28_800_000, idle_timeout: 900_000, remember_device: 0 },
  },
  {
    name: 'a short secret in the file',
    yaml: 'session:\n  secret: short\n',
    issues: { 'session.secret': [2, /^must be at least 32 characters \(got 5\)$/] },
  },
  {
    name: 'a short secret in the environment says so',
    yaml: '',
    env: { ...SECRETS, GATEHOUSE_SESSION_SECRET: 'short' },
    issues: { 'session.secret': [undefined, /^\(from GATEHOUSE_SESSION_SECRET\) must be at least 32 characters \(got 5\)$/] },
  },
  {
    name: 'a __Host- cookie on http, and a bad cookie name',
    yaml: 'session:\n  cookie_name: __Host-gh\n',
    issues: { 'session.cookie_name': [2, /needs an https server\.public_url/] },
  },
  {
    name: 'a cookie name with a space',
    yaml: 'session:\n  cookie_name: "a b"\n',
    issues: { 'session.cookie_name': [2, /must be a valid cookie name/] },
  },
  {
    name: 'a bare number of seconds is ambiguous',
    yaml: 'session:\n  max_age: 3600\n',
    issues: { 'session.max_age': [2, /"3600" needs a unit/] },
  },
]);
