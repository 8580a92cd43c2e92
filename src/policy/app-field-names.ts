// The field names an app may read from what a request carries, pure. Where
// the gateway must know whether a request names a field the app acts on
// (`_method`, upstream_form's username field), every spelling an app decodes
// to that name counts: percent-encoded (IIS's %uXXXX too), PHP's mangling,
// Rack 2's ';' pairs. Decoding here never fails, so no spelling is missed;
// values are compared by the callers.

import { bodyParams } from './form-fields.ts';
import { phpName } from './param-match.ts';

const OTHER_THAN_ALNUM = /[^a-z0-9-]/;
const EVERY_OTHER_THAN_ALNUM = /[^a-z0-9]/g;

/**
 * A header name as apps read it, for comparing: lower case, every character
 * but a letter or digit read as '-'. CGI, PHP and many Java/Python frameworks
 * treat '_' as '-', lighttpd's CGI/FastCGI turns every other character into
 * '_', and PHP turns '.' into '_', so `X.Gatehouse.User` is X-Gatehouse-User.
 */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return OTHER_THAN_ALNUM.test(lower) ? lower.replace(EVERY_OTHER_THAN_ALNUM, '-') : lower;
}

/** One percent-decoding into a byte string ('+' a space, %uXXXX a UTF-16 unit). */
export function decodeLoosely(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  return raw.replace(/\+/g, ' ').replace(/%(?:([0-9a-f]{2})|u([0-9a-f]{4}))/gi, (_, hex?: string, unit?: string) => String.fromCharCode(parseInt(hex ?? unit!, 16)));
}

/**
 * Whether an app may read the parameter `name` (decoded) as the field
 * `field`: as sent (Rack, servlets), as PHP does (cut at NUL, leading spaces
 * dropped, ' ', '.' and an unclosed '[' made '_'), or case-blind (`foldCase`:
 * ASP.NET). PHP's `field[k]` is an array of that name: 'doubt'.
 */
export function readsAs(name: string, field: string, foldCase: boolean): 'yes' | 'no' | 'doubt' {
  const same = (a: string) => a === field || (foldCase && a.length === field.length && a.toLowerCase() === field.toLowerCase());
  if (same(name)) return 'yes';
  const php = phpName(name);
  return !same(php.base) ? 'no' : php.key === undefined ? 'yes' : 'doubt';
}

/** The pairs of urlencoded text (a query without '?', a form body as latin1), split at '&' and, as Rack 2 does, ';', loosely decoded. */
export function encodedFields(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of text.split(/[&;]/)) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    out.push(eq === -1 ? [decodeLoosely(pair), ''] : [decodeLoosely(pair.slice(0, eq)), decodeLoosely(pair.slice(eq + 1))]);
  }
  return out;
}

/**
 * The fields of a POST body an app may read: urlencoded, or no Content-Type
 * (Rack reads it as a form), loosely decoded; multipart as form-fields.ts reads
 * it (value null: unreadable). Null when it cannot be read (a multipart body
 * apps may read differently); none for any other type.
 */
export function bodyFields(kind: 'form' | 'untyped' | 'ambiguous' | 'other', contentType: string | undefined, body: Buffer): (readonly [string, string | null])[] | null {
  const multipart = (contentType ?? '').toLowerCase().includes('multipart');
  if (kind === 'untyped' || (kind === 'form' && !multipart)) return encodedFields(body.toString('latin1'));
  if (kind !== 'form') return kind === 'ambiguous' ? null : [];
  const fields = bodyParams({ contentType: contentType ?? '', bytes: body }, 'plain');
  return fields.doubtful ? null : fields.pairs;
}
