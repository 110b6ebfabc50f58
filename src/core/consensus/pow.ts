import { headerPrefixRoot } from '../codec/ids.ts';
import type { Header, HeaderPrefix } from '../codec/types.ts';
import { bytesToBigint, sha256 } from '../crypto/hash.ts';

const TWO_256 = 1n << 256n;

/**
 * The proof-of-work hash: sha256(prefixRoot || nonce as 8 bytes little-endian). The prefix root
 * is computed once per block template, so each attempt costs one 40-byte hash.
 */
export function powHash(prefixRoot: Uint8Array, nonce: number, scratch = new Uint8Array(40)): Uint8Array {
  scratch.set(prefixRoot, 0);
  const view = new DataView(scratch.buffer, scratch.byteOffset);
  view.setUint32(32, nonce >>> 0, true);
  view.setUint32(36, Math.floor(nonce / 0x1_0000_0000), true);
  return sha256(scratch);
}

export function headerTarget(header: Pick<Header, 'target'>): bigint {
  return bytesToBigint(header.target);
}

export function checkProofOfWork(header: Header): boolean {
  return bytesToBigint(powHash(headerPrefixRoot(header), header.nonce)) <= headerTarget(header);
}

/** Expected number of attempts to meet a target: the block's contribution to cumulative work. */
export function workOf(target: bigint): bigint {
  return TWO_256 / (target + 1n);
}

/**
 * Tries nonces from `start` for at most `attempts`; returns the first that meets the target, or
 * undefined so the caller can yield, refresh the template, and continue.
 */
export function searchNonce(
  prefix: HeaderPrefix,
  target: bigint,
  start: number,
  attempts: number,
): number | undefined {
  const root = headerPrefixRoot(prefix);
  const scratch = new Uint8Array(40);
  for (let nonce = start; nonce < start + attempts; nonce++) {
    if (bytesToBigint(powHash(root, nonce, scratch)) <= target) return nonce;
  }
  return undefined;
}
