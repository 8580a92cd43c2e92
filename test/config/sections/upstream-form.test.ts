import t from 'tap';
import { sectionTable } from './section-table.ts';

const head = 'identity:\n  source: upstream_form\n  upstream_form:\n';

sectionTable(t, 'identity', [
  {
    name: 'defaults; set_cookie is the app cookie; the login path is open in the policy',
    yaml: `${head}    login_path: /login.php\n    success: {set_cookie: SID}\n`,
    want: {
      source: 'upstream_form',
      upstream_form: { login_path: '/login.php', username_field: 'username', username_case: 'fold', allow_unicode: false, success: { set_cookie: 'SID' }, app_cookies: ['SID'] },
    },
  },
  {
    name: 'every key set; a users file may accompany it',
    yaml: `identity:
  source: upstream_form
  file: {path: users.yaml}
  upstream_form:
    login_path: /index.php
    logout_path: /logout
    login_match: {query: {do: login}, fields: [u]}
    logout_match: {params: {do: logout}}
    username_field: u
    username_case: exact
    allow_unicode: true
    whoami: {path: /me, pattern: "user=(\\\\w+)"}
    app_cookies: [DW*, PHPSESSID]
    success: {status: 302, location: /start, user_header: X-User}
`,
    want: {
      source: 'upstream_form',
      file: { path: 'users.yaml' },
      upstream_form: {
        login_path: '/index.php', logout_path: '/logout', login_match: { query: { do: 'login' }, fields: ['u'] }, logout_match: { params: { do: 'logout' } },
        username_field: 'u', username_case: 'exact', allow_unicode: true, success: { status: 302, location: '/start', user_header: 'x-user' },
        whoami: { path: '/me', pattern: 'user=(\\w+)' }, app_cookies: ['DW*', 'PHPSESSID'],
      },
    },
  },
  {
    name: 'no app cookie named: warned',
    yaml: `${head}    login_path: /login\n    success: {status: 302}\n`,
    partial: true,
    want: { upstream_form: { app_cookies: [] } },
    warnings: [/no app_cookies \(nor success\.set_cookie\)/],
  },
  {
    name: 'paths without /, a bad pattern, a bad cookie name',
    yaml: `${head}    login_path: login\n    logout_path: out\n    whoami: {path: me, pattern: "("}\n    app_cookies: ["a b"]\n    success: {status: 302}\n`,
    issues: {
      'identity.upstream_form.login_path': [4, /must be a path starting with \//],
      'identity.upstream_form.logout_path': [5, /must be a path starting with \//],
      'identity.upstream_form.whoami.path': [6, /must be a path starting with \//],
      'identity.upstream_form.whoami.pattern': [6, /is not a regular expression/],
      'identity.upstream_form.app_cookies[0]': [7, /must be a cookie name/],
    },
  },
  {
    name: 'schema: success and login_match must name something',
    yaml: `${head}    login_path: /login\n    login_match: {}\n    success: {}\n`,
    issues: {
      'identity.upstream_form.login_match': [5, /must name at least one of query, params, fields/],
      'identity.upstream_form.success': [6, /must name at least one of status, location, set_cookie \(user_header only confirms which user the app signed in\)/],
    },
  },
  {
    name: 'success: user_header alone never tells a successful login',
    yaml: `${head}    login_path: /login\n    success: {user_header: X-Remote-User}\n`,
    issues: {
      'identity.upstream_form.success': [5, /^must name at least one of status, location, set_cookie \(user_header only confirms which user the app signed in\)$/],
    },
  },
]);

sectionTable(t, 'policy', [
  {
    name: 'the app\'s sign-in is derived into policy.sign_in',
    yaml: `${head}    login_path: /index.php\n    login_match: {query: {do: login}}\n    success: {set_cookie: SID}\n`,
    partial: true,
    want: { sign_in: { path: '/index.php', match: { query: { do: 'login' } } } },
  },
  {
    name: 'a declared rule may not take the implicit sign-in rule\'s id',
    yaml: `${head}    login_path: /login\n    success: {status: 302}\npolicy:\n  rules:\n    - { id: upstream_form-login, match: { path: /login }, require: none }\n`,
    issues: {
      'policy.rules[0].id': [8, /^"upstream_form-login" is reserved for the implicit rule that keeps the login page and sign-in of identity\.upstream_form open; choose another id$/],
    },
  },
]);
