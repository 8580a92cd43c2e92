// shared_state: the state instances share (throttles, one-time codes, sessions
// revoked): in this process's memory, or in Redis for several instances.

import { isObject, type Reader } from '../reader.ts';
import { choice, nonEmpty, obj, onlyWhen, when, type PropertiesOf } from '../schema-kit.ts';
import { checkUrlScheme } from '../value-checks.ts';

export const SHARED_STATE_KINDS = ['memory', 'redis'] as const;

export const sharedStateSchema = obj(
  { kind: choice(SHARED_STATE_KINDS), url: nonEmpty, url_file: nonEmpty, prefix: nonEmpty } satisfies PropertiesOf<SharedStateConfig, 'url_file'>,
  ['kind'],
  {
    allOf: [
      when('kind', 'memory', {
        properties: { url: onlyWhen('kind is redis'), url_file: onlyWhen('kind is redis'), prefix: onlyWhen('kind is redis') },
      }),
      when('kind', 'redis', { required: ['url'] }),
    ],
  },
);

export type SharedStateConfig = { kind: 'memory' } | { kind: 'redis'; url: string; prefix: string };

export function buildSharedState(r: Reader, v: unknown): SharedStateConfig {
  if (!isObject(v) || v.kind !== 'redis') return { kind: 'memory' };
  const url = r.str(v, 'url') ?? '';
  if (url) checkUrlScheme(r, url, ['shared_state', 'url'], ['redis:', 'rediss:']);
  return { kind: 'redis', url, prefix: r.str(v, 'prefix') ?? 'gatehouse:' };
}
