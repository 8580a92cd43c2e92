// Method overrides: frameworks let a POST act as another method. Rails, Laravel
// and Symfony read a `_method` form field (Rack also the query), express's
// method-override and many APIs read X-HTTP-Method-Override, X-HTTP-Method or
// X-Method-Override. Rules must see the method the app will run, so the gateway
// collects every override a request claims; per route (`method_override`):
//   evaluate (default)  the request must satisfy the rules of the real method
//                       AND of every claimed override
//   reject              a request claiming an override gets 400
//   pass                overrides are ignored (the app honours none)
// Pure: the adapters hand over header values and form bodies. Field names are
// read every way an app may spell them (percent-encoded, PHP's mangling), so
// no spelling of `_method` slips past as a plain POST.

import { bodyFields, canonicalHeaderName, encodedFields, readsAs } from './app-field-names.ts';

export const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const FIELD = '_method';
const ASPNET_FIELD = 'X-HTTP-Method-Override';
const OVERRIDE_SET: ReadonlySet<string> = new Set(OVERRIDE_HEADERS);
const NONE: readonly string[] = [];

type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Override methods claimed by headers (upper-cased, as sent), under any spelling
 * an app reads as one of them (canonicalHeaderName; proxy/owned-headers.ts
 * strips the same spellings on the way upstream).
 */
export function headerOverrides(headers: HeaderBag): readonly string[] {
  let out: string[] | undefined;
  for (const name in headers) {
    // Node gives the names lower-cased; every override header's name holds "method".
    if (!name.includes('method')) continue;
    const v = headers[name];
    if (v === undefined || !OVERRIDE_SET.has(canonicalHeaderName(name))) continue;
    out ??= [];
    for (const one of Array.isArray(v) ? v : [v]) for (const part of one.split(',')) out.push(part.trim().toUpperCase());
  }
  return out ?? NONE;
}

/**
 * A claimed override the gateway cannot read (a form field name or value it
 * cannot decode): the decision refuses the request rather than guess.
 */
export const UNREADABLE_OVERRIDE = '(unreadable)';

/** Whether a field name (decoded) is an override field to some app: `_method`, or ASP.NET MVC's X-HTTP-Method-Override (case-blind). */
function overrideField(name: string): 'yes' | 'no' | 'doubt' {
  const method = readsAs(name, FIELD, false);
  return method !== 'no' ? method : readsAs(name, ASPNET_FIELD, true);
}

/** The override values among fields (value null: unreadable). */
function overridesIn(fields: readonly (readonly [string, string | null])[]): readonly string[] {
  let out: string[] | undefined;
  for (const [name, value] of fields) {
    const found = overrideField(name);
    if (found !== 'no') (out ??= []).push(found === 'yes' && value !== null ? value.trim().toUpperCase() : UNREADABLE_OVERRIDE);
  }
  return out ?? NONE;
}

/** Override values in urlencoded text (a query, or a form body read as latin1). */
function encodedOverrides(text: string): readonly string[] {
  // Nearly every query names no override: it has no '%' and no "method" in any case.
  return /method|%/i.test(text) ? overridesIn(encodedFields(text)) : NONE;
}

/** Override values in a query string ('' or '?…'). */
export function queryOverrides(query: string): readonly string[] {
  return query.length <= 1 ? NONE : encodedOverrides(query.startsWith('?') ? query.slice(1) : query);
}

/**
 * How apps may read a POST body of this Content-Type for form fields: 'form'
 * (urlencoded or multipart), 'untyped' (none given: Rack reads it as a form),
 * 'ambiguous' (PHP and Rack cut the media type at ',' or a space as well as
 * ';', and find a form where the gateway would not), or 'other'.
 */
export function formKind(contentType: string | undefined): 'form' | 'untyped' | 'ambiguous' | 'other' {
  const raw = (contentType ?? '').trim().toLowerCase();
  if (raw === '') return 'untyped';
  const strict = raw.split(';', 1)[0].trim();
  const loose = raw.split(/[;,\s]/, 1)[0];
  const isForm = (t: string) => t === 'application/x-www-form-urlencoded' || t === 'multipart/form-data';
  if (isForm(strict)) return 'form';
  return isForm(loose) ? 'ambiguous' : 'other';
}

/** Whether a body of this Content-Type is a form the gateway reads fields from (exactly urlencoded or multipart). */
export function isFormBody(contentType: string | undefined): boolean {
  return formKind(contentType) === 'form';
}

/**
 * Whether a body's bytes are not what the app reads: a Content-Encoding other
 * than identity (gzip, deflate…), which the app or a filter in front of it
 * (Apache's mod_deflate input filter) decodes before it sees the fields.
 */
export function isEncodedBody(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return false;
  return contentEncoding.split(',').some((c) => { const e = c.trim().toLowerCase(); return e !== '' && e !== 'identity'; });
}

/** Override values in a form body: urlencoded, untyped (read as urlencoded, as Rack does) or multipart (as form-fields.ts reads it). */
export function formOverrides(contentType: string | undefined, body: Buffer): readonly string[] {
  const kind = formKind(contentType);
  if (kind === 'untyped' || (kind === 'form' && !(contentType ?? '').toLowerCase().includes('multipart'))) return encodedOverrides(body.toString('latin1'));
  const fields = bodyFields(kind, contentType, body);
  return fields === null ? [UNREADABLE_OVERRIDE] : overridesIn(fields);
}

/** Concatenation that allocates only when both sides hold something. */
export function joinOverrides(a: readonly string[], b: readonly string[]): readonly string[] {
  return a.length === 0 ? b : b.length === 0 ? a : [...a, ...b];
}
