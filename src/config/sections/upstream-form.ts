// identity.upstream_form: the app's own login form is the identity source.

import { isObject, messageOf, type Obj, type Reader } from '../reader.ts';
import { bool, choice, int, nonEmpty, obj, str, strList, type PropertiesOf, type Schema } from '../schema-kit.ts';

export const USERNAME_CASE = ['fold', 'exact'] as const;

const paramValues: Schema = { type: 'object', additionalProperties: str, minProperties: 1 };
// user_header only confirms who signed in (as whoami does): one of these must tell that the login succeeded.
const SUCCESS_NEEDS = 'must name at least one of status, location, set_cookie (user_header only confirms which user the app signed in)';
const formMatch = obj({ query: paramValues, params: paramValues, fields: strList } satisfies PropertiesOf<FormRequestMatch>, [], { minProperties: 1, errorHint: 'must name at least one of query, params, fields' });

export const upstreamFormSchema = obj(
  {
    login_path: nonEmpty,
    logout_path: nonEmpty,
    login_match: formMatch,
    logout_match: formMatch,
    username_field: nonEmpty,
    username_case: choice(USERNAME_CASE),
    allow_unicode: bool,
    whoami: obj({ path: nonEmpty, pattern: nonEmpty } satisfies PropertiesOf<NonNullable<UpstreamFormIdentityConfig['whoami']>>, ['path', 'pattern']),
    app_cookies: strList,
    success: obj(
      { status: int(100, 599), location: nonEmpty, set_cookie: nonEmpty, user_header: nonEmpty } satisfies PropertiesOf<UpstreamFormIdentityConfig['success']>,
      [],
      { minProperties: 1, errorHint: SUCCESS_NEEDS },
    ),
  } satisfies PropertiesOf<UpstreamFormIdentityConfig>,
  ['login_path', 'success'],
);

/** Which requests to a login/logout path are the sign-in / sign-out (single-script apps): see policy/request-match.ts. */
export interface FormRequestMatch {
  query?: Record<string, string>; // URL query parameters with these values (`*` wildcards)
  params?: Record<string, string>; // the same, in the query or the form body
  fields?: string[];               // form fields that must be present
}
export interface UpstreamFormIdentityConfig {
  login_path: string;
  logout_path?: string;
  /** A request to login_path is the sign-in (POST) or login page (GET) only when it also matches this. */
  login_match?: FormRequestMatch;
  logout_match?: FormRequestMatch;
  username_field: string;         // default username
  /** How the app compares usernames: fold (case and accents, the default) or exact. */
  username_case: (typeof USERNAME_CASE)[number];
  allow_unicode: boolean;         // default false: non-ASCII usernames refused
  /** user_header: a header of the app's login answer that must name the same user. */
  success: { status?: number; location?: string; set_cookie?: string; user_header?: string };
  /** A page fetched with the new app cookies whose `pattern` (first group) must name the same user. */
  whoami?: { path: string; pattern: string };
  /** The app's session cookie names (a trailing * matches a prefix): tied to the gateway session that released them. */
  app_cookies: string[];
}

export function buildUpstreamForm(r: Reader, u: Obj, warnings: string[]): UpstreamFormIdentityConfig {
  const at = ['identity', 'upstream_form'];
  const login_path = r.str(u, 'login_path') ?? '/login';
  if (!login_path.startsWith('/')) r.fail([...at, 'login_path'], 'must be a path starting with /');
  const logout_path = r.str(u, 'logout_path');
  if (logout_path !== undefined && !logout_path.startsWith('/')) r.fail([...at, 'logout_path'], 'must be a path starting with /');
  const succ = r.section(u, 'success');
  const status = r.optionalInt(succ, 'status');
  const location = r.str(succ, 'location');
  const set_cookie = r.str(succ, 'set_cookie');
  const user_header = r.str(succ, 'user_header')?.toLowerCase();
  // judgeLogin (identity/upstream-form.ts) refuses every login otherwise. `success: {}` is the schema's (same message).
  if (isObject(u.success) && status === undefined && location === undefined && set_cookie === undefined) r.fail([...at, 'success'], SUCCESS_NEEDS);
  const login_match = buildFormMatch(r, u, 'login_match');
  const logout_match = buildFormMatch(r, u, 'logout_match');
  const whoami = u.whoami !== undefined ? buildWhoami(r, r.section(u, 'whoami'), [...at, 'whoami']) : undefined;
  const app_cookies = r.list(u, 'app_cookies') ?? (set_cookie !== undefined ? [set_cookie] : []);
  if (app_cookies.length === 0) {
    warnings.push('identity.upstream_form: no app_cookies (nor success.set_cookie): the app\'s session cookies are not tied to the gateway session that released them; name them in app_cookies');
  }
  app_cookies.forEach((name, i) => {
    if (!/^[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?$/.test(name)) r.fail([...at, 'app_cookies', i], 'must be a cookie name, optionally ending in * (a prefix)');
  });
  return {
    login_path,
    ...(logout_path !== undefined ? { logout_path } : {}),
    ...(login_match !== undefined ? { login_match } : {}),
    ...(logout_match !== undefined ? { logout_match } : {}),
    username_field: r.str(u, 'username_field') ?? 'username',
    username_case: r.oneOf(u, 'username_case', USERNAME_CASE, 'fold'),
    allow_unicode: r.bool(u, 'allow_unicode', false),
    success: {
      ...(status !== undefined ? { status } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(set_cookie !== undefined ? { set_cookie } : {}),
      ...(user_header !== undefined ? { user_header } : {}),
    },
    ...(whoami !== undefined ? { whoami } : {}),
    app_cookies,
  };
}

function buildWhoami(r: Reader, w: Obj, at: string[]): { path: string; pattern: string } {
  const whoami = { path: r.str(w, 'path') ?? '/', pattern: r.str(w, 'pattern') ?? '' };
  if (!whoami.path.startsWith('/')) r.fail([...at, 'path'], 'must be a path starting with /');
  try {
    new RegExp(whoami.pattern);
  } catch (err) {
    r.fail([...at, 'pattern'], `is not a regular expression: ${messageOf(err)}`);
  }
  return whoami;
}

/** identity.upstream_form.login_match / logout_match. */
function buildFormMatch(r: Reader, u: Obj, key: string): FormRequestMatch | undefined {
  if (u[key] === undefined) return undefined;
  const m = r.section(u, key);
  const values = (k: string): Record<string, string> | undefined => {
    const found = r.stringMap(m, k);
    return Object.keys(found).length > 0 ? found : undefined;
  };
  const query = values('query');
  const params = values('params');
  const fields = r.list(m, 'fields');
  return { ...(query ? { query } : {}), ...(params ? { params } : {}), ...(fields ? { fields } : {}) };
}
