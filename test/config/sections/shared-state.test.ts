import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'shared_state', [
  { name: 'default: this process\'s memory', yaml: '', want: { kind: 'memory' } },
  { name: 'memory', yaml: 'shared_state: {kind: memory}\n', want: { kind: 'memory' } },
  { name: 'redis with the default prefix', yaml: 'shared_state: {kind: redis, url: "redis://127.0.0.1:6379/0"}\n', want: { kind: 'redis', url: 'redis://127.0.0.1:6379/0', prefix: 'gatehouse:' } },
  { name: 'redis with a prefix, over TLS', yaml: 'shared_state: {kind: redis, url: "rediss://cache:6380", prefix: "gh1:"}\n', want: { kind: 'redis', url: 'rediss://cache:6380', prefix: 'gh1:' } },
  { name: 'redis with another scheme', yaml: 'shared_state:\n  kind: redis\n  url: http://cache\n', issues: { 'shared_state.url': [3, /must be a redis:\/\/ or rediss:\/\/ URL/] } },
  { name: 'schema: redis without url', yaml: 'shared_state:\n  kind: redis\n', issues: { 'shared_state.url': [1, /required when kind is redis/] } },
  { name: 'schema: a prefix on memory', yaml: 'shared_state:\n  kind: memory\n  prefix: x\n', issues: { 'shared_state.prefix': [3, /only allowed when kind is redis/] } },
  { name: 'schema: unknown kind', yaml: 'shared_state:\n  kind: etcd\n', issues: { 'shared_state.kind': [2, /must be one of: memory, redis/] } },
]);
