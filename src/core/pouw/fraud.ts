// Fraud proofs: one entry of a delivered product, recomputed from one row of A and one column of B.
import { CHUNK } from './commitment.ts';
import { firstEntryOutOfRange, validateDims } from './matrix.ts';
import { bytesEqual, hashLeaf, rootFromPath, verifyMerklePath } from './merkle.ts';
import { type FraudProof, type JobHeader, type PouwParams, type PouwResult, pouwFail } from './types.ts';

/** sum_t rowA[t] * colB[t], exact in int32 for k <= kMax. */
export function dotProduct(rowA: Int8Array, colB: Int8Array): number {
  let sum = 0;
  for (let t = 0; t < rowA.length; t++) sum = (sum + rowA[t] * colB[t]) | 0;
  return sum;
}

/**
 * Accepts (ok) only when the proof's data is committed and the claimed entry of C differs from
 * row i of A times column j of B; refuses a proof against a correct entry with 'entry-correct'.
 */
export function verifyFraudProof(
  job: JobHeader,
  productRoot: Uint8Array,
  proof: FraudProof,
  params: PouwParams,
): PouwResult<{ claimed: number; expected: number }> {
  const dims = validateDims(job, params);
  if (!dims.ok) return dims;
  const { m, n, k } = job;
  const { row, col } = proof;
  if (
    !Number.isSafeInteger(row) ||
    !Number.isSafeInteger(col) ||
    row < 0 ||
    col < 0 ||
    row >= m ||
    col >= n
  ) {
    return pouwFail('tile-outside-job', `entry (${row}, ${col}) is outside the ${m}x${n} product`);
  }
  if (proof.rowA.length !== k || proof.colB.length !== k || proof.chunkC.length !== CHUNK) {
    return pouwFail('length-mismatch', `row and column need ${k} entries and the chunk ${CHUNK}`);
  }
  if (firstEntryOutOfRange(proof.rowA) >= 0 || firstEntryOutOfRange(proof.colB) >= 0) {
    return pouwFail('entry-out-of-range', 'an opened entry is outside [-64, 63]');
  }
  if (!verifyMerklePath(job.rootA, proof.rowA, row, m, proof.pathA)) {
    return pouwFail('bad-path', `row ${row} of A does not match the job's root`);
  }
  if (!verifyMerklePath(job.rootB, proof.colB, col, n, proof.pathB)) {
    return pouwFail('bad-path', `column ${col} of B does not match the job's root`);
  }
  const rowRoot = rootFromPath(
    hashLeaf(proof.chunkC),
    Math.floor(col / CHUNK),
    Math.ceil(n / CHUNK),
    proof.chunkPath,
  );
  const root = rowRoot && rootFromPath(rowRoot, row, m, proof.rowPath);
  if (!root || !bytesEqual(root, productRoot)) {
    return pouwFail('bad-path', `the chunk of row ${row} does not match the product root`);
  }
  const claimed = proof.chunkC[col % CHUNK];
  const expected = dotProduct(proof.rowA, proof.colB);
  if (claimed === expected) return pouwFail('entry-correct', `C[${row}][${col}] = ${claimed} is correct`);
  return { ok: true, value: { claimed, expected } };
}
