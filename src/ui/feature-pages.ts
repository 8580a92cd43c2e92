// Registers the reserved pages contributed by features beyond sign-in
// (second factors, enrollment, account, forward-auth).

import type { Config } from '../config/types.ts';
import type { Services } from '../http/context.ts';

export async function registerFeaturePages(_svc: Services, _config: Config): Promise<void> {
  // Filled in as features land.
}
