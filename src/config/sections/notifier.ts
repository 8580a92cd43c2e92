// notifier: how one-time codes and alerts are sent (a file, SMTP or a webhook).

import { isObject, type Reader } from '../reader.ts';
import { choice, nonEmpty, obj, onlyWhen, stringMap, when, type PropertiesOf } from '../schema-kit.ts';
import { checkHeaderMap, checkHttpUrl, checkUrlScheme } from '../value-checks.ts';

export const NOTIFIER_KINDS = ['file', 'smtp', 'webhook'] as const;

export const notifierSchema = obj(
  {
    kind: choice(NOTIFIER_KINDS),
    path: nonEmpty,
    url: nonEmpty,
    url_file: nonEmpty,
    from: nonEmpty,
    headers: stringMap,
    body_template: nonEmpty,
  } satisfies PropertiesOf<NotifierConfig, 'url_file'>,
  ['kind'],
  {
    allOf: [
      when('kind', 'file', {
        properties: {
          url: onlyWhen('kind is smtp or webhook'),
          url_file: onlyWhen('kind is smtp or webhook'),
          from: onlyWhen('kind is smtp'),
          headers: onlyWhen('kind is webhook'),
          body_template: onlyWhen('kind is webhook'),
        },
      }),
      when('kind', 'smtp', {
        required: ['url', 'from'],
        properties: { path: onlyWhen('kind is file'), headers: onlyWhen('kind is webhook'), body_template: onlyWhen('kind is webhook') },
      }),
      when('kind', 'webhook', {
        required: ['url'],
        properties: { path: onlyWhen('kind is file'), from: onlyWhen('kind is smtp') },
      }),
    ],
  },
);

export type NotifierConfig =
  | { kind: 'file'; path: string }
  | { kind: 'smtp'; url: string; from: string }
  | { kind: 'webhook'; url: string; headers: Record<string, string>; body_template: string };

export function buildNotifier(r: Reader, v: unknown): NotifierConfig {
  if (!isObject(v) || (v.kind !== 'smtp' && v.kind !== 'webhook')) {
    return { kind: 'file', path: (isObject(v) && r.str(v, 'path')) || 'data/outbox.log' };
  }
  const url = r.str(v, 'url') ?? '';
  if (v.kind === 'smtp') {
    if (url) checkUrlScheme(r, url, ['notifier', 'url'], ['smtp:', 'smtps:']);
    const from = r.str(v, 'from') ?? '';
    if (from && !/@/.test(from)) r.fail(['notifier', 'from'], 'must be an email address');
    return { kind: 'smtp', url, from };
  }
  if (url) checkHttpUrl(r, url, ['notifier', 'url'], { allowPath: true, allowQuery: true });
  const headers = checkHeaderMap(r, v, ['notifier']);
  // Empty template: the notifier sends its default JSON body.
  return { kind: 'webhook', url, headers, body_template: r.str(v, 'body_template') ?? '' };
}
