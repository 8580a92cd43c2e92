// Registers the reserved pages contributed by features beyond sign-in
// (second factors, enrollment, account, forward-auth).

import type { Config } from '../config/types.ts';
import type { Services } from '../http/context.ts';
import { challengePage } from './challenge-page.ts';
import { enrollPage } from './enroll-page.ts';
import { accountPage } from './account-page.ts';
import { authzHandler } from '../http/forward-auth.ts';
import { authOptions, authVerify, registerOptions, registerVerify } from './webauthn-endpoints.ts';
import { registerOidcPages } from './oidc-pages.ts';

export async function registerFeaturePages(svc: Services, _config: Config): Promise<void> {
  svc.pages.set('/.gatehouse/challenge', challengePage);
  svc.pages.set('/.gatehouse/enroll', enrollPage);
  svc.pages.set('/.gatehouse/account', accountPage);
  svc.pages.set('/.gatehouse/webauthn/auth-options', authOptions);
  svc.pages.set('/.gatehouse/webauthn/auth-verify', authVerify);
  svc.pages.set('/.gatehouse/webauthn/register-options', registerOptions);
  svc.pages.set('/.gatehouse/webauthn/register-verify', registerVerify);
  svc.pages.set('/.gatehouse/authz', authzHandler);
  if (svc.oidc) registerOidcPages(svc);
}
