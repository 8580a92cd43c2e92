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
]);
