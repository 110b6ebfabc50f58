// Deterministic keys for tests and benches: each derivation the tests rely on, and addresses of keys.
import { sha256, toHex } from '../../src/core/crypto/hash.ts';
import { addressBytes, type KeyPair, keyPairFromSecret } from '../../src/core/crypto/keys.ts';

/** Key `n` of the p2p tests' series: secret `n, 0, ..., 0, 0x5a`. */
export function testKey(n: number): KeyPair {
  const secret = new Uint8Array(32);
  secret[0] = n;
  secret[31] = 0x5a;
  return keyPairFromSecret(secret);
}

export const ALICE = testKey(1);
export const BOB = testKey(2);

/** `n` keys of series `seed`: secrets start with the big-endian u32 `seed * 1,000,000 + i + 1`. */
export function testKeys(n: number, seed = 1): KeyPair[] {
  return Array.from({ length: n }, (_, i) => {
    const secret = new Uint8Array(32);
    new DataView(secret.buffer).setUint32(0, seed * 1_000_000 + i + 1);
    return keyPairFromSecret(secret);
  });
}

/** The key whose 32 secret bytes are all `byte`. */
export const filledKey = (byte: number): KeyPair => keyPairFromSecret(new Uint8Array(32).fill(byte));

export const addressOf = (key: KeyPair): Uint8Array => addressBytes(key.publicKey);

/** A key's account id in hex, as genesis allocations and state keys write it. */
export const idOf = (key: KeyPair): string => toHex(addressOf(key));

/** A key named by a label (one per sender in a load, say): sha256("openflux/test/" + label). */
export const labelKey = (label: string): KeyPair =>
  keyPairFromSecret(sha256(new TextEncoder().encode(`openflux/test/${label}`)));
