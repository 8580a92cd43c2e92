// A WebAuthn authenticator in the test process: an ES256 key pair, "none"
// attestation, and assertions whose every part the test chooses (the user
// handle, the UV flag, the sign counter, the credential id). What an attacker
// with a software authenticator can send, which a browser's virtual
// authenticator will not: used to test what the gateway refuses over HTTP.
// The encoding follows WebAuthn Level 3 §6.1 (authenticator data) and §6.5.4
// ("none" attestation); CBOR through the WebAuthn library's own helper.

import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

export interface AssertOptions {
  /** Sets the user-verified flag (default true). */
  uv?: boolean;
  /** The sign count to report (default: one more than the last). */
  counter?: number;
  /** base64url user handle to report (default: the one this authenticator was registered with). */
  userHandle?: string | null;
}

export class SoftAuthenticator {
  readonly credentialId: Buffer;
  readonly #key: KeyObject;
  readonly #cose: Uint8Array;
  readonly rpId: string;
  readonly origin: string;
  counter = 0;
  userHandle: string | undefined;

  constructor(rpId: string, origin: string, credentialId: Buffer = randomBytes(16)) {
    this.rpId = rpId;
    this.origin = origin;
    this.credentialId = credentialId;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key, EC2: kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
    this.#cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
  }

  get id(): string {
    return b64url(this.credentialId);
  }

  #authData(flags: number, counter: number, attested?: Uint8Array): Buffer {
    const head = Buffer.alloc(37);
    createHash('sha256').update(this.rpId).digest().copy(head, 0);
    head[32] = flags;
    head.writeUInt32BE(counter, 33);
    return attested ? Buffer.concat([head, attested]) : head;
  }

  #clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }

  /** The browser's answer to registration options (a resident, user-verified credential). */
  register(options: { challenge: string; user: { id: string } }): Record<string, unknown> {
    this.userHandle = options.user.id;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), len, this.credentialId, this.#cose]);
    const authData = this.#authData(FLAG_UP | FLAG_UV | FLAG_AT, this.counter, attested);
    const attestationObject = isoCBOR.encode(new Map<string, string | Uint8Array | Map<string, string>>([
      ['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', authData],
    ]));
    return {
      id: this.id, rawId: this.id, type: 'public-key', clientExtensionResults: {},
      response: { clientDataJSON: b64url(this.#clientData('webauthn.create', options.challenge)), attestationObject: b64url(attestationObject), transports: ['internal'] },
    };
  }

  /** The browser's answer to authentication options. */
  assert(challenge: string, o: AssertOptions = {}): Record<string, unknown> {
    const counter = o.counter ?? this.counter + 1;
    this.counter = Math.max(this.counter, counter);
    const authData = this.#authData(FLAG_UP | (o.uv === false ? 0 : FLAG_UV), counter);
    const clientData = this.#clientData('webauthn.get', challenge);
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), this.#key);
    const userHandle = o.userHandle === undefined ? this.userHandle : o.userHandle ?? undefined;
    return {
      id: this.id, rawId: this.id, type: 'public-key', clientExtensionResults: {},
      response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature), ...(userHandle ? { userHandle } : {}) },
    };
  }
}
