import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/core/crypto/hash.ts';
import {
  deriveKeyPair,
  deriveSecret,
  isValidMnemonic,
  mnemonicFromEntropy,
} from '../../src/core/crypto/hd.ts';
import {
  addressBytes,
  decodeAddress,
  encodeAddress,
  keyPairFromSecret,
  SignatureVerifier,
  signMessage,
  verifySignature,
} from '../../src/core/crypto/keys.ts';
import { DEVNET_FUNDED_ADDRESSES, DEVNET_MNEMONIC } from '../../src/core/params/index.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('ed25519 signatures', () => {
  it('verifies what was signed and refuses any single-bit change to message or signature', () => {
    const verifier = new SignatureVerifier();
    fc.assert(
      fc.property(bytes(32), fc.uint8Array({ maxLength: 200 }), fc.nat(), (secret, message, bit) => {
        const key = keyPairFromSecret(secret);
        const sig = signMessage(message, key.secretKey);
        assert.ok(verifySignature(message, key.publicKey, sig));
        assert.ok(verifier.verify(message, key.publicKey, sig));
        const badSig = Uint8Array.from(sig);
        badSig[(bit >> 3) % 64] ^= 1 << (bit & 7);
        assert.equal(verifySignature(message, key.publicKey, badSig), false);
        if (message.length > 0) {
          const badMsg = Uint8Array.from(message);
          badMsg[bit % message.length] ^= 1;
          assert.equal(verifier.verify(badMsg, key.publicKey, sig), false);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('treats a malformed key or signature as invalid rather than throwing', () => {
    const key = keyPairFromSecret(new Uint8Array(32).fill(9));
    const sig = signMessage(new Uint8Array([1]), key.secretKey);
    assert.equal(verifySignature(new Uint8Array([1]), new Uint8Array(31), sig), false);
    assert.equal(verifySignature(new Uint8Array([1]), key.publicKey, sig.subarray(1)), false);
    assert.equal(
      new SignatureVerifier().verify(new Uint8Array([1]), new Uint8Array(32).fill(0xff), sig),
      false,
    );
  });
});

describe('addresses', () => {
  it('round-trip through bech32m with the network prefix', () => {
    fc.assert(
      fc.property(bytes(20), fc.constantFrom('flux', 'tflux'), (address, prefix) => {
        const text = encodeAddress(prefix, address);
        assert.ok(text.startsWith(`${prefix}1`));
        const back = decodeAddress(prefix, text);
        assert.ok(back.ok);
        assert.deepEqual(back.address, address);
      }),
    );
  });

  it('refuses another network prefix, a typo and garbage with a message naming the problem', () => {
    const text = encodeAddress('flux', new Uint8Array(20).fill(3));
    const other = decodeAddress('tflux', text);
    assert.ok(!other.ok && other.error.includes("this network uses 'tflux'"));
    const typo = `${text.slice(0, -1)}${text.endsWith('q') ? 'p' : 'q'}`;
    assert.equal(decodeAddress('flux', typo).ok, false);
    assert.equal(decodeAddress('flux', 'hello').ok, false);
  });
});

describe('HD wallet', () => {
  it('follows the SLIP-0010 ed25519 test vector 1', () => {
    const seed = fromHex('000102030405060708090a0b0c0d0e0f');
    assert.equal(
      toHex(deriveSecret(seed, [])),
      '2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7',
    );
    assert.equal(
      toHex(deriveSecret(seed, [0])),
      '68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3',
    );
    const pub = keyPairFromSecret(deriveSecret(seed, [0])).publicKey;
    assert.equal(toHex(pub), '8c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c');
  });

  it('derives the devnet funded accounts from the devnet mnemonic', () => {
    for (let i = 0; i < DEVNET_FUNDED_ADDRESSES.length; i++) {
      assert.equal(
        toHex(addressBytes(deriveKeyPair(DEVNET_MNEMONIC, 0, i).publicKey)),
        DEVNET_FUNDED_ADDRESSES[i],
      );
    }
  });

  it('makes a valid 24-word mnemonic from 32 bytes of entropy and refuses a bad one', () => {
    const m = mnemonicFromEntropy(new Uint8Array(32).fill(7));
    assert.equal(m.split(' ').length, 24);
    assert.ok(isValidMnemonic(m));
    assert.ok(!isValidMnemonic(m.replace(/^\w+/, 'zebra zebra')));
    assert.throws(() => deriveKeyPair('not a mnemonic', 0, 0), /not a valid BIP39 mnemonic/);
  });
});
