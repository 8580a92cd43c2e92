// Method overrides: frameworks let a POST act as another method. Rails, Laravel
// and Symfony read a `_method` form field (Rack also the query), express's
// method-override and many APIs read X-HTTP-Method-Override, X-HTTP-Method or
// X-Method-Override. Rules must see the method the app will run, so the gateway
// collects every override a request claims; per route (`method_override`):
//   evaluate (default)  the request must satisfy the rules of the real method
//                       AND of every claimed override
//   reject              a request claiming an override gets 400
//   pass                overrides are ignored (the app honours none)
// Pure: the adapters hand over header values and form bodies.

export const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const FIELD = '_method';
const NONE: readonly string[] = [];

type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** Override methods claimed by headers (upper-cased, as sent). */
export function headerOverrides(headers: HeaderBag): readonly string[] {
  let out: string[] | undefined;
  for (const name of OVERRIDE_HEADERS) {
    const v = headers[name];
    if (v === undefined) continue;
    out ??= [];
    for (const one of Array.isArray(v) ? v : [v]) for (const part of one.split(',')) out.push(part.trim().toUpperCase());
  }
  return out ?? NONE;
}

/** `_method` values in a query string ('' or '?…'). */
export function queryOverrides(query: string): readonly string[] {
  if (!query.includes(FIELD)) return NONE;
  return new URLSearchParams(query.slice(1)).getAll(FIELD).map((m) => m.trim().toUpperCase());
}

/** Whether a body of this Content-Type can carry a `_method` field the app would read. */
export function isFormBody(contentType: string | undefined): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t === 'application/x-www-form-urlencoded' || t === 'multipart/form-data';
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

/** `_method` values in a form body (urlencoded or multipart). */
export function formOverrides(contentType: string | undefined, body: Buffer): readonly string[] {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const text = body.toString('latin1');
  if (!text.includes(FIELD)) return NONE;
  if (t === 'application/x-www-form-urlencoded') {
    return new URLSearchParams(text).getAll(FIELD).map((m) => m.trim().toUpperCase());
  }
  // multipart: a part whose Content-Disposition names the field; its value runs to the next CRLF.
  const out: string[] = [];
  const part = /content-disposition:[^\r\n]*;\s*name="?_method"?[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)/gi;
  for (const m of text.matchAll(part)) out.push(m[1].trim().toUpperCase());
  return out;
}

/** Concatenation that allocates only when both sides hold something. */
export function joinOverrides(a: readonly string[], b: readonly string[]): readonly string[] {
  return a.length === 0 ? b : b.length === 0 ? a : [...a, ...b];
}
