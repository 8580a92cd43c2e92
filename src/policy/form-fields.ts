// The fields of a request body as the app reads them, for rules with `params`
// conditions (PHP's $_REQUEST: the query and the POST fields), pure. Only
// application/x-www-form-urlencoded and multipart/form-data carry fields;
// multipart file parts are files, not fields (PHP's $_FILES). A body the
// gateway did not read, of another type, or malformed is UNREADABLE: every
// condition on it is in doubt and the most demanding rule applies.

import { CONTROL, decodeParams, phpParam, UNREADABLE, type DecodedParams, type ParamsStyle } from './param-match.ts';

/** A body the gateway read in full before deciding: the exact bytes it forwards. */
export interface BodyFacts {
  contentType: string;
  bytes: Uint8Array;
}

/** No body at all (undefined), one the gateway could not read ('unread'), or the bytes it read. */
export type RequestBody = BodyFacts | 'unread' | undefined;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function mediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

export function bodyParams(body: RequestBody, style: ParamsStyle): DecodedParams {
  if (body === undefined) return { pairs: [], doubtful: false };
  if (body === 'unread') return UNREADABLE;
  const type = mediaType(body.contentType);
  const text = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('latin1');
  if (type === 'application/x-www-form-urlencoded') return decodeParams(text, style);
  if (type === 'multipart/form-data') return multipartFields(text, body.contentType, style) ?? UNREADABLE;
  return UNREADABLE;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SEPARATOR = /[ \t]*;[ \t]*/y;
const QUOTED = /"([^"\\\r\n]*)"/y;
const BARE = /[!#$%&*+.^_`|~0-9A-Za-z-][!#$%&'*+.^_`|~0-9A-Za-z-]*/y;

/**
 * The `; name=value` parameters of a header value from `from` on, names
 * lower-cased; null unless each is plainly written: apps' parsers part ways on
 * the rest (PHP takes 'single quotes' and skips a space after '=', Rack and
 * PHP take the last of a repeated name), so anything else is not read.
 */
function headerParams(text: string, from: number): Map<string, string> | null {
  const out = new Map<string, string>();
  let pos = from;
  for (;;) {
    SEPARATOR.lastIndex = pos;
    if (!SEPARATOR.test(text)) return /^[ \t]*$/.test(text.slice(pos)) ? out : null;
    TOKEN.lastIndex = SEPARATOR.lastIndex;
    const name = TOKEN.exec(text);
    if (name === null || text[TOKEN.lastIndex] !== '=') return null;
    const start = TOKEN.lastIndex + 1;
    const value = (text[start] === '"' ? QUOTED : BARE);
    value.lastIndex = start;
    const v = value.exec(text);
    if (v === null) return null;
    const key = name[0].toLowerCase();
    if (out.has(key) || key.endsWith('*')) return null; // repeated, or RFC 2231's name*= that PHP does not read
    out.set(key, v[1] ?? v[0]);
    pos = value.lastIndex;
  }
}

/**
 * The boundary, when the Content-Type names exactly one, plainly, and where
 * every app looks for it: PHP at the first "boundary" anywhere in the header,
 * Rack at the last "boundary=".
 */
function boundaryOf(contentType: string): string | null {
  const lower = contentType.toLowerCase();
  const at = lower.indexOf('boundary');
  if (at === -1 || lower.lastIndexOf('boundary=') !== at || !/;[ \t]*$/.test(lower.slice(0, at))) return null;
  const semi = contentType.indexOf(';');
  const params = semi === -1 ? null : headerParams(contentType, semi);
  const b = params?.get('boundary');
  return b !== undefined && b.length >= 1 && b.length <= 70 ? b : null; // RFC 2046 §5.1.1: 1 to 70 characters
}

function utf8(latin1: string): string | null {
  try {
    return UTF8.decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return null;
  }
}

/** multipart/form-data fields (RFC 7578); null when malformed (no boundary, no closing delimiter, a part without headers). */
function multipartFields(text: string, contentType: string, style: ParamsStyle): DecodedParams | null {
  const boundary = boundaryOf(contentType);
  if (boundary === null) return null;
  const delimiter = `--${boundary}`;
  const out: DecodedParams = { pairs: [], doubtful: false };
  let pos = text.startsWith(delimiter) ? 0 : text.indexOf(`\r\n${delimiter}`);
  if (pos === -1) return null;
  pos = text.indexOf(delimiter, pos) + delimiter.length;
  for (;;) {
    if (text.startsWith('--', pos)) return out; // the closing delimiter
    if (!text.startsWith('\r\n', pos)) return null;
    const headEnd = text.indexOf('\r\n\r\n', pos + 2);
    const next = text.indexOf(`\r\n${delimiter}`, pos);
    if (headEnd === -1 || next === -1 || headEnd > next) return null;
    const head = text.slice(pos + 2, headEnd);
    const content = text.slice(headEnd + 4, next);
    pos = next + 2 + delimiter.length;
    const disposition = partDisposition(head);
    if (disposition === null) return null;
    if (disposition.has('filename')) continue; // a file, not a field
    const rawName = disposition.get('name');
    if (rawName === undefined) continue; // PHP ignores a part without a name
    const name = utf8(rawName);
    if (name === null || CONTROL.test(name)) {
      out.doubtful = true;
      continue;
    }
    const decoded = utf8(content);
    const value = decoded === null || CONTROL.test(decoded) ? null : decoded;
    out.pairs.push(style === 'php' ? phpParam(name, value) : [name, value]);
  }
}

/** A part's Content-Disposition parameters: one `form-data` disposition among header lines each plainly written (no folding); else null. */
function partDisposition(head: string): Map<string, string> | null {
  let found: Map<string, string> | null = null;
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    TOKEN.lastIndex = 0;
    if (colon <= 0 || TOKEN.exec(line)?.[0].length !== colon) return null;
    if (line.slice(0, colon).toLowerCase() !== 'content-disposition') continue;
    if (found !== null) return null;
    const m = /^[ \t]*form-data(?=[ \t;]|$)/i.exec(line.slice(colon + 1));
    if (m === null) return null;
    found = headerParams(line, colon + 1 + m[0].length);
    if (found === null) return null;
  }
  return found;
}
