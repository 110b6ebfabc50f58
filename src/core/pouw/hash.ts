// sha256 entry points of the PoUW core. Bulk hashing of 64-byte blocks (tickets, PRG, Merkle
// levels) goes through the kernel's four-lane SIMD sha256 when the runtime has wasm SIMD,
// else through @chainsafe/as-sha256; both are checked against node:crypto in the tests.
import { createHash } from 'node:crypto';
import { digest64Into, hashInto } from '@chainsafe/as-sha256';
import { createWasmBlockHasher } from './wasm-kernel.ts';

type BlockHasher = (input: Uint8Array, output: Uint8Array) => void;

/** as-sha256 over 64-byte blocks (four per wasm call). */
export const asSha256Blocks64: BlockHasher = (input, output) => {
  if (input.length === 64) digest64Into(input, output);
  else if (input.length > 0) hashInto(input, output);
};

let blockHasher: BlockHasher | undefined;

/** Below this many blocks the copy into wasm memory costs more than it saves. */
const WASM_MIN_BLOCKS = 8;

/** output[32i..] = sha256(input[64i..64i+64]) for every 64-byte block. */
export function sha256Blocks64(input: Uint8Array, output: Uint8Array): void {
  if (input.length % 64 !== 0 || output.length !== input.length / 2)
    throw new RangeError('64-byte blocks in, 32 bytes out each');
  if (input.length < WASM_MIN_BLOCKS * 64) {
    asSha256Blocks64(input, output);
    return;
  }
  blockHasher ??= createWasmBlockHasher() ?? asSha256Blocks64;
  blockHasher(input, output);
}

/** sha256 of bytes of any length (node:crypto: faster than wasm on long rows). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}
