// Verifying one tile: its rows and columns against the job's roots, then a replay of that tile only.
import type { PouwKernel } from './kernel.ts';
import { firstEntryOutOfRange, validateDims } from './matrix.ts';
import { bytesEqual, verifyMerklePath } from './merkle.ts';
import { noiseFactors, noiseSeed } from './noise.ts';
import { TILE } from './params.ts';
import { ticketMeetsTarget, ticketOf, tileShape, tileWork, transcriptFromFold } from './transcript.ts';
import { type JobHeader, type PouwParams, type PouwResult, pouwFail, type TileProof } from './types.ts';
import { defaultKernel } from './wasm-kernel.ts';

/** Concatenates opened rows after checking their length and int7 range. */
function openedRows(rows: Int8Array[], k: number, side: string): PouwResult<Int8Array> {
  const out = new Int8Array(rows.length * k);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].length !== k)
      return pouwFail('length-mismatch', `${side} ${i} has ${rows[i].length} entries, expected ${k}`);
    if (firstEntryOutOfRange(rows[i]) >= 0)
      return pouwFail('entry-out-of-range', `${side} ${i} has an entry outside [-64, 63]`);
    out.set(rows[i], i * k);
  }
  return { ok: true, value: out };
}

/**
 * Checks a winning tile against the job header and the block's header prefix.
 * Cost: 16 rows and 16 columns of k entries, rank x k noise signs, 256k MACs; independent of m and n.
 */
export function verifyTile(
  job: JobHeader,
  headerPrefixHash: Uint8Array,
  proof: TileProof,
  targetPerMac: bigint,
  params: PouwParams,
  kernel: PouwKernel = defaultKernel(),
): PouwResult<{ work: bigint }> {
  const dims = validateDims(job, params);
  if (!dims.ok) return dims;
  const { m, n, k } = job;
  const shape = tileShape(job, proof.tile);
  if (!shape)
    return pouwFail(
      'tile-outside-job',
      `tile (${proof.tile.row}, ${proof.tile.col}) is outside the ${m}x${n} job`,
    );
  const { h, w } = shape;
  if (
    proof.rowsA.length !== h ||
    proof.pathsA.length !== h ||
    proof.colsB.length !== w ||
    proof.pathsB.length !== w
  ) {
    return pouwFail('length-mismatch', `tile needs ${h} rows of A and ${w} columns of B with one path each`);
  }
  if (proof.transcript.length !== 64 || proof.ticket.length !== 32) {
    return pouwFail('length-mismatch', 'transcript must be 64 bytes and ticket 32 bytes');
  }
  const a = openedRows(proof.rowsA, k, 'row of A');
  if (!a.ok) return a;
  const b = openedRows(proof.colsB, k, 'column of B');
  if (!b.ok) return b;
  const rowIndices = Array.from({ length: h }, (_, i) => proof.tile.row * TILE + i);
  const colIndices = Array.from({ length: w }, (_, j) => proof.tile.col * TILE + j);
  for (let i = 0; i < h; i++) {
    if (!verifyMerklePath(job.rootA, proof.rowsA[i], rowIndices[i], m, proof.pathsA[i])) {
      return pouwFail('bad-path', `row ${rowIndices[i]} of A does not match the job's root`);
    }
  }
  for (let j = 0; j < w; j++) {
    if (!verifyMerklePath(job.rootB, proof.colsB[j], colIndices[j], n, proof.pathsB[j])) {
      return pouwFail('bad-path', `column ${colIndices[j]} of B does not match the job's root`);
    }
  }
  const seed = noiseSeed(headerPrefixHash, job.rootA, job.rootB, m, n, k);
  const { folds } = kernel.multiply({
    a: a.value,
    bColumns: b.value,
    m: h,
    n: w,
    k,
    slice: params.rank,
    noiseA: noiseFactors(seed, 'A', params.rank, k, rowIndices),
    noiseB: noiseFactors(seed, 'B', params.rank, k, colIndices),
  });
  const transcript = transcriptFromFold(seed, proof.tile, folds);
  if (!bytesEqual(transcript, proof.transcript)) {
    return pouwFail('transcript-mismatch', 'the replayed transcript differs from the claimed one');
  }
  if (!bytesEqual(ticketOf(transcript), proof.ticket)) {
    return pouwFail('ticket-mismatch', 'the ticket is not the hash of the transcript');
  }
  const work = tileWork(h, w, k);
  if (!ticketMeetsTarget(proof.ticket, targetPerMac, work)) {
    return pouwFail('target-not-met', 'the ticket is not below the target for this tile');
  }
  return { ok: true, value: { work } };
}
