// The multiply kernel interface and its pure TypeScript implementation (the reference and fallback).
import { TILE } from './params.ts';
import type { NoiseFactors } from './types.ts';

/** One sliced product: A (m x k rows) times B given by its columns (n x k rows), noise optional. */
export interface SlicedProductInput {
  a: Int8Array;
  bColumns: Int8Array;
  m: number;
  n: number;
  k: number;
  /** Fold the partial sums after every `slice` steps of k (slice = k: plain product). */
  slice: number;
  /** When given, A + S_A V_A and B + (S_B V_B)^T are multiplied instead of A and B. */
  noiseA?: NoiseFactors;
  noiseB?: NoiseFactors;
}

export interface SlicedProduct {
  /** m x n, row-major. */
  product: Int32Array;
  /** 16 words per 16x16 tile, tiles row-major: word j = XOR over rows i and slices of P_s[i][j]. */
  folds: Uint32Array;
}

export interface PouwKernel {
  readonly name: 'wasm-simd' | 'typescript';
  multiply(input: SlicedProductInput): SlicedProduct;
}

export function tileCounts(m: number, n: number): { rows: number; cols: number } {
  return { rows: Math.ceil(m / TILE), cols: Math.ceil(n / TILE) };
}

/** Checks the shape constraints every kernel relies on. */
export function checkSlicedInput(input: SlicedProductInput): void {
  const { a, bColumns, m, n, k, slice } = input;
  if (a.length !== m * k || bColumns.length !== n * k)
    throw new RangeError('matrix lengths do not match m, n, k');
  if (slice < 4 || slice % 4 !== 0 || k % slice !== 0 || k % 16 !== 0) {
    throw new RangeError(`slice ${slice} must be a multiple of 4 dividing k = ${k} (a multiple of 16)`);
  }
  for (const [noise, rows] of [
    [input.noiseA, m],
    [input.noiseB, n],
  ] as const) {
    if (!noise) continue;
    if (noise.selectors.length !== rows * (noise.rank / 8) || noise.signs.length !== noise.rank * k) {
      throw new RangeError('noise factors do not match the matrix');
    }
  }
}

/** x + S V for all rows, as a new array (entries stay in int8: the caller bounds |x| + rank <= 128). */
export function addNoiseReference(x: Int8Array, rows: number, k: number, noise: NoiseFactors): Int8Array {
  const out = x.slice();
  const { rank, selectors, signs } = noise;
  const bytesPerRow = rank / 8;
  for (let i = 0; i < rows; i++) {
    const row = i * k;
    for (let q = 0; q < rank; q++) {
      if (((selectors[i * bytesPerRow + (q >> 3)] >> (q & 7)) & 1) === 0) continue;
      const v = q * k;
      for (let t = 0; t < k; t++) out[row + t] += signs[v + t];
    }
  }
  return out;
}

/** Straight loops over tiles, slices, rows and columns: slow, obviously right, runs anywhere. */
export function createTypeScriptKernel(): PouwKernel {
  return {
    name: 'typescript',
    multiply(input: SlicedProductInput): SlicedProduct {
      checkSlicedInput(input);
      const { m, n, k, slice } = input;
      const a = input.noiseA ? addNoiseReference(input.a, m, k, input.noiseA) : input.a;
      const b = input.noiseB ? addNoiseReference(input.bColumns, n, k, input.noiseB) : input.bColumns;
      const product = new Int32Array(m * n);
      const tiles = tileCounts(m, n);
      const folds = new Uint32Array(tiles.rows * tiles.cols * TILE);
      for (let ti = 0; ti < tiles.rows; ti++) {
        for (let tj = 0; tj < tiles.cols; tj++) {
          const fold = (ti * tiles.cols + tj) * TILE;
          const i1 = Math.min(m, (ti + 1) * TILE);
          const j1 = Math.min(n, (tj + 1) * TILE);
          for (let s0 = 0; s0 < k; s0 += slice) {
            for (let i = ti * TILE; i < i1; i++) {
              const ai = i * k;
              for (let j = tj * TILE; j < j1; j++) {
                const bj = j * k;
                let sum = product[i * n + j];
                for (let t = s0; t < s0 + slice; t++) sum = (sum + a[ai + t] * b[bj + t]) | 0;
                product[i * n + j] = sum;
                folds[fold + j - tj * TILE] ^= sum;
              }
            }
          }
        }
      }
      return { product, folds };
    },
  };
}
