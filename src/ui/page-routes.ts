// The route table of the gateway's own pages: ui/ registers every page here
// and http/ looks them up by path, so the pipeline never imports a page
// (docs/architecture.md, "Layers").

import type { Config } from '../config/types.ts';
import type { PageHandler, Services } from '../web/context.ts';
import { challengePage } from './challenge-page.ts';
import { enrollPage } from './enroll-page.ts';
import { accountPage } from './account-page.ts';
import { loginPage } from './login-page.ts';
import { logoutPage } from './logout-page.ts';
import { authOptions, authVerify, registerOptions, registerVerify } from './webauthn-endpoints.ts';
import { registerOidcPages } from './oidc-pages.ts';
import { pushApprovePage, pushStatusEndpoint } from './push-pages.ts';
import { passkeyOptions, passkeyVerify } from './passkey-signin.ts';

/** Every page and endpoint of the gateway's own, by path (OIDC's are added when it is configured). */
const PAGES: ReadonlyArray<readonly [string, PageHandler]> = [
  ['/.gatehouse/login', loginPage],
  ['/.gatehouse/logout', logoutPage],
  ['/.gatehouse/challenge', challengePage],
  ['/.gatehouse/enroll', enrollPage],
  ['/.gatehouse/account', accountPage],
  ['/.gatehouse/webauthn/auth-options', authOptions],
  ['/.gatehouse/webauthn/auth-verify', authVerify],
  ['/.gatehouse/webauthn/register-options', registerOptions],
  ['/.gatehouse/webauthn/register-verify', registerVerify],
  ['/.gatehouse/push', pushApprovePage],
  ['/.gatehouse/push/status', pushStatusEndpoint],
  ['/.gatehouse/passkey/options', passkeyOptions],
  ['/.gatehouse/passkey/verify', passkeyVerify],
];

export async function registerPages(svc: Services, _config: Config): Promise<void> {
  for (const [path, page] of PAGES) svc.pages.set(path, page);
  if (svc.oidc) registerOidcPages(svc);
}
