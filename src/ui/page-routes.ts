// The route table of the gateway's own pages: ui/ registers every page here
// and http/ looks them up by path, so the pipeline never imports a page
// (docs/architecture.md, "Layers").

import type { Config } from '../config/types.ts';
import type { Services } from '../web/context.ts';
import { challengePage } from './challenge-page.ts';
import { enrollPage } from './enroll-page.ts';
import { accountPage } from './account-page.ts';
import { loginPage } from './login-page.ts';
import { logoutPage } from './logout-page.ts';
import { authOptions, authVerify, registerOptions, registerVerify } from './webauthn-endpoints.ts';
import { registerOidcPages } from './oidc-pages.ts';
import { pushApprovePage, pushStatusEndpoint } from './push-pages.ts';
import { passkeyOptions, passkeyVerify } from './passkey-signin.ts';

export async function registerPages(svc: Services, _config: Config): Promise<void> {
  svc.pages.set('/.gatehouse/login', loginPage);
  svc.pages.set('/.gatehouse/logout', logoutPage);
  svc.pages.set('/.gatehouse/challenge', challengePage);
  svc.pages.set('/.gatehouse/enroll', enrollPage);
  svc.pages.set('/.gatehouse/account', accountPage);
  svc.pages.set('/.gatehouse/webauthn/auth-options', authOptions);
  svc.pages.set('/.gatehouse/webauthn/auth-verify', authVerify);
  svc.pages.set('/.gatehouse/webauthn/register-options', registerOptions);
  svc.pages.set('/.gatehouse/webauthn/register-verify', registerVerify);
  svc.pages.set('/.gatehouse/push', pushApprovePage);
  svc.pages.set('/.gatehouse/push/status', pushStatusEndpoint);
  svc.pages.set('/.gatehouse/passkey/options', passkeyOptions);
  svc.pages.set('/.gatehouse/passkey/verify', passkeyVerify);
  if (svc.oidc) registerOidcPages(svc);
}
