// store: where users' factors and stashes persist (SQLite file or PostgreSQL).

import { isObject, type Reader } from '../reader.ts';
import { choice, nonEmpty, obj, onlyWhen, when, type PropertiesOf } from '../schema-kit.ts';
import { checkUrlScheme } from '../value-checks.ts';

export const STORE_KINDS = ['sqlite', 'postgres'] as const;

export const storeSchema = obj(
  { kind: choice(STORE_KINDS), path: nonEmpty, url: nonEmpty, url_file: nonEmpty } satisfies PropertiesOf<StoreConfig, 'url_file'>,
  ['kind'],
  {
    allOf: [
      when('kind', 'sqlite', { properties: { url: onlyWhen('kind is postgres'), url_file: onlyWhen('kind is postgres') } }),
      when('kind', 'postgres', { required: ['url'], properties: { path: onlyWhen('kind is sqlite') } }),
    ],
  },
);

export type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export function buildStore(r: Reader, v: unknown): StoreConfig {
  if (!isObject(v)) return { kind: 'sqlite', path: 'data/gatehouse.db' };
  if (v.kind === 'postgres') {
    const url = r.str(v, 'url') ?? '';
    if (url) checkUrlScheme(r, url, ['store', 'url'], ['postgres:', 'postgresql:']);
    return { kind: 'postgres', url };
  }
  return { kind: 'sqlite', path: r.str(v, 'path') ?? 'data/gatehouse.db' };
}
