import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'headers', [
  {
    name: 'defaults: X-Gatehouse- names and a signed assertion',
    yaml: '',
    want: {
      prefix: 'X-Gatehouse-', jwt: true,
      names: { user: 'X-Gatehouse-User', email: 'X-Gatehouse-Email', groups: 'X-Gatehouse-Groups', auth_methods: 'X-Gatehouse-Auth-Methods', auth_time: 'X-Gatehouse-Auth-Time', assertion: 'X-Gatehouse-Assertion' },
    },
  },
  {
    name: 'a prefix names every header not set by itself',
    yaml: 'headers:\n  prefix: X-Auth-\n  jwt: false\n  names: {user: Remote-User}\n',
    want: {
      prefix: 'X-Auth-', jwt: false,
      names: { user: 'Remote-User', email: 'X-Auth-Email', groups: 'X-Auth-Groups', auth_methods: 'X-Auth-Auth-Methods', auth_time: 'X-Auth-Auth-Time', assertion: 'X-Auth-Assertion' },
    },
  },
  {
    name: 'schema: header names must be tokens',
    yaml: 'headers:\n  prefix: "X Auth"\n  names: {email: "Mail:"}\n',
    issues: { 'headers.prefix': [2, /must be a valid HTTP header name/], 'headers.names.email': [3, /must be a valid HTTP header name/] },
  },
  { name: 'schema: jwt is a boolean', yaml: 'headers:\n  jwt: "yes"\n', issues: { 'headers.jwt': [2, /must be true or false/] } },
]);
