// Shared test fixtures: small parameters, deterministic random jobs, a naive product.
import { commitJob, type JobData } from '../../../src/core/pouw/commitment.ts';
import type { Int8Matrix } from '../../../src/core/pouw/matrix.ts';
import type { PouwParams } from '../../../src/core/pouw/types.ts';

/** Small limits so tests stay fast; rank 16 keeps k small. */
export const TEST_PARAMS: PouwParams = { rank: 16, kMin: 32, kMax: 4096, maxRows: 4096, maxCols: 4096 };

/** A target every ticket meets, for checks that are not about the lottery. */
export const EASY_TARGET = 1n << 256n;

/** xorshift32: tests need reproducible data, not cryptographic randomness. */
export function randomInts(seed: number, count: number, min: number, max: number): Int8Array {
  let x = seed | 0 || 1;
  const out = new Int8Array(count);
  const span = max - min + 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = min + ((x >>> 0) % span);
  }
  return out;
}

export function randomMatrix(seed: number, rows: number, cols: number, min = -64, max = 63): Int8Matrix {
  return { rows, cols, data: randomInts(seed, rows * cols, min, max) };
}

export function randomJob(seed: number, m: number, n: number, k: number, params = TEST_PARAMS): JobData {
  const job = commitJob(randomMatrix(seed, m, k), randomMatrix(seed + 1, k, n), params);
  if (!job.ok) throw new Error(job.error.message);
  return job.value;
}

export function headerHash(seed: number): Uint8Array {
  return new Uint8Array(randomInts(seed, 32, -128, 127).buffer);
}

/** A * B by the definition, A m x k and B k x n row-major. */
export function naiveProduct(a: Int8Matrix, b: Int8Matrix): Int32Array {
  const out = new Int32Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let t = 0; t < a.cols; t++) sum += a.data[i * a.cols + t] * b.data[t * b.cols + j];
      out[i * b.cols + j] = sum;
    }
  }
  return out;
}

export function flipBit(bytes: Uint8Array | Int8Array, bit: number): void {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view[bit >> 3] ^= 1 << (bit & 7);
}
