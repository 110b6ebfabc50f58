// Types of the PoUW math core: jobs, openings, proofs, results.

/** Dimensions of a job: A is m x k, B is k x n, the product C is m x n. */
export interface JobDims {
  m: number;
  n: number;
  k: number;
}

/** What the chain stores about a job: the commitments and the dimensions. */
export interface JobHeader extends JobDims {
  /** Merkle root over the rows of A. */
  rootA: Uint8Array;
  /** Merkle root over the rows of B transposed (the columns of B). */
  rootB: Uint8Array;
}

/** Network constants of PoUW (the lead moves the defaults into core/params). */
export interface PouwParams {
  /** Rank r of the noise, also the slice width along k; a multiple of 16, at most 64. */
  rank: number;
  /** Smallest and largest k a job may have (r must divide k). */
  kMin: number;
  kMax: number;
  /** Largest m and n a job may have. */
  maxRows: number;
  maxCols: number;
}

/** A 16x16 output tile, by tile coordinates (rows 16*row.., columns 16*col..). */
export interface TileIndex {
  row: number;
  col: number;
}

/** Low-rank noise E = S * V for some rows: S selects (0/1) rows of V, whose entries are +-1. */
export interface NoiseFactors {
  rank: number;
  /** rows x rank/8 bytes; bit q of a row (LSB first) is S[row][q]. */
  selectors: Uint8Array;
  /** rank x k entries of V, each +1 or -1. */
  signs: Int8Array;
}

/** The opening of one tile: the rows of A and columns of B it needs, with their Merkle paths. */
export interface TileOpening {
  tile: TileIndex;
  /** Rows 16*tile.row .. of A (h of them, each k entries). */
  rowsA: Int8Array[];
  pathsA: Uint8Array[][];
  /** Columns 16*tile.col .. of B (w of them, each k entries). */
  colsB: Int8Array[];
  pathsB: Uint8Array[][];
}

/** A winning tile as a block carries it. */
export interface TileProof extends TileOpening {
  /** The tile's 64-byte transcript. */
  transcript: Uint8Array;
  /** sha256 of the transcript. */
  ticket: Uint8Array;
}

/** One entry of the delivered product with the data to recompute it, for a fraud proof. */
export interface FraudProof {
  row: number;
  col: number;
  rowA: Int8Array;
  pathA: Uint8Array[];
  colB: Int8Array;
  pathB: Uint8Array[];
  /** The 16-entry chunk of row `row` of C holding the claimed entry (entries past n are 0). */
  chunkC: Int32Array;
  /** Path of the chunk inside its row's tree, then path of the row root in the product tree. */
  chunkPath: Uint8Array[];
  rowPath: Uint8Array[];
}

export type PouwErrorCode =
  | 'dims-invalid'
  | 'k-below-min'
  | 'k-above-max'
  | 'rank-invalid'
  | 'rank-not-dividing-k'
  | 'entry-out-of-range'
  | 'length-mismatch'
  | 'tile-outside-job'
  | 'bad-path'
  | 'transcript-mismatch'
  | 'ticket-mismatch'
  | 'target-not-met'
  | 'entry-correct';

export interface PouwError {
  code: PouwErrorCode;
  message: string;
}

export type PouwResult<T> = { ok: true; value: T } | { ok: false; error: PouwError };

export function pouwFail<T>(code: PouwErrorCode, message: string): PouwResult<T> {
  return { ok: false, error: { code, message } };
}
