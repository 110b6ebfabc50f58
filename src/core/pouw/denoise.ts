// Denoising: A*B = A'B' - A*E_B - E_A*B', in O(r(mk + kn + mn)) instead of a second product.
import type { JobData } from './commitment.ts';
import type { PouwKernel } from './kernel.ts';
import { noiseFactors } from './noise.ts';
import type { PouwParams } from './types.ts';
import { defaultKernel } from './wasm-kernel.ts';

/** For each row of x (rows x rank), subtracts sum_q sel[j][q] * x[row][q] from out[row][j]. */
function subtractSelectedSums(
  out: Int32Array,
  outRowStride: number,
  outColStride: number,
  x: Int32Array,
  rows: number,
  rank: number,
  selectors: Uint8Array,
  cols: number,
): void {
  const groups = rank / 8;
  const table = new Int32Array(groups * 256);
  for (let i = 0; i < rows; i++) {
    // subset sums of each group of 8 coefficients, so each selector byte costs one lookup
    for (let g = 0; g < groups; g++) {
      const base = g * 256;
      for (let b = 1; b < 256; b++) {
        const low = 31 - Math.clz32(b & -b);
        table[base + b] = (table[base + (b & (b - 1))] + x[i * rank + g * 8 + low]) | 0;
      }
    }
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let g = 0; g < groups; g++) sum = (sum + table[g * 256 + selectors[j * groups + g]]) | 0;
      const at = i * outRowStride + j * outColStride;
      out[at] = (out[at] - sum) | 0;
    }
  }
}

/** Recovers A*B (m x n, int32) from the noisy product of a mining pass with this seed. */
export function denoise(
  job: JobData,
  seed: Uint8Array,
  noisyProduct: Int32Array,
  params: PouwParams,
  kernel: PouwKernel = defaultKernel(),
): Int32Array {
  const { m, n, k } = job.header;
  const r = params.rank;
  const noiseA = noiseFactors(seed, 'A', r, k, m);
  const noiseB = noiseFactors(seed, 'B', r, k, n);
  // A * E_B = (A V_B^T) S_B^T; E_A B' = S_A (V_A B'); all arithmetic is exact modulo 2^32
  const x = kernel.multiply({ a: job.a, bColumns: noiseB.signs, m, n: r, k, slice: k }).product;
  const y = kernel.multiply({
    a: noiseA.signs,
    bColumns: job.bColumns,
    m: r,
    n,
    k,
    slice: k,
    noiseB,
  }).product;
  const out = noisyProduct.slice();
  subtractSelectedSums(out, n, 1, x, m, r, noiseB.selectors, n);
  const yt = new Int32Array(n * r);
  for (let q = 0; q < r; q++) for (let j = 0; j < n; j++) yt[j * r + q] = y[q * n + j];
  subtractSelectedSums(out, 1, n, yt, n, r, noiseA.selectors, m);
  return out;
}
