// Commitments: the job (rows of A, columns of B) and the delivered product (rows of C, in chunks).
import { sha256Blocks64 } from './hash.ts';
import { type Int8Matrix, transpose, validateJobMatrices } from './matrix.ts';
import { type MerkleTree, merklePath, merkleRoot, merkleTree, merkleTreeFromLeafHashes } from './merkle.ts';
import { TILE } from './params.ts';
import type { JobHeader, PouwParams, PouwResult } from './types.ts';

/** A job as its owner and miners hold it: the data, its trees, and the header the chain stores. */
export interface JobData {
  header: JobHeader;
  /** A, m x k row-major. */
  a: Int8Array;
  /** B transposed, n x k row-major: row j is column j of B. */
  bColumns: Int8Array;
  treeA: MerkleTree;
  treeB: MerkleTree;
}

function rowsOf(data: Int8Array, count: number, length: number): Int8Array[] {
  const rows: Int8Array[] = [];
  for (let i = 0; i < count; i++) rows.push(data.subarray(i * length, (i + 1) * length));
  return rows;
}

/** Commits to a job after checking it: Merkle roots over the rows of A and the columns of B. */
export function commitJob(a: Int8Matrix, b: Int8Matrix, params: PouwParams): PouwResult<JobData> {
  const dims = validateJobMatrices(a, b, params);
  if (!dims.ok) return dims;
  const { m, n, k } = dims.value;
  const bColumns = transpose(b).data;
  const treeA = merkleTree(rowsOf(a.data, m, k));
  const treeB = merkleTree(rowsOf(bColumns, n, k));
  const header = { m, n, k, rootA: merkleRoot(treeA), rootB: merkleRoot(treeB) };
  return { ok: true, value: { header, a: a.data, bColumns, treeA, treeB } };
}

/** The fallback job when the pool is empty: zero matrices, exactly as hard to mine. */
export function zeroJob(m: number, n: number, k: number, params: PouwParams): PouwResult<JobData> {
  return commitJob(
    { rows: m, cols: k, data: new Int8Array(m * k) },
    { rows: k, cols: n, data: new Int8Array(k * n) },
    params,
  );
}

export function rowOfA(job: JobData, i: number): { row: Int8Array; path: Uint8Array[] } {
  const k = job.header.k;
  return { row: job.a.slice(i * k, (i + 1) * k), path: merklePath(job.treeA, i) };
}

export function columnOfB(job: JobData, j: number): { column: Int8Array; path: Uint8Array[] } {
  const k = job.header.k;
  return { column: job.bColumns.slice(j * k, (j + 1) * k), path: merklePath(job.treeB, j) };
}

/** Entries per chunk of a product row: one 64-byte leaf. */
export const CHUNK = TILE;

/** The product commitment: each row of C is a tree over 16-entry chunks; the root is a tree over row roots. */
export interface ProductCommitment {
  m: number;
  n: number;
  root: Uint8Array;
  product: Int32Array;
  rowTrees: MerkleTree[];
  rowsTree: MerkleTree;
}

/** Chunk c of row i of C as 16 int32 little-endian (entries past n are 0). */
export function productChunk(product: Int32Array, n: number, i: number, c: number): Int32Array {
  const chunk = new Int32Array(CHUNK);
  const start = i * n + c * CHUNK;
  chunk.set(product.subarray(start, Math.min(start + CHUNK, (i + 1) * n)));
  return chunk;
}

/** Leaf hashes are sha256 of each chunk's 64 bytes; int32 arrays are little-endian on every target Node runs on. */
export function commitProduct(product: Int32Array, m: number, n: number): ProductCommitment {
  if (product.length !== m * n) throw new RangeError('product length does not match m x n');
  const chunks = Math.ceil(n / CHUNK);
  const rowTrees: MerkleTree[] = [];
  const rowRoots = new Uint8Array(m * 32);
  const padded = new Int32Array(chunks * CHUNK);
  const leafHashes = new Uint8Array(chunks * 32);
  for (let i = 0; i < m; i++) {
    padded.set(product.subarray(i * n, (i + 1) * n));
    sha256Blocks64(new Uint8Array(padded.buffer), leafHashes);
    const tree = merkleTreeFromLeafHashes(leafHashes.slice(), chunks);
    rowTrees.push(tree);
    rowRoots.set(merkleRoot(tree), i * 32);
  }
  const rowsTree = merkleTreeFromLeafHashes(rowRoots, m);
  return { m, n, root: merkleRoot(rowsTree), product, rowTrees, rowsTree };
}

/** Opens entry (i, j) of the product: its chunk and the two paths up to the root. */
export function openProductEntry(
  commitment: ProductCommitment,
  i: number,
  j: number,
): { chunkC: Int32Array; chunkPath: Uint8Array[]; rowPath: Uint8Array[] } {
  const c = Math.floor(j / CHUNK);
  return {
    chunkC: productChunk(commitment.product, commitment.n, i, c),
    chunkPath: merklePath(commitment.rowTrees[i], c),
    rowPath: merklePath(commitment.rowsTree, i),
  };
}
