import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { bech32m } from '@scure/base';
import { sha256 } from './hash.ts';

/** An ed25519 key pair: the 32-byte seed (secret) and the 32-byte public key. */
export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

// DER prefixes that wrap a raw 32-byte ed25519 key as PKCS#8 / SPKI for node:crypto.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export const ADDRESS_BYTES = 20;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== 32) throw new Error('an ed25519 secret key is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
}

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new Error('an ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** The key pair for a 32-byte seed (deterministic: same seed, same keys). */
export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  const der = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return { secretKey: Uint8Array.from(secretKey), publicKey: new Uint8Array(der.subarray(der.length - 32)) };
}

export function signMessage(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyObject(secretKey)));
}

/** Verifies an ed25519 signature; a malformed key or signature is simply invalid. */
export function verifySignature(
  message: Uint8Array,
  publicKey: Uint8Array | KeyObject,
  signature: Uint8Array,
): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    const key = publicKey instanceof Uint8Array ? publicKeyObject(publicKey) : publicKey;
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies signatures while remembering the parsed public keys of recent signers:
 * parsing a key costs about a quarter of a verification.
 */
export class SignatureVerifier {
  private readonly keys = new Map<string, KeyObject | null>();
  private readonly capacity: number;

  constructor(capacity = 50_000) {
    this.capacity = capacity;
  }

  verify(message: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('latin1');
    let key = this.keys.get(id);
    if (key === undefined) {
      try {
        key = publicKeyObject(publicKey);
      } catch {
        key = null;
      }
      if (this.keys.size >= this.capacity) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(id, key);
    }
    if (key === null) return false;
    try {
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  }
}

/** The 20-byte account id of a public key: the first 20 bytes of its sha256. */
export function addressBytes(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).subarray(0, ADDRESS_BYTES);
}

/** bech32m text form of an account id, e.g. `flux1...` or `tflux1...`. */
export function encodeAddress(prefix: string, address: Uint8Array): string {
  if (address.length !== ADDRESS_BYTES) throw new Error(`an address is ${ADDRESS_BYTES} bytes`);
  return bech32m.encode(prefix, bech32m.toWords(address));
}

export type DecodedAddress = { ok: true; address: Uint8Array } | { ok: false; error: string };

/** Parses a bech32m address and checks it belongs to the network with this prefix. */
export function decodeAddress(prefix: string, text: string): DecodedAddress {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32m.decode(text as `${string}1${string}`, 90);
  } catch (e) {
    return { ok: false, error: `not a valid address (${(e as Error).message}): ${text}` };
  }
  if (decoded.prefix !== prefix) {
    return {
      ok: false,
      error: `address ${text} is for prefix '${decoded.prefix}', this network uses '${prefix}'`,
    };
  }
  let address: Uint8Array;
  try {
    address = bech32m.fromWords(decoded.words);
  } catch (e) {
    // A valid checksum over words whose last bits are not zero padding: no address encodes so.
    return { ok: false, error: `not a valid address (${(e as Error).message}): ${text}` };
  }
  if (address.length !== ADDRESS_BYTES)
    return { ok: false, error: `address ${text} is not ${ADDRESS_BYTES} bytes` };
  return { ok: true, address };
}
