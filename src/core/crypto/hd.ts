import { createHmac } from 'node:crypto';
import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { type KeyPair, keyPairFromSecret } from './keys.ts';

/** SLIP-44 coin type used by Flux. */
export const FLUX_COIN_TYPE = 19167;
const HARDENED = 0x80000000;

/** A new 24-word BIP39 mnemonic from the entropy given (32 bytes); the caller supplies randomness. */
export function mnemonicFromEntropy(entropy: Uint8Array): string {
  if (entropy.length !== 32) throw new Error('mnemonic entropy must be 32 bytes');
  return entropyToMnemonic(entropy, wordlist);
}

export function isValidMnemonic(mnemonic: string): boolean {
  return validateMnemonic(normalizeMnemonic(mnemonic), wordlist);
}

export function normalizeMnemonic(mnemonic: string): string {
  return mnemonic.trim().toLowerCase().split(/\s+/).join(' ');
}

/**
 * The key pair at m/44'/19167'/account'/0'/index' (SLIP-0010 ed25519, hardened only).
 * The same mnemonic gives the same keys in every wallet that follows SLIP-0010.
 */
export function deriveKeyPair(mnemonic: string, account: number, index: number, passphrase = ''): KeyPair {
  const norm = normalizeMnemonic(mnemonic);
  if (!validateMnemonic(norm, wordlist))
    throw new Error('not a valid BIP39 mnemonic (check the words and their order)');
  const seed = mnemonicToSeedSync(norm, passphrase);
  return keyPairFromSecret(deriveSecret(seed, [44, FLUX_COIN_TYPE, account, 0, index]));
}

/** SLIP-0010 ed25519: the secret key at a path of hardened indexes (given without the hardened bit). */
export function deriveSecret(seed: Uint8Array, path: number[]): Uint8Array {
  let node = createHmac('sha512', 'ed25519 seed').update(seed).digest();
  for (const segment of path) {
    if (!Number.isInteger(segment) || segment < 0 || segment >= HARDENED)
      throw new Error(`bad path segment ${segment}`);
    const data = Buffer.alloc(37);
    node.copy(data, 1, 0, 32);
    data.writeUInt32BE((segment | HARDENED) >>> 0, 33);
    node = createHmac('sha512', node.subarray(32)).update(data).digest();
  }
  return new Uint8Array(node.subarray(0, 32));
}
