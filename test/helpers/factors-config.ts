// A factors config for tests that build a factor registry without loading a config file.

import type { FactorsConfig } from '../../src/config/types.ts';

export function testFactorsConfig(encryptionKey: string): FactorsConfig {
  return {
    encryption_key: encryptionKey,
    totp: { issuer: 'Example Portal' },
    webauthn: { rp_name: 'Example Portal' },
    email_otp: { ttl: 600_000, length: 6 },
    sms_otp: { ttl: 300_000, length: 6 },
    recovery_codes: { count: 10 },
  };
}
