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

function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : null;
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
    const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(head);
    if (disposition === null) return null;
    if (/;\s*filename\*?=/i.test(disposition[1])) continue; // a file, not a field
    const nameMatch = /;\s*name="([^"]*)"/i.exec(disposition[1]) ?? /;\s*name=([^;\s]+)/i.exec(disposition[1]);
    if (nameMatch === null) continue; // PHP ignores a part without a name
    const name = utf8(nameMatch[1]);
    if (name === null || CONTROL.test(name)) {
      out.doubtful = true;
      continue;
    }
    const decoded = utf8(content);
    const value = decoded === null || CONTROL.test(decoded) ? null : decoded;
    out.pairs.push(style === 'php' ? phpParam(name, value) : [name, value]);
  }
}
