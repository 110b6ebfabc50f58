// Sealing a value to an ed25519 key (an app secret to a node's operator key): X25519 between a
// fresh ephemeral key and the recipient's key mapped to Curve25519 (the birational map of RFC
// 7748 §4.1; the secret scalar is the first half of sha512(seed), as ed25519 itself uses it),
// HKDF-SHA256, then ChaCha20-Poly1305 whose associated data binds what the value is for (app,
// key, version, recipient node), so a sealed value cannot be replayed under another name.
// The caller brings the ephemeral seed (32 random bytes): core draws no randomness.
//
// Sealed bytes: version 0x01 ‖ ephemeral X25519 public key (32) ‖ ciphertext ‖ tag (16). Each seal
// has its own key, so the AEAD nonce is fixed at zero.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { concatBytes } from './hash.ts';

export const SEAL_VERSION = 1;
const SEAL_INFO = 'openflux/seal/v1';
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** What sealing adds to a value's length. */
export const SEAL_OVERHEAD = 1 + KEY_BYTES + TAG_BYTES;

const X25519_PKCS8 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const X25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const P = 2n ** 255n - 19n;

const modPow = (b: bigint, e: bigint): bigint => {
  let r = 1n;
  let x = ((b % P) + P) % P;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % P;
    x = (x * x) % P;
  }
  return r;
};

/** An ed25519 public key as an X25519 public key: u = (1 + y) / (1 - y) mod p. */
export function x25519PublicOf(edPublic: Uint8Array): Uint8Array {
  if (edPublic.length !== KEY_BYTES) throw new Error('an ed25519 public key is 32 bytes');
  let y = 0n;
  for (let i = KEY_BYTES - 1; i >= 0; i--)
    y = (y << 8n) | BigInt(i === 31 ? edPublic[i] & 0x7f : edPublic[i]);
  if (y >= P || y === 1n) throw new Error('not an ed25519 public key this can seal to');
  const u = ((1n + y) * modPow(1n - y, P - 2n)) % P;
  const out = new Uint8Array(KEY_BYTES);
  let v = u;
  for (let i = 0; i < KEY_BYTES; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** An ed25519 seed's X25519 secret: the scalar half of sha512(seed) (X25519 clamps it). */
export function x25519SecretOf(edSeed: Uint8Array): Uint8Array {
  if (edSeed.length !== KEY_BYTES) throw new Error('an ed25519 secret key is 32 bytes');
  return new Uint8Array(createHash('sha512').update(edSeed).digest().subarray(0, KEY_BYTES));
}

const privateX = (secret: Uint8Array) =>
  createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: 'der', type: 'pkcs8' });
const publicX = (pub: Uint8Array) =>
  createPublicKey({ key: Buffer.concat([X25519_SPKI, pub]), format: 'der', type: 'spki' });

/** The X25519 public key of an X25519 secret. */
export function x25519PublicOfSecret(secret: Uint8Array): Uint8Array {
  const der = createPublicKey(privateX(secret)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}

function aeadKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, concatBytes(ephemeral, recipient), SEAL_INFO, KEY_BYTES));
}

const NONCE = Buffer.alloc(12);

/** Seals `value` to the holder of ed25519 key `recipient`, bound to `ad`; `ephemeralSeed` is 32 random bytes. */
export function seal(
  value: Uint8Array,
  recipient: Uint8Array,
  ad: Uint8Array,
  ephemeralSeed: Uint8Array,
): Uint8Array {
  if (ephemeralSeed.length !== KEY_BYTES) throw new Error('the ephemeral seed is 32 bytes');
  const to = x25519PublicOf(recipient);
  const ephemeral = x25519PublicOfSecret(ephemeralSeed);
  const shared = diffieHellman({ privateKey: privateX(ephemeralSeed), publicKey: publicX(to) });
  const cipher = createCipheriv('chacha20-poly1305', aeadKey(shared, ephemeral, to), NONCE, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(ad, { plaintextLength: value.length });
  const body = Buffer.concat([cipher.update(value), cipher.final()]);
  return concatBytes(Uint8Array.of(SEAL_VERSION), ephemeral, body, cipher.getAuthTag());
}

/** Opens what `seal` made for the holder of ed25519 seed `secretKey` under the same `ad`; undefined if it does not open. */
export function open(sealed: Uint8Array, secretKey: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < SEAL_OVERHEAD || sealed[0] !== SEAL_VERSION) return undefined;
  const ephemeral = sealed.subarray(1, 1 + KEY_BYTES);
  const body = sealed.subarray(1 + KEY_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const secret = x25519SecretOf(secretKey);
    const me = x25519PublicOfSecret(secret);
    const shared = diffieHellman({ privateKey: privateX(secret), publicKey: publicX(ephemeral) });
    const decipher = createDecipheriv('chacha20-poly1305', aeadKey(shared, ephemeral, me), NONCE, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(ad, { plaintextLength: body.length });
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch {
    return undefined;
  }
}
