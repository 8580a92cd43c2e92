// factors: settings of each second-factor kind and the key sealing their secrets.

import type { Millis } from '../duration.ts';
import type { Obj, Reader } from '../reader.ts';
import { duration, int, nonEmpty, obj, type PropertiesOf } from '../schema-kit.ts';
import { secretValue } from '../secret-value.ts';
import { buildPush, pushSchema, type PushConfig } from './push.ts';

const otp = obj({ ttl: duration, length: int(4, 10) } satisfies PropertiesOf<OtpConfig>);

export const factorsSchema = obj({
  encryption_key: nonEmpty,
  encryption_key_file: nonEmpty,
  totp: obj({ issuer: nonEmpty } satisfies PropertiesOf<FactorsConfig['totp']>),
  webauthn: obj({ rp_name: nonEmpty } satisfies PropertiesOf<FactorsConfig['webauthn']>),
  email_otp: otp,
  sms_otp: otp,
  recovery_codes: obj({ count: int(1, 100) } satisfies PropertiesOf<FactorsConfig['recovery_codes']>),
  push: pushSchema,
} satisfies PropertiesOf<FactorsConfig, 'encryption_key_file'>);

export interface OtpConfig { ttl: Millis; length: number }
export interface FactorsConfig {
  encryption_key: string;         // secret for TOTP seeds at rest (>= 32 chars)
  totp: { issuer: string };
  webauthn: { rp_name: string };
  email_otp: OtpConfig;
  sms_otp?: OtpConfig;
  recovery_codes: { count: number };
  /** Absent: no push factor (factors.push turns it on). */
  push?: PushConfig;
}

export function buildFactors(r: Reader, f: Obj, productName: string, env: NodeJS.ProcessEnv): FactorsConfig {
  const at = ['factors'];
  const encryption_key = secretValue(r, f, 'encryption_key', at, env, 'GATEHOUSE_ENCRYPTION_KEY');
  const otpOf = (key: string): OtpConfig => {
    const o = r.section(f, key);
    return { ttl: r.duration(o, 'ttl', [...at, key], '10m'), length: r.int(o, 'length', 6) };
  };
  return {
    encryption_key,
    totp: { issuer: r.str(r.section(f, 'totp'), 'issuer') ?? productName },
    webauthn: { rp_name: r.str(r.section(f, 'webauthn'), 'rp_name') ?? productName },
    email_otp: otpOf('email_otp'),
    ...(f.sms_otp !== undefined ? { sms_otp: otpOf('sms_otp') } : {}),
    recovery_codes: { count: r.int(r.section(f, 'recovery_codes'), 'count', 10) },
    ...(f.push !== undefined ? { push: buildPush(r, r.section(f, 'push'), [...at, 'push']) } : {}),
  };
}
