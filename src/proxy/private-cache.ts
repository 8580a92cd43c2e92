// A page made for one signed-in user must not be served to another by a shared
// cache in front of the gateway (README "Shared caches"). An answer to a request
// that carried an identity is marked `private` unless the upstream already said
// `private` or `no-store`; directives that only shared caches read go with it.

/** Directives that only address shared caches: meaningless (or contradictory) next to `private`. */
const SHARED_ONLY = new Set(['public', 's-maxage', 'proxy-revalidate']);

/** Splits a Cache-Control value at commas outside quoted strings. */
function directives(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\' && i + 1 < value.length) {
      cur += c + value[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

function directiveName(d: string): string {
  const eq = d.indexOf('=');
  return (eq === -1 ? d : d.slice(0, eq)).trim().toLowerCase();
}

/**
 * The Cache-Control value to send for an identity-bearing answer, or undefined
 * when the upstream's value already keeps shared caches out. `private="Set-Cookie"`
 * (private for some fields only) still lets a shared cache store the body: it
 * becomes plain `private`.
 */
export function privateCacheControl(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return 'private';
  const list = value === undefined ? [] : directives(Array.isArray(value) ? value.join(', ') : value);
  const kept: string[] = [];
  for (const d of list) {
    const name = directiveName(d);
    if (name === 'no-store' || (name === 'private' && d.trim().toLowerCase() === 'private')) return undefined;
    if (name === 'private' || SHARED_ONLY.has(name)) continue;
    kept.push(d);
  }
  return ['private', ...kept].join(', ');
}
