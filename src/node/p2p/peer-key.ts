// The node's network identity: an ed25519 seed kept in the datadir so the peer id is stable.
import { randomBytes } from 'node:crypto';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreateSeed } from '../seed-file.ts';

export const PEER_KEY_BYTES = 32;

export function generatePeerKey(): Uint8Array {
  return new Uint8Array(randomBytes(PEER_KEY_BYTES));
}

/** Reads the hex seed at `file`, or creates one there (mode 0600) when the file does not exist. */
export function loadOrCreatePeerKey(file: string): Uint8Array {
  return loadOrCreateSeed(file, 'peer key');
}

/** The peer id (`12D3Koo...`) a seed gives, without starting anything. */
export async function peerIdOf(peerKey: Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await privateKeyOf(peerKey)).toString();
}

export function privateKeyOf(peerKey: Uint8Array) {
  if (peerKey.length !== PEER_KEY_BYTES)
    throw new Error(`a peer key is ${PEER_KEY_BYTES} bytes, got ${peerKey.length}`);
  return generateKeyPairFromSeed('Ed25519', peerKey);
}
