// Seeded low-rank noise: the seed, the sha256 counter-mode PRG, and the factors S (0/1) and V (+-1).
import { sha256, sha256Blocks64 } from './hash.ts';
import type { NoiseFactors } from './types.ts';

/** PRG streams drawn from one seed; each is an independent byte string. */
export const STREAM_SELECTORS_A = 1;
export const STREAM_SIGNS_A = 2;
export const STREAM_SELECTORS_B = 3;
export const STREAM_SIGNS_B = 4;

const SEED_TAG = new TextEncoder().encode('openflux/pouw/noise-seed/v1');

/** The 32-byte noise seed, bound to the block header prefix, the job's roots and its dimensions. */
export function noiseSeed(
  headerPrefixHash: Uint8Array,
  rootA: Uint8Array,
  rootB: Uint8Array,
  m: number,
  n: number,
  k: number,
): Uint8Array {
  if (headerPrefixHash.length !== 32 || rootA.length !== 32 || rootB.length !== 32) {
    throw new RangeError('noiseSeed takes 32-byte hashes');
  }
  const dims = new Uint8Array(12);
  const view = new DataView(dims.buffer);
  view.setUint32(0, m, true);
  view.setUint32(4, n, true);
  view.setUint32(8, k, true);
  return sha256(SEED_TAG, headerPrefixHash, rootA, rootB, dims);
}

/** Writes the 64-byte PRG block input seed || u32le stream || u32le counter || 0^24. */
function blockInput(out: Uint8Array, at: number, seed: Uint8Array, stream: number, counter: number): void {
  out.set(seed, at);
  const view = new DataView(out.buffer, out.byteOffset + at + 32, 8);
  view.setUint32(0, stream, true);
  view.setUint32(4, counter, true);
}

/** Bytes [offset, offset + length) of stream `stream`: block c is sha256(seed || stream || c || 0^24). */
export function prgBytes(seed: Uint8Array, stream: number, offset: number, length: number): Uint8Array {
  const first = Math.floor(offset / 32);
  const last = Math.floor((offset + length - 1) / 32);
  const blocks = length === 0 ? 0 : last - first + 1;
  const out = new Uint8Array(blocks * 32);
  const input = new Uint8Array(blocks * 64);
  for (let b = 0; b < blocks; b++) blockInput(input, b * 64, seed, stream, first + b);
  sha256Blocks64(input, out);
  const skip = offset - first * 32;
  return out.subarray(skip, skip + length);
}

/** Selector rows for the given row indices: rank/8 bytes each, from the selector stream. */
export function selectorRows(
  seed: Uint8Array,
  stream: number,
  rank: number,
  rows: readonly number[],
): Uint8Array {
  const bytesPerRow = rank / 8;
  const out = new Uint8Array(rows.length * bytesPerRow);
  for (let i = 0; i < rows.length; i++) {
    out.set(prgBytes(seed, stream, rows[i] * bytesPerRow, bytesPerRow), i * bytesPerRow);
  }
  return out;
}

/** Selector rows 0 .. count-1 in one pass (the miner's case). */
export function selectorRange(seed: Uint8Array, stream: number, rank: number, count: number): Uint8Array {
  return prgBytes(seed, stream, 0, count * (rank / 8)).slice();
}

/** Eight +-1 entries per byte value, so expanding the sign bits is two word copies per byte. */
const SIGN_WORDS = (() => {
  const bytes = new Int8Array(256 * 8);
  for (let v = 0; v < 256; v++) for (let b = 0; b < 8; b++) bytes[v * 8 + b] = 1 - 2 * ((v >> b) & 1);
  return new Uint32Array(bytes.buffer);
})();

/** V: rank x k entries, bit q*k+t of the stream (LSB first) set means -1, clear means +1. */
export function signMatrix(seed: Uint8Array, stream: number, rank: number, k: number): Int8Array {
  const bits = prgBytes(seed, stream, 0, (rank * k) / 8);
  const out = new Int8Array(rank * k);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    words[2 * i] = SIGN_WORDS[2 * bits[i]];
    words[2 * i + 1] = SIGN_WORDS[2 * bits[i] + 1];
  }
  return out;
}

/** Noise factors of the given rows of A (or columns of B, with the B streams). */
export function noiseFactors(
  seed: Uint8Array,
  side: 'A' | 'B',
  rank: number,
  k: number,
  rows: readonly number[] | number,
): NoiseFactors {
  const selStream = side === 'A' ? STREAM_SELECTORS_A : STREAM_SELECTORS_B;
  const signStream = side === 'A' ? STREAM_SIGNS_A : STREAM_SIGNS_B;
  const selectors =
    typeof rows === 'number'
      ? selectorRange(seed, selStream, rank, rows)
      : selectorRows(seed, selStream, rank, rows);
  return { rank, selectors, signs: signMatrix(seed, signStream, rank, k) };
}

/** Reference noise for one row: E[i][t] = sum_q S[i][q] * V[q][t] (|E| <= rank <= 64). */
export function noiseRow(factors: NoiseFactors, row: number, k: number): Int32Array {
  const { rank, selectors, signs } = factors;
  const out = new Int32Array(k);
  const base = row * (rank / 8);
  for (let q = 0; q < rank; q++) {
    if (((selectors[base + (q >> 3)] >> (q & 7)) & 1) === 0) continue;
    const v = q * k;
    for (let t = 0; t < k; t++) out[t] += signs[v + t];
  }
  return out;
}
