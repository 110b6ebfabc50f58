// Job matrices: int7 entries in int8 row-major arrays, dimension and parameter checks.
import { ENTRY_MAX, ENTRY_MIN, MAX_RANK } from './params.ts';
import { type JobDims, type PouwParams, type PouwResult, pouwFail } from './types.ts';

/** An int8 matrix, row-major. */
export interface Int8Matrix {
  rows: number;
  cols: number;
  data: Int8Array;
}

export function int8Matrix(rows: number, cols: number, data?: Int8Array): Int8Matrix {
  return { rows, cols, data: data ?? new Int8Array(rows * cols) };
}

/** Checks the rank against the limits that keep noisy entries inside int8 and slices whole. */
export function validateParams(params: PouwParams): PouwResult<PouwParams> {
  const r = params.rank;
  if (!Number.isInteger(r) || r < 16 || r > MAX_RANK || r % 16 !== 0) {
    return pouwFail('rank-invalid', `rank ${r} must be 16, 32, 48 or 64`);
  }
  return { ok: true, value: params };
}

/** Checks dimensions against the network limits: k in [kMin, kMax] and a multiple of r. */
export function validateDims(dims: JobDims, params: PouwParams): PouwResult<JobDims> {
  const { m, n, k } = dims;
  for (const [name, v] of [
    ['m', m],
    ['n', n],
    ['k', k],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1)
      return pouwFail('dims-invalid', `${name} = ${v} is not a positive integer`);
  }
  const rank = validateParams(params);
  if (!rank.ok) return rank;
  if (m > params.maxRows) return pouwFail('dims-invalid', `m = ${m} exceeds the maximum ${params.maxRows}`);
  if (n > params.maxCols) return pouwFail('dims-invalid', `n = ${n} exceeds the maximum ${params.maxCols}`);
  if (k < params.kMin) return pouwFail('k-below-min', `k = ${k} is below the minimum ${params.kMin}`);
  if (k > params.kMax) return pouwFail('k-above-max', `k = ${k} is above the maximum ${params.kMax}`);
  if (k % params.rank !== 0) {
    return pouwFail('rank-not-dividing-k', `rank ${params.rank} does not divide k = ${k}`);
  }
  return { ok: true, value: dims };
}

/** Index of the first entry outside [-64, 63], or -1. */
export function firstEntryOutOfRange(data: Int8Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < ENTRY_MIN || v > ENTRY_MAX) return i;
  }
  return -1;
}

/** Checks that A (m x k) and B (k x n) fit together, respect the limits and hold int7 entries. */
export function validateJobMatrices(a: Int8Matrix, b: Int8Matrix, params: PouwParams): PouwResult<JobDims> {
  if (a.cols !== b.rows) {
    return pouwFail(
      'dims-invalid',
      `A is ${a.rows}x${a.cols} but B is ${b.rows}x${b.cols}: A's columns must equal B's rows`,
    );
  }
  const dims = { m: a.rows, n: b.cols, k: a.cols };
  const checked = validateDims(dims, params);
  if (!checked.ok) return checked;
  for (const [name, x] of [
    ['A', a],
    ['B', b],
  ] as const) {
    if (x.data.length !== x.rows * x.cols) {
      return pouwFail('length-mismatch', `${name} has ${x.data.length} entries, expected ${x.rows * x.cols}`);
    }
    const bad = firstEntryOutOfRange(x.data);
    if (bad >= 0) {
      const row = Math.floor(bad / x.cols);
      const col = bad % x.cols;
      return pouwFail('entry-out-of-range', `${name}[${row}][${col}] = ${x.data[bad]} is outside [-64, 63]`);
    }
  }
  return { ok: true, value: dims };
}

/** Rows of the transpose: the columns of a row-major matrix, each contiguous. */
export function transpose(x: Int8Matrix): Int8Matrix {
  const out = new Int8Array(x.rows * x.cols);
  const { rows, cols, data } = x;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  }
  return { rows: cols, cols: rows, data: out };
}
