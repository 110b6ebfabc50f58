import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { secretAd } from '../../../src/core/apps/secrets.ts';
import { keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import {
  open,
  SEAL_OVERHEAD,
  seal,
  x25519PublicOf,
  x25519PublicOfSecret,
  x25519SecretOf,
} from '../../../src/core/crypto/seal.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const NODE = 'ab'.repeat(32);
const OTHER_NODE = 'cd'.repeat(32);

describe('sealing to an ed25519 key', () => {
  it('maps an ed25519 key pair to the X25519 key pair of the same secret', () => {
    fc.assert(
      fc.property(bytes(32), (seed) => {
        const key = keyPairFromSecret(seed);
        assert.deepEqual(x25519PublicOf(key.publicKey), x25519PublicOfSecret(x25519SecretOf(seed)));
      }),
      { numRuns: 50 },
    );
  });

  it('opens what was sealed, for the recipient and under the same binding only', () => {
    fc.assert(
      fc.property(
        bytes(32),
        bytes(32),
        bytes(32),
        fc.uint8Array({ maxLength: 300 }),
        (seed, other, eph, value) => {
          const key = keyPairFromSecret(seed);
          const ad = secretAd('web', 'DB_PASSWORD', 7, NODE);
          const sealed = seal(value, key.publicKey, ad, eph);
          assert.equal(sealed.length, value.length + SEAL_OVERHEAD);
          assert.deepEqual(open(sealed, seed, ad), value);
          if (!Buffer.from(other).equals(Buffer.from(seed))) assert.equal(open(sealed, other, ad), undefined);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a sealed value with any bit changed', () => {
    fc.assert(
      fc.property(
        bytes(32),
        bytes(32),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        (seed, eph, value, bit) => {
          const key = keyPairFromSecret(seed);
          const ad = secretAd('web', 'K', 1, NODE);
          const sealed = seal(value, key.publicKey, ad, eph);
          const bad = Uint8Array.from(sealed);
          bad[(bit >> 3) % bad.length] ^= 1 << (bit & 7);
          assert.equal(open(bad, seed, ad), undefined);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a sealed value under another app, key, version or node', () => {
    const seed = new Uint8Array(32).fill(3);
    const key = keyPairFromSecret(seed);
    const value = new TextEncoder().encode('hunter2');
    const sealed = seal(value, key.publicKey, secretAd('web', 'K', 1, NODE), new Uint8Array(32).fill(9));
    assert.deepEqual(open(sealed, seed, secretAd('web', 'K', 1, NODE)), value);
    for (const ad of [
      secretAd('web2', 'K', 1, NODE),
      secretAd('web', 'K2', 1, NODE),
      secretAd('web', 'K', 2, NODE),
      secretAd('web', 'K', 1, OTHER_NODE),
    ])
      assert.equal(open(sealed, seed, ad), undefined);
  });

  it('refuses truncated or unknown-version input without throwing', () => {
    const seed = new Uint8Array(32).fill(1);
    const ad = secretAd('web', 'K', 1, NODE);
    const sealed = seal(
      new Uint8Array([1, 2, 3]),
      keyPairFromSecret(seed).publicKey,
      ad,
      new Uint8Array(32).fill(2),
    );
    assert.equal(open(sealed.subarray(0, SEAL_OVERHEAD - 1), seed, ad), undefined);
    const v2 = Uint8Array.from(sealed);
    v2[0] = 2;
    assert.equal(open(v2, seed, ad), undefined);
  });
});
